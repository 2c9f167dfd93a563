#pragma once
/// \file
/// \brief Masked mapping and masked retraining: the hard projection of a model onto its
/// constraint sets, and the masks that keep it there through training.
///
/// Retraining recipe, per batch: loss.backward(); masks.apply_masks_to_grads();
/// optimizer.step(); masks.after_step(optimizer). Pruned weights are then exactly 0.0 and
/// quantized weights exactly on their levels after every step, whatever the optimiser's
/// momentum or weight decay did: quantization is held by projection after each step (not a
/// straight-through estimator), with each layer's scale fixed at the hard projection.

#include <ATen/core/Tensor.h>

#include <optional>
#include <string>
#include <vector>

#include "xbarsweep/compress/layers.hpp"
#include "xbarsweep/compress/spec.hpp"

namespace torch::nn {
class Module;
}
namespace torch::optim {
class Optimizer;
}

namespace xbarsweep::compress {

/// \brief The mask and level set of one layer.
struct LayerMask {
  CompressibleLayer layer;
  LayerSpec spec;
  at::Tensor mask;                 ///< bool, the weight's own shape; true = kept
  std::optional<LevelSet> levels;  ///< kept weights sit on ±scale*levels->shape
  double scale = 0.0;
};

/// \brief Masks of every constrained layer of one model.
class MaskSet {
 public:
  /// \brief Projects the compressible weights of \p model in place onto their sets under
  /// \p spec and records the masks. Both pruning and levels: project_pruned_levels when
  /// joint_exact, else prune_then_quantize. \p previous (the sequential flow: an earlier pruning
  /// stage) restricts every layer to its earlier mask first.
  static MaskSet hard_project(torch::nn::Module& model, const CompressionSpec& spec,
                              const MaskSet* previous = nullptr);

  /// \brief Writes every layer's mask and scale under \p prefix (for a checkpoint).
  void save(TensorMap& out, const std::string& prefix) const;
  /// \brief The masks that hard_project(model, spec, previous) recorded and save() saved, without
  /// projecting again (the weights have moved on since). \throws CompressError naming the key
  /// when \p in lacks a layer or holds another shape.
  static MaskSet restore(torch::nn::Module& model, const CompressionSpec& spec, const MaskSet* previous,
                         const TensorMap& in, const std::string& prefix);

  /// \brief grad = grad * mask for every masked layer (no-op where a grad is undefined).
  void apply_masks_to_grads() const;
  /// \brief Re-applies the masks and levels to the weights (pruned -> 0, kept -> nearest level).
  void enforce_weights() const;
  /// \brief Zeros the optimiser state of pruned weights: SGD momentum buffers, Adam/AdamW
  /// moments. \throws CompressError for another optimiser holding state for a masked weight.
  void mask_optimizer_state(torch::optim::Optimizer& optimizer) const;
  /// \brief enforce_weights() then mask_optimizer_state(): call after every optimizer.step().
  void after_step(torch::optim::Optimizer& optimizer) const;
  /// \brief Pruned weights -> 0, kept weights clipped to the top level (+-scale * the largest
  /// level) but otherwise where the step put them: the latent weights of a straight-through
  /// retraining, whose forward pass quantizes by itself.
  void enforce_masks() const;
  /// \brief enforce_masks() then mask_optimizer_state().
  void after_step_straight_through(torch::optim::Optimizer& optimizer) const;

  /// \brief True when every pruned weight is exactly 0 and every kept quantized weight is
  /// bitwise on its level; \p why, when given, names the first offending layer.
  bool holds(std::string* why = nullptr) const;

  const std::vector<LayerMask>& layers() const { return layers_; }
  /// \brief The mask of layer \p name, or nullptr.
  const LayerMask* find(const std::string& name) const;

 private:
  std::vector<LayerMask> layers_;
};

}  // namespace xbarsweep::compress
