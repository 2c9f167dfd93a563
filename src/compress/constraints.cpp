#include "xbarsweep/compress/constraints.hpp"

#include <ATen/ATen.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <queue>
#include <utility>

#include "xbarsweep/error.hpp"

namespace xbarsweep::compress {

namespace {

// Scale returned when every selected weight is zero: the error s^2 * sum(shape[0]^2) has no
// minimiser over s > 0, so take a scale whose levels are negligible but representable in float.
constexpr double kTinyScale = 1e-30;

void check_matrix(const at::Tensor& w, const char* what) {
  XBARSWEEP_THROW_IF(!w.defined() || w.dim() != 2, CompressError,
                     std::string(what) + ": expects a 2-D (out x in) matrix");
}

std::int64_t ceil_div(std::int64_t a, std::int64_t b) { return (a + b - 1) / b; }

// Bool tensor over the units: true for the k largest scores, ties to the lower index.
at::Tensor top_k_units(const at::Tensor& scores, std::int64_t k) {
  auto keep = at::zeros({scores.numel()}, scores.options().dtype(at::kBool));
  if (k <= 0) return keep;
  if (k >= scores.numel()) return keep.fill_(true);
  const auto order = std::get<1>(at::sort(scores, /*stable=*/true, /*dim=*/0, /*descending=*/true));
  keep.index_fill_(0, order.slice(0, 0, k), true);
  return keep;
}

// Sum of an element-wise score (rows x cols) over the units of spec, as a 1-D tensor.
at::Tensor unit_sums(const at::Tensor& x, const PruneSpec& spec) {
  const auto rows = x.size(0);
  const auto cols = x.size(1);
  switch (spec.kind) {
    case PruneKind::block: {
      const auto bo = spec.block.out;
      const auto bi = spec.block.in;
      const auto nbo = ceil_div(rows, bo);
      const auto nbi = ceil_div(cols, bi);
      // Padding with zeros: padded cells add nothing to a block's score.
      auto padded = at::constant_pad_nd(x, {0, nbi * bi - cols, 0, nbo * bo - rows}, 0.0);
      return padded.reshape({nbo, bo, nbi, bi}).sum({1, 3}).reshape({-1});
    }
    case PruneKind::column:
      return x.sum(0);
    case PruneKind::row:
      return x.sum(1);
    case PruneKind::irregular:
    case PruneKind::none:
      return x.reshape({-1});
  }
  return {};
}

void check_spec(const PruneSpec& spec) {
  XBARSWEEP_THROW_IF(spec.kind == PruneKind::block && (spec.block.out <= 0 || spec.block.in <= 0),
                     CompressError, "block shape must be positive");
}

at::Tensor shape_tensor(const LevelSet& levels) {
  return at::tensor(levels.shape, at::TensorOptions().dtype(at::kDouble));
}

void check_levels(const LevelSet& levels) {
  XBARSWEEP_THROW_IF(levels.shape.empty(), CompressError, "level set has no levels");
  XBARSWEEP_THROW_IF(!(levels.shape.front() > 0.0), CompressError, "level magnitudes must be positive");
  for (std::size_t j = 1; j < levels.shape.size(); ++j) {
    XBARSWEEP_THROW_IF(!(levels.shape[j] > levels.shape[j - 1]), CompressError,
                       "level magnitudes must increase strictly");
  }
}

// Index of the nearest magnitude of each |w|/scale (double tensor).
at::Tensor nearest_magnitude_index(const at::Tensor& a_over_s, const LevelSet& levels) {
  if (levels.shape.size() == 1) return at::zeros_like(a_over_s, at::kLong);
  std::vector<double> mids(levels.shape.size() - 1);
  for (std::size_t j = 0; j + 1 < levels.shape.size(); ++j) {
    mids[j] = 0.5 * (levels.shape[j] + levels.shape[j + 1]);
  }
  const auto boundaries = at::tensor(mids, at::TensorOptions().dtype(at::kDouble));
  return at::bucketize(a_over_s, boundaries.to(a_over_s.device()));
}

// |Q(a)| in double for a = |w| (double).
at::Tensor quantized_magnitude(const at::Tensor& a, const LevelSet& levels, double scale) {
  const auto shape = shape_tensor(levels).to(a.device());
  const auto idx = nearest_magnitude_index(a / scale, levels);
  return shape.index({idx}) * scale;
}

// Exact minimiser of f(s) = sum_i min_j (a_i - s l_j)^2 by a sweep over its quadratic pieces.
double exact_scale(std::vector<double> a, const std::vector<double>& l) {
  const auto n = l.size();
  const auto m = a.size();
  std::sort(a.begin(), a.end());
  double s0 = 0.0;
  double sum_a = 0.0;
  for (double v : a) {
    s0 += v * v;
    sum_a += v;
  }
  if (sum_a <= 0.0) return kTinyScale;
  // As s grows from 0+, each a_i moves from the largest magnitude down: from l[j+1] to l[j] at
  // s = a_i / mid_j, mid_j = (l[j] + l[j+1]) / 2. With a sorted, breakpoints of one j are sorted;
  // a heap merges the n-1 lists.
  double s1 = l[n - 1] * sum_a;
  double s2 = static_cast<double>(m) * l[n - 1] * l[n - 1];
  double best_s = 0.0;
  double best_f = INFINITY;
  auto consider = [&](double lo, double hi) {
    double s = s1 / s2;
    s = std::max(lo, std::min(hi, s));
    if (!(s > 0.0)) return;
    const double f = s0 - 2.0 * s * s1 + s * s * s2;
    if (f < best_f) {
      best_f = f;
      best_s = s;
    }
  };
  using Entry = std::pair<double, std::size_t>;  // (breakpoint, j)
  std::priority_queue<Entry, std::vector<Entry>, std::greater<>> heap;
  std::vector<std::size_t> next(n > 1 ? n - 1 : 0, 0);
  std::vector<double> mid(next.size());
  for (std::size_t j = 0; j < mid.size(); ++j) {
    mid[j] = 0.5 * (l[j] + l[j + 1]);
    if (m > 0) heap.emplace(a[0] / mid[j], j);
  }
  double lo = 0.0;
  while (!heap.empty()) {
    const auto [b, j] = heap.top();
    heap.pop();
    consider(lo, b);
    const double ai = a[next[j]];
    s1 += ai * (l[j] - l[j + 1]);
    s2 += l[j] * l[j] - l[j + 1] * l[j + 1];
    lo = b;
    if (++next[j] < m) heap.emplace(a[next[j]] / mid[j], j);
  }
  consider(lo, INFINITY);
  return best_s > 0.0 ? best_s : kTinyScale;
}

// Scan then Lloyd refinement (assignment, least-squares refit): for very large layers.
double searched_scale(const at::Tensor& a, const LevelSet& levels) {
  const double amax = a.max().item<double>();
  if (amax <= 0.0) return kTinyScale;
  const auto shape = shape_tensor(levels).to(a.device());
  auto error = [&](double s) { return (a - quantized_magnitude(a, levels, s)).pow(2).sum().item<double>(); };
  const double centre = amax / levels.shape.back();
  double best_s = centre;
  double best_f = error(centre);
  constexpr int kScan = 64;
  for (int i = 0; i < kScan; ++i) {
    const double s = centre * (0.25 + 1.0 * i / (kScan - 1));
    const double f = error(s);
    if (f < best_f) {
      best_f = f;
      best_s = s;
    }
  }
  for (int it = 0; it < 50; ++it) {
    const auto l = shape.index({nearest_magnitude_index(a / best_s, levels)});
    const double s = (a * l).sum().item<double>() / (l * l).sum().item<double>();
    const double f = error(s);
    if (!(f < best_f)) break;
    best_f = f;
    best_s = s;
  }
  return best_s;
}

}  // namespace

std::int64_t Keep::resolve(std::int64_t total) const {
  XBARSWEEP_THROW_IF(total < 0, CompressError, "negative unit count");
  if (count >= 0) return std::min(count, total);
  XBARSWEEP_THROW_IF(!(ratio >= 0.0 && ratio <= 1.0), CompressError,
                     "keep ratio must be in [0, 1], got " + std::to_string(ratio));
  auto k = static_cast<std::int64_t>(std::llround(ratio * static_cast<double>(total)));
  if (ratio > 0.0 && total > 0) k = std::max<std::int64_t>(k, 1);
  return std::min(k, total);
}

std::string to_string(PruneKind kind) {
  switch (kind) {
    case PruneKind::none:
      return "none";
    case PruneKind::block:
      return "block";
    case PruneKind::column:
      return "column";
    case PruneKind::row:
      return "row";
    case PruneKind::irregular:
      return "irregular";
  }
  return "?";
}

PruneKind prune_kind_from_string(const std::string& name) {
  for (auto k :
       {PruneKind::none, PruneKind::block, PruneKind::column, PruneKind::row, PruneKind::irregular}) {
    if (to_string(k) == name) return k;
  }
  XBARSWEEP_THROW_IF(true, CompressError,
                     "unknown pruning kind '" + name + "' (expected none, block, column, row or irregular)");
}

LevelSet LevelSet::uniform(std::int64_t levels) {
  XBARSWEEP_THROW_IF(levels < 2 || levels % 2 != 0, CompressError,
                     "levels must be even and >= 2 (2n levels ±q..±nq), got " + std::to_string(levels));
  LevelSet set;
  for (std::int64_t j = 1; j <= levels / 2; ++j) set.shape.push_back(static_cast<double>(j));
  return set;
}

LevelSet LevelSet::from_device(const DeviceStates& device) {
  XBARSWEEP_THROW_IF(device.states < 2, CompressError, "a device needs at least 2 states");
  std::vector<double> means = device.state_means;
  if (means.empty()) {
    XBARSWEEP_THROW_IF(!(device.g_max > device.g_min) || device.g_min < 0.0, CompressError,
                       "conductance range needs 0 <= g_min < g_max");
    for (int k = 0; k < device.states; ++k) {
      means.push_back(device.g_min + (device.g_max - device.g_min) * k / (device.states - 1));
    }
  }
  XBARSWEEP_THROW_IF(static_cast<int>(means.size()) != device.states, CompressError,
                     "state_means must have one mean per state");
  LevelSet set;
  const double unit = means[1] - means[0];
  XBARSWEEP_THROW_IF(!(unit > 0.0), CompressError, "state means must increase strictly");
  for (std::size_t k = 1; k < means.size(); ++k) set.shape.push_back((means[k] - means[0]) / unit);
  check_levels(set);
  return set;
}

int LevelSet::bits() const {
  int b = 1;
  while ((std::int64_t{1} << b) < levels()) ++b;
  return b;
}

std::int64_t unit_count(std::int64_t rows, std::int64_t cols, const PruneSpec& spec) {
  switch (spec.kind) {
    case PruneKind::block:
      return ceil_div(rows, spec.block.out) * ceil_div(cols, spec.block.in);
    case PruneKind::column:
      return cols;
    case PruneKind::row:
      return rows;
    case PruneKind::irregular:
    case PruneKind::none:
      return rows * cols;
  }
  return 0;
}

at::Tensor unit_scores(const at::Tensor& w, const PruneSpec& spec) {
  check_matrix(w, "unit_scores");
  check_spec(spec);
  return unit_sums(w.to(at::kDouble).pow(2), spec);
}

at::Tensor expand_unit_mask(const at::Tensor& unit_keep, const at::Tensor& shape_of, const PruneSpec& spec) {
  const auto rows = shape_of.size(0);
  const auto cols = shape_of.size(1);
  switch (spec.kind) {
    case PruneKind::block: {
      const auto nbo = ceil_div(rows, spec.block.out);
      const auto nbi = ceil_div(cols, spec.block.in);
      return unit_keep.reshape({nbo, nbi})
          .repeat_interleave(spec.block.out, 0)
          .repeat_interleave(spec.block.in, 1)
          .slice(0, 0, rows)
          .slice(1, 0, cols)
          .contiguous();
    }
    case PruneKind::column:
      return unit_keep.reshape({1, cols}).expand({rows, cols}).contiguous();
    case PruneKind::row:
      return unit_keep.reshape({rows, 1}).expand({rows, cols}).contiguous();
    case PruneKind::irregular:
    case PruneKind::none:
      return unit_keep.reshape({rows, cols}).clone();
  }
  return {};
}

namespace {
Projection project_structure(const at::Tensor& w, const PruneSpec& spec, const char* what) {
  check_matrix(w, what);
  check_spec(spec);
  const auto scores = unit_sums(w.to(at::kDouble).pow(2), spec);
  const auto k = spec.keep.resolve(scores.numel());
  const auto mask = expand_unit_mask(top_k_units(scores, k), w, spec);
  return {w.masked_fill(mask.logical_not(), 0), mask, 0.0};
}
}  // namespace

Projection project_blocks(const at::Tensor& w, BlockShape block, const Keep& keep) {
  return project_structure(w, PruneSpec{PruneKind::block, keep, block}, "project_blocks");
}
Projection project_columns(const at::Tensor& w, const Keep& keep) {
  return project_structure(w, PruneSpec{PruneKind::column, keep, {}}, "project_columns");
}
Projection project_rows(const at::Tensor& w, const Keep& keep) {
  return project_structure(w, PruneSpec{PruneKind::row, keep, {}}, "project_rows");
}
Projection project_irregular(const at::Tensor& w, const Keep& keep) {
  return project_structure(w, PruneSpec{PruneKind::irregular, keep, {}}, "project_irregular");
}

Projection project_prune(const at::Tensor& w, const PruneSpec& spec) {
  if (spec.kind == PruneKind::none) {
    check_matrix(w, "project_prune");
    return {w.clone(), at::ones(w.sizes(), w.options().dtype(at::kBool)), 0.0};
  }
  return project_structure(w, spec, "project_prune");
}

at::Tensor quantize_to_levels(const at::Tensor& w, const LevelSet& levels, double scale) {
  check_levels(levels);
  XBARSWEEP_THROW_IF(!(scale > 0.0), CompressError, "quantization scale must be positive");
  const auto wd = w.to(at::kDouble);
  const auto mag = quantized_magnitude(wd.abs(), levels, scale);
  return at::where(wd < 0, -mag, mag).to(w.scalar_type());
}

double optimal_scale(const at::Tensor& w, const at::Tensor& mask, const LevelSet& levels,
                     std::int64_t max_breakpoints) {
  check_levels(levels);
  auto a = w.detach().to(at::kDouble).abs().reshape({-1});
  if (mask.defined()) a = a.masked_select(mask.reshape({-1}).to(a.device()));
  if (a.numel() == 0) return 1.0;
  const auto breakpoints = a.numel() * (levels.magnitudes() - 1);
  if (breakpoints > max_breakpoints) return searched_scale(a, levels);
  a = a.cpu().contiguous();
  std::vector<double> values(a.data_ptr<double>(), a.data_ptr<double>() + a.numel());
  return exact_scale(std::move(values), levels.shape);
}

Projection project_levels(const at::Tensor& w, const LevelSet& levels, std::optional<double> scale) {
  check_matrix(w, "project_levels");
  const double s = scale ? *scale : optimal_scale(w, {}, levels);
  return {quantize_to_levels(w, levels, s), at::ones(w.sizes(), w.options().dtype(at::kBool)), s};
}

Projection project_levels_masked(const at::Tensor& w, const at::Tensor& mask, const LevelSet& levels,
                                 std::optional<double> scale) {
  check_matrix(w, "project_levels_masked");
  XBARSWEEP_THROW_IF(!mask.defined() || mask.sizes() != w.sizes(), CompressError,
                     "mask must have the matrix's shape");
  const auto m = mask.to(at::kBool);
  const double s = scale ? *scale : optimal_scale(w, m, levels);
  return {quantize_to_levels(w, levels, s).masked_fill(m.logical_not(), 0), m, s};
}

Projection prune_then_quantize(const at::Tensor& w, const PruneSpec& prune, const LevelSet& levels) {
  const auto pruned = project_prune(w, prune);
  return project_levels_masked(w, pruned.mask, levels);
}

Projection project_pruned_levels(const at::Tensor& w, const PruneSpec& prune, const LevelSet& levels,
                                 std::optional<double> scale) {
  check_matrix(w, "project_pruned_levels");
  check_spec(prune);
  if (prune.kind == PruneKind::none) return project_levels(w, levels, scale);
  const double s = scale ? *scale : optimal_scale(w, project_prune(w, prune).mask, levels);
  const auto wd = w.to(at::kDouble);
  const auto a = wd.abs();
  const auto qa = quantized_magnitude(a, levels, s);
  // Error saved by keeping an entry on its level rather than zeroing it.
  const auto gain = unit_sums(a.pow(2) - (a - qa).pow(2), prune);
  const auto k = prune.keep.resolve(gain.numel());
  const auto keep = top_k_units(gain, k).logical_and(gain > 0);
  const auto mask = expand_unit_mask(keep, w, prune);
  const auto q = at::where(wd < 0, -qa, qa).to(w.scalar_type());
  return {q.masked_fill(mask.logical_not(), 0), mask, s};
}

}  // namespace xbarsweep::compress
