#pragma once
/// \file
/// \brief Storage and crossbar accounting of a compressed model (definitions in docs/compress.md).
///
/// compression_ratio            = 32 * dense weights / sum_l kept_l * bits_l
/// compression_ratio_with_index = 32 * dense weights / sum_l (kept_l * bits_l + index_bits_l)
/// over the compressible layers only (biases and normalisation parameters are not counted).

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <string>
#include <vector>

#include "xbarsweep/compress/spec.hpp"

namespace torch::nn {
class Module;
}

namespace xbarsweep::compress {

/// \brief How sparse structure is stored.
struct AccountingOptions {
  /// Irregular pruning: bits of the relative index of each kept weight (distance to the previous
  /// kept weight, row-major); a gap over 2^bits costs filler entries (Han et al., Deep Compression).
  int relative_index_bits = 4;
};

/// \brief One layer's storage. Crossbars are tiles of spec.prune.block (the crossbar's block).
struct LayerAccount {
  std::string name;
  PruneKind structure = PruneKind::none;
  std::int64_t rows = 0, cols = 0;
  std::int64_t dense_weights = 0;
  std::int64_t kept_weights = 0;    ///< nonzero weights (all, when not pruned)
  std::int64_t blocks_total = 0;    ///< crossbar tiles of the dense matrix
  std::int64_t blocks_kept = 0;     ///< tiles with a nonzero weight: crossbars needed
  int bits_per_weight = 32;         ///< LevelSet::bits() when quantized
  std::int64_t filler_entries = 0;  ///< irregular: zero entries bridging long gaps
  double weight_bits = 0.0;         ///< kept * bits
  double index_bits = 0.0;          ///< see docs/compress.md
};

/// \brief Totals over layers.
struct CompressionAccount {
  std::vector<LayerAccount> layers;
  std::int64_t dense_weights = 0;
  std::int64_t kept_weights = 0;
  std::int64_t crossbars_total = 0;
  std::int64_t crossbars_kept = 0;
  double weight_bits = 0.0;
  double index_bits = 0.0;
  double compression_ratio = 0.0;
  double compression_ratio_with_index = 0.0;
};

/// \brief Accounts one (rows x cols) matrix \p w constrained by \p spec.
LayerAccount account_layer(const std::string& name, const at::Tensor& w, const LayerSpec& spec,
                           const AccountingOptions& options = {});
/// \brief Totals of a list of layers (ratios from the sums).
CompressionAccount total(std::vector<LayerAccount> layers);
/// \brief Accounts every compressible layer of \p model under \p spec.
CompressionAccount account_model(torch::nn::Module& model, const CompressionSpec& spec,
                                 const AccountingOptions& options = {});

}  // namespace xbarsweep::compress
