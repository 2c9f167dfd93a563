#pragma once
/// \file
/// \brief ADMM state of a model (scaled form, Boyd et al. 2011 section 3.1.1): per constrained
/// layer one or two (Z, U, rho) pairs. The caller's training loop is the W-step:
///
///     auto admm = AdmmState::init(model, spec);
///     for each ADMM iteration: for each batch:
///         loss.backward(); admm.add_penalty_gradients(); optimizer.step();
///       admm.update();   // Z-step, U-step, rho growth; residuals logged per layer
///
/// Penalty: sum over pairs rho/2 ||W - Z + U||_F^2, gradient rho (W - Z + U).

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <string>
#include <vector>

#include "xbarsweep/compress/layers.hpp"
#include "xbarsweep/compress/masks.hpp"
#include "xbarsweep/compress/spec.hpp"

namespace torch::nn {
class Module;
}

namespace xbarsweep::compress {

/// \brief Which constraint set a pair projects onto.
enum class AdmmSet {
  prune,     ///< the pruning set
  quantize,  ///< nonzero levels (on the fixed mask, or on the same layer's prune-pair support)
  joint,     ///< the intersection, by project_pruned_levels
};
std::string to_string(AdmmSet set);

/// \brief One (Z, U, rho) pair with its residual curves, one entry per update().
struct AdmmPair {
  AdmmSet set = AdmmSet::prune;
  at::Tensor z;  ///< the weight's shape
  at::Tensor u;
  at::Tensor mask;  ///< Z's support (bool)
  double rho = 0.0;
  double scale = 0.0;          ///< quantization scale of the last Z-step
  std::vector<double> primal;  ///< ||W - Z_new||_F after each update
  std::vector<double> dual;    ///< rho ||Z_new - Z_old||_F after each update
  std::vector<double> rhos;    ///< rho used in each iteration
};

/// \brief The ADMM variables of one layer.
struct AdmmLayer {
  CompressibleLayer layer;
  LayerSpec spec;
  std::vector<AdmmPair> pairs;
  at::Tensor fixed_mask;  ///< from an earlier pruning stage, or undefined
  at::Tensor offset;      ///< sum over pairs rho (U - Z): the gradient adds rho_sum W + offset
  double rho_sum = 0.0;
};

/// \brief Residuals of one pair after one update().
struct AdmmResidual {
  std::string layer;
  AdmmSet set = AdmmSet::prune;
  double primal = 0.0;  ///< ||W - Z||_F
  double dual = 0.0;    ///< rho ||Z - Z_prev||_F
  double rho = 0.0;     ///< rho of the iteration just finished
};

/// \brief ADMM over the compressible layers of one model.
class AdmmState {
 public:
  /// \brief Z = Proj(W), U = 0, rho = initial for every constrained layer of \p model (a layer
  /// whose spec compresses nothing is left out). \p fixed (sequential flow) holds each layer to
  /// an earlier pruning mask: its quantization projects onto "on levels on the mask, 0 off it".
  /// If \p rescale_dual, U is scaled by rho_old/rho_new when rho grows (Boyd section 3.4.1),
  /// keeping the unscaled dual rho*U unchanged.
  static AdmmState init(torch::nn::Module& model, const CompressionSpec& spec, const MaskSet* fixed = nullptr,
                        bool rescale_dual = true);

  /// \brief grad += sum over pairs rho (W - Z + U) for every constrained layer; call after
  /// loss.backward(), before optimizer.step(). \throws CompressError if a grad is undefined.
  void add_penalty_gradients();
  /// \brief sum over layers and pairs of rho/2 ||W - Z + U||_F^2, for logging.
  double penalty() const;
  /// \brief Z-step (Z = Proj(W + U)), U-step (U += W - Z), rho growth; one residual per pair.
  std::vector<AdmmResidual> update();

  /// \brief Writes every pair's Z, U, mask, rho, scale and curves under \p prefix.
  void save(TensorMap& out, const std::string& prefix) const;
  /// \brief Replaces them with what save() wrote for a state of the same model and spec (init
  /// first, then restore). \throws CompressError naming the key that is missing or misshapen.
  void restore(const TensorMap& in, const std::string& prefix);
  /// \brief The residuals of every update() so far, as update() returned them.
  std::vector<std::vector<AdmmResidual>> residual_history() const;

  const std::vector<AdmmLayer>& layers() const { return layers_; }
  std::int64_t iterations() const { return iterations_; }
  /// \brief max over pairs of ||W - Z||_F / max(||W||_F, tiny), now (not the logged value).
  double max_relative_residual() const;

 private:
  void refresh_offsets();
  std::vector<AdmmLayer> layers_;
  std::int64_t iterations_ = 0;
  bool rescale_dual_ = true;
};

}  // namespace xbarsweep::compress
