// Every projection against brute force on small matrices: all subsets of units for pruning, all
// level assignments for the quantization scale, all subsets for the joint set at a fixed scale.
#include "xbarsweep/compress/constraints.hpp"

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <vector>

#include "xbarsweep/error.hpp"

namespace xc = xbarsweep::compress;

namespace {

at::Tensor random_matrix(std::int64_t rows, std::int64_t cols, std::uint64_t seed) {
  auto gen = at::make_generator<at::CPUGeneratorImpl>(seed);
  return at::randn({rows, cols}, gen, at::TensorOptions().dtype(at::kDouble));
}

// Unit id of every element under spec (row-major over the block grid for blocks).
std::vector<int> unit_ids(std::int64_t rows, std::int64_t cols, const xc::PruneSpec& spec) {
  std::vector<int> ids(rows * cols);
  const auto nbi = (cols + spec.block.in - 1) / spec.block.in;
  for (std::int64_t r = 0; r < rows; ++r) {
    for (std::int64_t c = 0; c < cols; ++c) {
      std::int64_t id = 0;
      switch (spec.kind) {
        case xc::PruneKind::block:
          id = (r / spec.block.out) * nbi + c / spec.block.in;
          break;
        case xc::PruneKind::column:
          id = c;
          break;
        case xc::PruneKind::row:
          id = r;
          break;
        default:
          id = r * cols + c;
      }
      ids[r * cols + c] = static_cast<int>(id);
    }
  }
  return ids;
}

// min over subsets of at most k units of sum(kept cost) + sum(dropped cost).
double brute_force_error(const std::vector<double>& keep_cost, const std::vector<double>& drop_cost,
                         const std::vector<int>& ids, int units, std::int64_t k) {
  double best = std::numeric_limits<double>::infinity();
  for (std::uint32_t subset = 0; subset < (1u << units); ++subset) {
    if (__builtin_popcount(subset) > k) continue;
    double e = 0.0;
    for (std::size_t i = 0; i < ids.size(); ++i) {
      e += ((subset >> ids[i]) & 1u) ? keep_cost[i] : drop_cost[i];
    }
    best = std::min(best, e);
  }
  return best;
}

std::vector<double> to_vector(const at::Tensor& t) {
  auto c = t.to(at::kDouble).contiguous().reshape({-1});
  return {c.data_ptr<double>(), c.data_ptr<double>() + c.numel()};
}

double sq_error(const at::Tensor& a, const at::Tensor& b) {
  return (a.to(at::kDouble) - b.to(at::kDouble)).pow(2).sum().item<double>();
}

// Units of spec with any nonzero entry in p.
std::int64_t nonzero_units(const at::Tensor& p, const xc::PruneSpec& spec) {
  return (xc::unit_scores(p, spec) > 0).sum().item<std::int64_t>();
}

struct Case {
  std::int64_t rows, cols;
  xc::PruneSpec spec;
};

std::vector<Case> pruning_cases() {
  using K = xc::PruneKind;
  return {
      {5, 7, {K::block, {}, {2, 3}}},   // 3 x 3 grid, partial edge blocks both ways
      {4, 6, {K::block, {}, {2, 3}}},   // exact tiling
      {7, 5, {K::block, {}, {4, 2}}},   // 2 x 3 grid
      {3, 11, {K::block, {}, {3, 4}}},  // one block row, partial last column of blocks
      {4, 9, {K::column, {}, {}}},     {9, 4, {K::row, {}, {}}}, {3, 4, {K::irregular, {}, {}}},
  };
}

}  // namespace

TEST(Keep, ResolvesRatiosAndCounts) {
  EXPECT_EQ(xc::Keep::fraction(0.25).resolve(8), 2);
  EXPECT_EQ(xc::Keep::fraction(0.01).resolve(8), 1);  // a positive ratio keeps at least one
  EXPECT_EQ(xc::Keep::fraction(0.0).resolve(8), 0);
  EXPECT_EQ(xc::Keep::units(3).resolve(8), 3);
  EXPECT_EQ(xc::Keep::units(30).resolve(8), 8);
  EXPECT_THROW(xc::Keep::fraction(1.5).resolve(8), xc::CompressError);
}

TEST(Pruning, MatchesBruteForceOverAllSubsets) {
  std::uint64_t seed = 1;
  for (const auto& c : pruning_cases()) {
    const auto units = xc::unit_count(c.rows, c.cols, c.spec);
    ASSERT_LE(units, 16);
    const auto ids = unit_ids(c.rows, c.cols, c.spec);
    for (int trial = 0; trial < 3; ++trial) {
      const auto w = random_matrix(c.rows, c.cols, seed++);
      const auto w2 = to_vector(w.pow(2));
      const std::vector<double> zero(w2.size(), 0.0);
      for (std::int64_t k = 0; k <= units; ++k) {
        auto spec = c.spec;
        spec.keep = xc::Keep::units(k);
        const auto p = xc::project_prune(w, spec);
        const double expected = brute_force_error(zero, w2, ids, static_cast<int>(units), k);
        const double got = sq_error(w, p.weight);
        EXPECT_NEAR(got, expected, 1e-12 * (1.0 + expected))
            << xc::to_string(spec.kind) << " " << c.rows << "x" << c.cols << " k=" << k;
        EXPECT_LE(nonzero_units(p.weight, spec), k);
        // Kept entries are untouched, the mask marks exactly them.
        EXPECT_TRUE(p.weight.masked_select(p.mask).equal(w.masked_select(p.mask)));
        EXPECT_EQ(p.mask.sizes(), w.sizes());
        // Idempotence.
        EXPECT_TRUE(xc::project_prune(p.weight, spec).weight.equal(p.weight));
      }
    }
  }
}

TEST(Pruning, NamedEntryPointsAgreeWithDispatch) {
  const auto w = random_matrix(6, 10, 42);
  const auto keep = xc::Keep::fraction(0.5);
  EXPECT_TRUE(xc::project_blocks(w, {4, 4}, keep)
                  .weight.equal(xc::project_prune(w, {xc::PruneKind::block, keep, {4, 4}}).weight));
  EXPECT_TRUE(xc::project_columns(w, keep).weight.equal(
      xc::project_prune(w, {xc::PruneKind::column, keep, {}}).weight));
  EXPECT_TRUE(
      xc::project_rows(w, keep).weight.equal(xc::project_prune(w, {xc::PruneKind::row, keep, {}}).weight));
  EXPECT_EQ((xc::project_irregular(w, keep).weight != 0).sum().item<int64_t>(), 30);
  EXPECT_EQ((xc::project_columns(w, keep).weight.abs().sum(0) > 0).sum().item<int64_t>(), 5);
  EXPECT_EQ((xc::project_rows(w, keep).weight.abs().sum(1) > 0).sum().item<int64_t>(), 3);
  EXPECT_THROW(xc::project_rows(at::zeros({2, 2, 2}), keep), xc::CompressError);
}

TEST(Pruning, CrossbarOrientation) {
  // A 128-row x 64-column crossbar: 128 inputs (word lines), 64 outputs (bit lines).
  const auto b = xc::BlockShape::of_crossbar(128, 64);
  EXPECT_EQ(b.out, 64);
  EXPECT_EQ(b.in, 128);
}

TEST(Levels, UniformAndFromDevice) {
  const auto u = xc::LevelSet::uniform(8);
  EXPECT_EQ(u.shape, (std::vector<double>{1, 2, 3, 4}));
  EXPECT_EQ(u.levels(), 8);
  EXPECT_EQ(u.bits(), 3);
  EXPECT_EQ(xc::LevelSet::uniform(2).bits(), 1);
  EXPECT_EQ(xc::LevelSet::uniform(30).bits(), 5);
  EXPECT_THROW(xc::LevelSet::uniform(7), xc::CompressError);
  const auto d = xc::LevelSet::from_device({0.1, 1.0, 16, {}});
  ASSERT_EQ(d.magnitudes(), 15);
  for (int j = 0; j < 15; ++j) EXPECT_NEAR(d.shape[j], j + 1.0, 1e-12);
  const auto m = xc::LevelSet::from_device({0.0, 0.0, 4, {1.0, 2.0, 4.0, 7.0}});
  EXPECT_EQ(m.shape, (std::vector<double>{1.0, 3.0, 6.0}));
  EXPECT_THROW(xc::LevelSet::from_device({0.0, 0.0, 3, {1.0, 1.0, 2.0}}), xc::CompressError);
  EXPECT_THROW(xc::LevelSet::from_device({1.0, 0.5, 4, {}}), xc::CompressError);
}

TEST(Levels, NearestLevelMatchesBruteForce) {
  const auto levels = xc::LevelSet::from_device({0.0, 0.0, 4, {1.0, 2.0, 4.0, 7.0}});
  const auto w = random_matrix(8, 9, 7) * 3.0;
  const double s = 0.7;
  const auto q = to_vector(xc::quantize_to_levels(w, levels, s));
  const auto wv = to_vector(w);
  for (std::size_t i = 0; i < wv.size(); ++i) {
    double best = 0.0;
    double best_e = std::numeric_limits<double>::infinity();
    for (double l : levels.shape) {
      for (double sign : {-1.0, 1.0}) {
        const double e = std::abs(wv[i] - sign * s * l);
        if (e < best_e) {
          best_e = e;
          best = sign * s * l;
        }
      }
    }
    EXPECT_DOUBLE_EQ(q[i], best) << "w=" << wv[i];
  }
  // No zero level: zeros go to +s*shape[0].
  EXPECT_DOUBLE_EQ(xc::quantize_to_levels(at::zeros({1, 1}, at::kDouble), levels, s).item<double>(), s);
}

TEST(Levels, OptimalScaleMatchesBruteForceOverAssignments) {
  // f(s) = min over assignments, so min_s f = min over assignments of its least-squares error.
  for (const auto& levels : {xc::LevelSet::uniform(6), xc::LevelSet::uniform(2),
                             xc::LevelSet::from_device({0, 0, 4, {1.0, 2.0, 4.0, 7.0}})}) {
    for (std::uint64_t seed = 0; seed < 8; ++seed) {
      const auto w = random_matrix(1, 6, 100 + seed);
      const auto a = to_vector(w.abs());
      const auto n = static_cast<std::size_t>(levels.magnitudes());
      double best = std::numeric_limits<double>::infinity();
      std::vector<std::size_t> assign(a.size(), 0);
      for (;;) {
        double sal = 0, sll = 0, saa = 0;
        for (std::size_t i = 0; i < a.size(); ++i) {
          sal += a[i] * levels.shape[assign[i]];
          sll += levels.shape[assign[i]] * levels.shape[assign[i]];
          saa += a[i] * a[i];
        }
        const double s = sal / sll;
        if (s > 0) best = std::min(best, saa - 2 * s * sal + s * s * sll);
        std::size_t i = 0;
        while (i < assign.size() && ++assign[i] == n) assign[i++] = 0;
        if (i == assign.size()) break;
      }
      const double s = xc::optimal_scale(w, {}, levels);
      const double got = sq_error(w, xc::quantize_to_levels(w, levels, s));
      EXPECT_NEAR(got, best, 1e-10 * (1.0 + best)) << "levels " << levels.levels();
      // The scan + refinement fallback is never better than the exact sweep.
      const double s_search = xc::optimal_scale(w, {}, levels, /*max_breakpoints=*/0);
      EXPECT_GE(sq_error(w, xc::quantize_to_levels(w, levels, s_search)), got - 1e-12);
    }
  }
}

TEST(Levels, ProjectionIsIdempotentBitwiseInFloat) {
  const auto w = random_matrix(16, 24, 3).to(at::kFloat);
  const auto levels = xc::LevelSet::uniform(16);
  const auto p = xc::project_levels(w, levels);
  EXPECT_GT(p.scale, 0.0);
  EXPECT_TRUE(xc::quantize_to_levels(p.weight, levels, p.scale).equal(p.weight));
  EXPECT_TRUE((p.weight != 0).all().item<bool>());
  EXPECT_LE(std::get<0>(at::_unique(p.weight.abs())).numel(), 8);
}

TEST(Joint, ExactProjectionMatchesBruteForceAtFixedScale) {
  const auto levels = xc::LevelSet::uniform(4);
  std::uint64_t seed = 500;
  for (const auto& c : pruning_cases()) {
    const auto units = xc::unit_count(c.rows, c.cols, c.spec);
    const auto ids = unit_ids(c.rows, c.cols, c.spec);
    for (double s : {0.3, 0.8, 2.0}) {
      const auto w = random_matrix(c.rows, c.cols, seed++);
      const auto wv = to_vector(w);
      const auto qv = to_vector(xc::quantize_to_levels(w, levels, s));
      std::vector<double> keep_cost(wv.size()), drop_cost(wv.size());
      for (std::size_t i = 0; i < wv.size(); ++i) {
        keep_cost[i] = (wv[i] - qv[i]) * (wv[i] - qv[i]);
        drop_cost[i] = wv[i] * wv[i];
      }
      for (std::int64_t k = 0; k <= units; k += 1 + units / 6) {
        auto spec = c.spec;
        spec.keep = xc::Keep::units(k);
        const double expected = brute_force_error(keep_cost, drop_cost, ids, static_cast<int>(units), k);
        const auto p = xc::project_pruned_levels(w, spec, levels, s);
        EXPECT_NEAR(sq_error(w, p.weight), expected, 1e-12 * (1.0 + expected))
            << xc::to_string(spec.kind) << " s=" << s << " k=" << k;
        EXPECT_LE(nonzero_units(p.weight, spec), k);
        // Kept entries on levels, the rest exactly zero.
        EXPECT_TRUE(
            p.weight.masked_select(p.mask).equal(xc::quantize_to_levels(w, levels, s).masked_select(p.mask)));
        EXPECT_TRUE((p.weight.masked_select(p.mask.logical_not()) == 0).all().item<bool>());
        // The composed operator is never better than the exact one at the same scale.
        const auto composed = xc::project_levels_masked(w, xc::project_prune(w, spec).mask, levels, s);
        EXPECT_GE(sq_error(w, composed.weight), sq_error(w, p.weight) - 1e-12);
      }
    }
  }
}

TEST(Joint, PruneThenQuantizeIsOnlyAHeuristic) {
  // Keep 2 of 3 weights on levels {±1}: prune-then-quantize keeps 0.2 and rounds it up to 1,
  // the exact projection drops it (its gain 0.2^2 - 0.8^2 is negative).
  const auto w = at::tensor({0.1, 0.2, 5.0}, at::kDouble).reshape({1, 3});
  const xc::PruneSpec spec{xc::PruneKind::irregular, xc::Keep::units(2), {}};
  const auto levels = xc::LevelSet::uniform(2);
  const auto composed = xc::project_levels_masked(w, xc::project_prune(w, spec).mask, levels, 1.0);
  const auto exact = xc::project_pruned_levels(w, spec, levels, 1.0);
  EXPECT_NEAR(sq_error(w, composed.weight), 0.01 + 0.64 + 16.0, 1e-12);
  EXPECT_NEAR(sq_error(w, exact.weight), 0.01 + 0.04 + 16.0, 1e-12);
  // With its own fitted scale, prune_then_quantize keeps the pruning support.
  const auto ptq = xc::prune_then_quantize(w, spec, levels);
  EXPECT_TRUE(ptq.mask.equal(xc::project_prune(w, spec).mask));
  EXPECT_TRUE((ptq.weight.masked_select(ptq.mask) != 0).all().item<bool>());
}

TEST(Joint, MaskedQuantizationKeepsZerosAndIsIdempotent) {
  const auto w = random_matrix(10, 12, 9).to(at::kFloat);
  const xc::PruneSpec spec{xc::PruneKind::block, xc::Keep::fraction(0.4), {4, 5}};
  const auto levels = xc::LevelSet::uniform(8);
  const auto p = xc::prune_then_quantize(w, spec, levels);
  EXPECT_TRUE((p.weight.masked_select(p.mask.logical_not()) == 0).all().item<bool>());
  const auto again = xc::project_levels_masked(p.weight, p.mask, levels, p.scale);
  EXPECT_TRUE(again.weight.equal(p.weight));
  const auto joint = xc::project_pruned_levels(w, spec, levels);
  EXPECT_TRUE(xc::project_pruned_levels(joint.weight, spec, levels, joint.scale).weight.equal(joint.weight));
}
