#include <gtest/gtest.h>
#include <torch/torch.h>

#include "test_util.hpp"
#include "xbarsweep/circulant/circulant_linear.hpp"

namespace xc = xbarsweep::circulant;
using xc::test::all_close;

namespace {
struct Case {
  int64_t in, out, k;
};
const Case kCases[] = {{16, 8, 4}, {12, 20, 4}, {10, 7, 4}, {9, 9, 3}, {5, 6, 1}};
}  // namespace

TEST(Projection, BlockCirculantMatrixIsFixedPoint) {
  torch::manual_seed(5);
  for (const auto& c : kCases) {
    auto layout = xc::BlockLayout::make(c.in, c.out, c.k);
    auto w = torch::randn({layout.block_rows(), layout.block_cols(), c.k}, torch::kDouble);
    auto dense = xc::circulant_to_dense(w, layout);
    EXPECT_TRUE(all_close(xc::project_block_circulant_dense(dense, layout), dense, 1e-12, 1e-12))
        << "in " << c.in << " out " << c.out << " k " << c.k;
  }
}

TEST(Projection, IsIdempotent) {
  torch::manual_seed(6);
  for (const auto& c : kCases) {
    auto layout = xc::BlockLayout::make(c.in, c.out, c.k);
    auto once = xc::project_block_circulant_dense(torch::randn({c.out, c.in}, torch::kDouble), layout);
    EXPECT_TRUE(all_close(xc::project_block_circulant_dense(once, layout), once, 1e-12, 1e-12));
  }
}

// The projection is the nearest block-circulant matrix: no random circulant perturbation of it
// is closer in Frobenius norm (and the residual is orthogonal to the subspace).
TEST(Projection, MinimisesFrobeniusDistance) {
  torch::manual_seed(7);
  for (const auto& c : kCases) {
    auto layout = xc::BlockLayout::make(c.in, c.out, c.k);
    auto A = torch::randn({c.out, c.in}, torch::kDouble);
    auto w = xc::project_block_circulant(A, layout);
    const double best = (A - xc::circulant_to_dense(w, layout)).norm().item<double>();
    for (int trial = 0; trial < 50; ++trial) {
      auto delta = 0.1 * torch::randn_like(w);
      const double other = (A - xc::circulant_to_dense(w + delta, layout)).norm().item<double>();
      EXPECT_GE(other, best);
    }
    // Orthogonality: <A - P(A), C> = 0 for a block-circulant C.
    auto C = xc::circulant_to_dense(torch::randn_like(w), layout);
    EXPECT_NEAR(((A - xc::circulant_to_dense(w, layout)) * C).sum().item<double>(), 0.0, 1e-9);
  }
}

TEST(Projection, LoadDenseSetsTheNearestCirculantLayer) {
  torch::manual_seed(8);
  xc::CirculantLinear layer(24, 16, 8);
  auto A = torch::randn({16, 24});
  layer->load_dense(A);
  EXPECT_TRUE(
      all_close(layer->dense_weight(), xc::project_block_circulant_dense(A, layer->layout()), 1e-6, 1e-6));
  EXPECT_THROW(layer->load_dense(torch::randn({24, 16})), xc::CirculantError);
}

TEST(BlockLayout, CountsAndFlops) {
  auto l = xc::BlockLayout::make(1024, 4096, 16);
  EXPECT_EQ(l.block_rows(), 256);
  EXPECT_EQ(l.block_cols(), 64);
  EXPECT_EQ(l.bins(), 9);
  EXPECT_EQ(l.parameters(), 4096 * 1024 / 16);
  EXPECT_DOUBLE_EQ(l.compression_ratio(), 16.0);
  EXPECT_DOUBLE_EQ(l.dense_flops(), 2.0 * 4096 * 1024);
  EXPECT_DOUBLE_EQ(l.circulant_flops(), 8.0 * 256 * 64 * 9 + (256 + 64) * 2.5 * 16 * 4);
  auto padded = xc::BlockLayout::make(10, 7, 4);  // p = 2, q = 3
  EXPECT_EQ(padded.parameters(), 2 * 3 * 4);
  EXPECT_THROW(xc::BlockLayout::make(10, 7, 0), xc::CirculantError);
}
