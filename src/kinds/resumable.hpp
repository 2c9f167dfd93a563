#pragma once
// Internal to the kinds: a point's checkpoint (kinds/checkpoint.hpp) holding an nn::TensorState,
// and the TrainHooks::boundary that fills it when it is due.
#include <functional>
#include <optional>
#include <string>

#include "xbarsweep/kinds/kind.hpp"
#include "xbarsweep/nn/state.hpp"
#include "xbarsweep/nn/training.hpp"

namespace xbarsweep::kinds {

class Resumable {
 public:
  /// Reads what an earlier run of the point saved, if anything. \p format names what the state
  /// holds ("train/1": the kind and the version of its keys; change the version when they
  /// change): a state of another format, or one that does not decode, is set aside and the
  /// point starts over.
  Resumable(PointCheckpoint checkpoint, std::string format, const PointContext& context);

  /// The state an earlier, interrupted run saved; nullptr when the point starts afresh.
  const nn::TensorState* saved() const { return saved_ ? &*saved_ : nullptr; }
  const std::string& origin() const { return checkpoint_.path(); }

  /// A TrainHooks::boundary: when the checkpoint is due, saves the training loop's state with
  /// what \p extra adds beside it (the kind's own progress: which stage, ADMM variables).
  std::function<void(const nn::StateSaver&, bool)> boundary(std::function<void(nn::TensorState&)> extra = {});

  /// Saves what \p write writes when the checkpoint is due (PointCheckpoint::due).
  void save_if_due(const std::function<void(nn::TensorState&)>& write, bool epoch_end = true);

  /// Saves what \p write writes now, due or not (the end of a phase worth keeping). A failed
  /// write (a full disk) is reported and training goes on: checkpoints only save time.
  void save(const std::function<void(nn::TensorState&)>& write);

 private:
  PointCheckpoint checkpoint_;
  std::string format_;
  const PointContext& context_;
  std::optional<nn::TensorState> saved_;
};

}  // namespace xbarsweep::kinds
