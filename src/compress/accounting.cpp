#include "xbarsweep/compress/accounting.hpp"

#include <ATen/ATen.h>

#include <cmath>

#include "xbarsweep/error.hpp"

namespace xbarsweep::compress {

namespace {
// Bits to name one of n things (0 when there is only one).
int index_width(std::int64_t n) {
  int b = 0;
  while ((std::int64_t{1} << b) < n) ++b;
  return b;
}
}  // namespace

LayerAccount account_layer(const std::string& name, const at::Tensor& w, const LayerSpec& spec,
                           const AccountingOptions& options) {
  XBARSWEEP_THROW_IF(!w.defined() || w.dim() != 2, CompressError, name + ": expects a 2-D matrix");
  XBARSWEEP_THROW_IF(options.relative_index_bits < 1 || options.relative_index_bits > 32, CompressError,
                     "relative_index_bits must be in [1, 32]");
  LayerAccount a;
  a.name = name;
  a.structure = spec.prune.kind;
  a.rows = w.size(0);
  a.cols = w.size(1);
  a.dense_weights = a.rows * a.cols;
  const auto nonzero = (w != 0);
  a.kept_weights = spec.prune.kind == PruneKind::none ? a.dense_weights : nonzero.sum().item<std::int64_t>();
  const PruneSpec tiles{PruneKind::block, {}, spec.prune.block};
  a.blocks_total = unit_count(a.rows, a.cols, tiles);
  a.blocks_kept = spec.prune.kind == PruneKind::none
                      ? a.blocks_total
                      : (unit_scores(nonzero.to(at::kDouble), tiles) > 0).sum().item<std::int64_t>();
  a.bits_per_weight = spec.levels ? spec.levels->bits() : 32;
  switch (spec.prune.kind) {
    case PruneKind::none:
      a.index_bits = 0.0;
      break;
    case PruneKind::block:
      a.index_bits = static_cast<double>(a.blocks_kept) * index_width(a.blocks_total);
      break;
    case PruneKind::column:
      a.index_bits = static_cast<double>(a.cols);
      break;
    case PruneKind::row:
      a.index_bits = static_cast<double>(a.rows);
      break;
    case PruneKind::irregular: {
      const auto positions = nonzero.reshape({-1}).nonzero().reshape({-1}).cpu().contiguous();
      const auto* pos = positions.data_ptr<std::int64_t>();
      const std::int64_t span = std::int64_t{1} << options.relative_index_bits;
      std::int64_t prev = -1;
      for (std::int64_t i = 0; i < positions.numel(); ++i) {
        const auto gap = pos[i] - prev;        // >= 1
        a.filler_entries += (gap - 1) / span;  // ceil(gap / span) - 1
        prev = pos[i];
      }
      a.index_bits = static_cast<double>(a.kept_weights + a.filler_entries) * options.relative_index_bits +
                     static_cast<double>(a.filler_entries) * a.bits_per_weight;
      break;
    }
  }
  a.weight_bits = static_cast<double>(a.kept_weights) * a.bits_per_weight;
  return a;
}

CompressionAccount total(std::vector<LayerAccount> layers) {
  CompressionAccount t;
  for (const auto& l : layers) {
    t.dense_weights += l.dense_weights;
    t.kept_weights += l.kept_weights;
    t.crossbars_total += l.blocks_total;
    t.crossbars_kept += l.blocks_kept;
    t.weight_bits += l.weight_bits;
    t.index_bits += l.index_bits;
  }
  const double dense_bits = 32.0 * static_cast<double>(t.dense_weights);
  t.compression_ratio = t.weight_bits > 0 ? dense_bits / t.weight_bits : INFINITY;
  t.compression_ratio_with_index =
      t.weight_bits + t.index_bits > 0 ? dense_bits / (t.weight_bits + t.index_bits) : INFINITY;
  t.layers = std::move(layers);
  return t;
}

}  // namespace xbarsweep::compress
