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
  /// Reads what an earlier run of the point saved, if anything.
  explicit Resumable(PointCheckpoint checkpoint);

  /// The state an earlier, interrupted run saved; nullptr when the point starts afresh.
  const nn::TensorState* saved() const { return saved_ ? &*saved_ : nullptr; }
  const std::string& origin() const { return checkpoint_.path(); }

  /// A TrainHooks::boundary: when the checkpoint is due, saves the training loop's state with
  /// what \p extra adds beside it (the kind's own progress: which stage, ADMM variables).
  std::function<void(const nn::StateSaver&, bool)> boundary(std::function<void(nn::TensorState&)> extra = {});

  /// Saves what \p write writes when the checkpoint is due (PointCheckpoint::due).
  void save_if_due(const std::function<void(nn::TensorState&)>& write, bool epoch_end = true);

  /// Saves what \p write writes now, due or not (the end of a phase worth keeping).
  void save(const std::function<void(nn::TensorState&)>& write);

  /// Removes the checkpoint (its work is now saved elsewhere: a cache entry).
  void remove() const { checkpoint_.remove(); }

  /// Forgets the saved state (a stage that has used it), so that later stages start afresh.
  void consume() { saved_.reset(); }

 private:
  PointCheckpoint checkpoint_;
  std::optional<nn::TensorState> saved_;
};

}  // namespace xbarsweep::kinds
