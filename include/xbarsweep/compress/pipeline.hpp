#pragma once
/// \file
/// \brief Paper A's procedure as one reusable function over any model and any training loop:
/// ADMM, hard projection (masked mapping), masked retraining; joint or sequential.

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "xbarsweep/compress/accounting.hpp"
#include "xbarsweep/compress/admm.hpp"
#include "xbarsweep/compress/masks.hpp"
#include "xbarsweep/compress/spec.hpp"

namespace torch::nn {
class Module;
}
namespace torch::optim {
class Optimizer;
}

namespace xbarsweep::compress {

/// \brief Writes the pipeline's state (stage, epochs done, ADMM variables, masks, curves) into a
/// TensorMap under "pipeline.": with the model and the optimiser, all it needs to resume.
using PipelineSaver = std::function<void(TensorMap& out)>;

/// \brief What the caller's training loop calls around each optimiser step.
struct StepHooks {
  std::function<void()> before_step;                         ///< after backward(), before step()
  std::function<void(torch::optim::Optimizer&)> after_step;  ///< after step()
  /// The pipeline's state as of this epoch's start, for a checkpoint the caller writes mid-epoch
  /// (beside the model, the optimiser and its epoch's progress).
  PipelineSaver save_state;
};

/// \brief The caller's training: `train_epoch` runs one epoch over the training data calling the
/// hooks (either may be empty) around every optimiser step, keeping its optimiser across calls
/// or not, as it likes; `evaluate` (optional) returns the accuracy to record.
struct TrainingCallbacks {
  std::function<void(const StepHooks&)> train_epoch;
  std::function<double()> evaluate;
  /// Optional progress: stage ("admm", "retrain", "quantize_admm", "quantize_retrain"), index.
  std::function<void(const std::string&, std::int64_t)> progress;
  /// Optional, after every epoch and the ADMM update that follows it, and once more when done
  /// (\p last, after the final evaluation): the pipeline's state there, for a checkpoint (the
  /// caller adds the model and the optimiser, as at an epoch's start).
  std::function<void(const PipelineSaver& save, bool last)> boundary;
};

/// \brief The procedure.
struct PipelineConfig {
  CompressionSpec spec;  ///< joint: pruning and levels; sequential: the pruning stage
  /// Sequential flow (ADMM-NN): a levels-only spec run after the pruning stage, on its masks.
  std::optional<CompressionSpec> quantize_stage;
  std::int64_t admm_iterations = 10;
  std::int64_t epochs_per_iteration = 1;
  std::int64_t retrain_epochs = 2;
  bool rescale_dual = true;
  /// Masked retraining holds the levels straight-through instead of by projection after every
  /// step: kept weights stay latent (pruned ones at 0) and are projected onto their levels once,
  /// when the retraining stage ends. Only for a training forward pass that quantizes by itself
  /// (hardware-aware training onto the crossbar's levels): otherwise it would train unquantized.
  bool levels_straight_through = false;
  /// A state a PipelineSaver wrote during an earlier, interrupted run of the same config on the
  /// same model, whose weights (and optimiser) the caller has already restored: the pipeline
  /// continues from there and ends as the uninterrupted run would.
  const TensorMap* resume = nullptr;
};

/// \brief Where a saved pipeline state stands: stage ("admm", "retrain", "quantize_admm",
/// "quantize_retrain", "done") and the epochs of it done. \throws CompressError when \p state has none.
struct PipelinePosition {
  std::string stage;
  std::int64_t epochs = 0;
};
PipelinePosition pipeline_position(const TensorMap& state);

/// \brief What happened.
struct PipelineResult {
  /// residuals[stage][iteration] (stage 0 the main ADMM, 1 the sequential quantization ADMM).
  std::vector<std::vector<std::vector<AdmmResidual>>> residuals;
  double projected_accuracy = -1.0;  ///< after the (last) hard projection, before retraining
  double accuracy = -1.0;            ///< after the last retraining
  MaskSet masks;                     ///< the final masks (weights satisfy them)
  CompressionAccount account;        ///< of the final model, under the combined spec
};

/// \brief Runs ADMM, hard projection and masked retraining (twice in the sequential flow) on
/// \p model through \p training. \throws CompressError for a bad config.
PipelineResult run_admm_compression(torch::nn::Module& model, const TrainingCallbacks& training,
                                    const PipelineConfig& config);

}  // namespace xbarsweep::compress
