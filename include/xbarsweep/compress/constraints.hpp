#pragma once
/// \file
/// \brief Constraint sets on a layer's GEMM matrix and their exact Euclidean projections.
///
/// Orientation: a layer is the matrix W of shape (out, in), rows = outputs, columns = inputs
/// (torch's Linear weight; a Conv2d weight (out, in, kh, kw) is viewed as out x (in*kh*kw)).
/// A crossbar drives its rows (word lines) with the layer's inputs and sums currents on its
/// columns (bit lines), one per output, so a crossbar of xbar_rows x xbar_cols cells holds a
/// block of W of shape (block_out, block_in) = (xbar_cols, xbar_rows): BlockShape::of_crossbar.
///
/// Every projection here returns the projected matrix and the mask of its kept entries. Ties
/// (equal norms) are broken towards the lower index, so results are deterministic.

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace xbarsweep::compress {

/// \brief How many units (blocks, columns, rows or weights) of a layer survive pruning: either
/// a fraction of them (`ratio`, used when `count` < 0) or an absolute `count`.
struct Keep {
  double ratio = 1.0;       ///< in [0, 1]; k = round(ratio * total), at least 1 when ratio > 0
  std::int64_t count = -1;  ///< >= 0 overrides ratio; clamped to total

  static Keep fraction(double r) { return Keep{r, -1}; }
  static Keep units(std::int64_t n) { return Keep{1.0, n}; }
  /// \brief The number of units kept out of \p total. \throws CompressError for a bad ratio.
  std::int64_t resolve(std::int64_t total) const;
};

/// \brief Shape of a block of W, (outputs, inputs); edge blocks may be smaller.
struct BlockShape {
  std::int64_t out = 32;
  std::int64_t in = 32;
  /// \brief The block a crossbar of \p xbar_rows word lines x \p xbar_cols bit lines holds.
  static BlockShape of_crossbar(std::int64_t xbar_rows, std::int64_t xbar_cols) {
    return BlockShape{xbar_cols, xbar_rows};
  }
};

/// \brief The structure pruning keeps.
enum class PruneKind {
  none,       ///< dense
  block,      ///< crossbar blocks of BlockShape, by Frobenius norm
  column,     ///< columns (inputs), by L2 norm
  row,        ///< rows (outputs, conv filters), by L2 norm
  irregular,  ///< single weights, by magnitude (the unstructured baseline)
};
std::string to_string(PruneKind kind);
/// \brief Parses "none", "block", "column", "row", "irregular". \throws CompressError.
PruneKind prune_kind_from_string(const std::string& name);

/// \brief A pruning constraint set: at most keep.resolve(units) units of `kind` are nonzero.
struct PruneSpec {
  PruneKind kind = PruneKind::none;
  Keep keep;
  BlockShape block;  ///< used by PruneKind::block (and by accounting to count crossbars)
};

/// \brief Conductance range and states of one memristor (any unit, e.g. uS).
struct DeviceStates {
  double g_min = 0.1;  ///< 1 / 10 MOhm in uS (paper A's device range)
  double g_max = 1.0;  ///< 1 / 1 MOhm in uS
  int states = 16;     ///< programmable states, including g_min (4-bit cells)
  /// Measured mean conductance of each state, ascending, size `states`; empty: evenly spaced
  /// in [g_min, g_max]. Levels are the means of the states (paper A).
  std::vector<double> state_means;
};

/// \brief Symmetric quantization levels without a zero level: {±s*shape[0], ..., ±s*shape[n-1]},
/// with 0 < shape[0] < ... < shape[n-1] and a per-layer scale s > 0 chosen by the projection.
/// A level set with n magnitudes has `levels()` = 2n levels and needs ceil(log2(2n)) bits.
struct LevelSet {
  std::vector<double> shape;

  /// \brief {±1, ..., ±n}*q with 2n = \p levels (even, >= 2). \throws CompressError.
  static LevelSet uniform(std::int64_t levels);
  /// \brief Levels of a differential pair whose idle device sits at the lowest state: the weight
  /// magnitudes are mean_k - mean_0, k = 1..states-1 (state 0 would be the zero level),
  /// normalised so shape[0] = 1. Uniform states give LevelSet::uniform(2*(states-1)).
  /// \throws CompressError for fewer than 2 states, a bad range or non-increasing means.
  static LevelSet from_device(const DeviceStates& device);

  std::int64_t magnitudes() const { return static_cast<std::int64_t>(shape.size()); }
  std::int64_t levels() const { return 2 * magnitudes(); }
  /// \brief ceil(log2(levels())), at least 1.
  int bits() const;
};

/// \brief The result of a projection: the projected matrix (same shape and dtype as the input)
/// and its mask of kept (possibly nonzero) entries, a bool tensor of the same shape.
struct Projection {
  at::Tensor weight;
  at::Tensor mask;
  double scale = 0.0;  ///< the quantization scale s used (0 when not quantized)
};

/// \name Pruning projections (exact: onto the set of matrices with at most k nonzero units).
/// Each takes a 2-D matrix W (out x in) and \throws CompressError for another rank.
/// @{
Projection project_blocks(const at::Tensor& w, BlockShape block, const Keep& keep);
Projection project_columns(const at::Tensor& w, const Keep& keep);
Projection project_rows(const at::Tensor& w, const Keep& keep);
Projection project_irregular(const at::Tensor& w, const Keep& keep);
/// \brief Dispatches on spec.kind; PruneKind::none returns W with an all-true mask.
Projection project_prune(const at::Tensor& w, const PruneSpec& spec);
/// @}

/// \brief Per-unit squared norms of W for \p spec (blocks row-major over the block grid,
/// columns, rows or entries), as a 1-D double tensor; used by pruning and accounting.
at::Tensor unit_scores(const at::Tensor& w, const PruneSpec& spec);
/// \brief Expands a 1-D bool tensor over the units of \p spec to an element mask of \p shape_of.
at::Tensor expand_unit_mask(const at::Tensor& unit_keep, const at::Tensor& shape_of, const PruneSpec& spec);
/// \brief Number of units of a (rows x cols) matrix under \p spec.
std::int64_t unit_count(std::int64_t rows, std::int64_t cols, const PruneSpec& spec);

/// \name Quantization to a level set.
/// @{
/// \brief Nearest nonzero level of each entry for scale \p scale: the exact projection onto
/// {W : every W_ij in ±scale*shape}. Exact zeros go to +scale*shape[0].
at::Tensor quantize_to_levels(const at::Tensor& w, const LevelSet& levels, double scale);
/// \brief The scale s > 0 minimising sum_i min_j (|w_i| - s*shape_j)^2 over the entries of \p w
/// where \p mask is true (all entries when mask is undefined). Exact: the objective is a
/// piecewise quadratic in s whose pieces change where |w_i| = s*(shape_j + shape_j+1)/2; the
/// sweep visits every piece (O(m n log(m n)) for m weights, n magnitudes). Above
/// \p max_breakpoints it falls back to a scan of 64 scales in [0.25, 1.25]*max|w|/shape[n-1]
/// refined by alternating assignment and least-squares refit (monotone, not proven global).
/// Returns 1 when no entry is selected and max|w|-free fallbacks when all are zero.
double optimal_scale(const at::Tensor& w, const at::Tensor& mask, const LevelSet& levels,
                     std::int64_t max_breakpoints = std::int64_t{1} << 24);
/// \brief Exact projection onto {W : every entry a nonzero level}, scale from optimal_scale.
Projection project_levels(const at::Tensor& w, const LevelSet& levels,
                          std::optional<double> scale = std::nullopt);
/// \brief Exact projection onto {W : W = 0 off \p mask, W on a nonzero level on \p mask} for a
/// fixed mask ("quantize the survivors, zeros stay zero"); scale fitted on the masked entries
/// unless given.
Projection project_levels_masked(const at::Tensor& w, const at::Tensor& mask, const LevelSet& levels,
                                 std::optional<double> scale = std::nullopt);
/// @}

/// \name Joint pruning and quantization.
/// @{
/// \brief Prune (exact projection onto the pruning set), then quantize the survivors with the
/// scale fitted to them. A heuristic for the intersection set: see project_pruned_levels.
Projection prune_then_quantize(const at::Tensor& w, const PruneSpec& prune, const LevelSet& levels);
/// \brief The exact projection, for a fixed scale, onto the intersection
/// J = {W : at most k units nonzero; every entry of a kept unit on a nonzero level; 0 elsewhere}.
/// A unit's gain is sum_i |w_i|^2 - (|w_i| - Q(|w_i|))^2 (error saved by keeping it); the k
/// units of largest positive gain are kept. The scale, unless given, is optimal_scale over the
/// survivors of the plain pruning projection (so the scale, not the projection, is heuristic).
Projection project_pruned_levels(const at::Tensor& w, const PruneSpec& prune, const LevelSet& levels,
                                 std::optional<double> scale = std::nullopt);
/// @}

}  // namespace xbarsweep::compress
