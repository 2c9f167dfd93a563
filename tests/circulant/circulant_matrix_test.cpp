#include "xbarsweep/circulant/circulant_matrix.hpp"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <tuple>

#include "test_util.hpp"
#include "xbarsweep/circulant/circulant_linear.hpp"
#include "xbarsweep/circulant/circulant_lstm.hpp"

namespace xc = xbarsweep::circulant;
using xc::test::all_close;

class CirculantMatrixShapes
    : public ::testing::TestWithParam<std::tuple<int64_t, int64_t, int64_t, int64_t>> {};

// The FFTW + Kokkos engine equals the dense matvec of the matrix it stands for.
TEST_P(CirculantMatrixShapes, MatchesDenseMatvec) {
  const auto [in, out, k, batch] = GetParam();
  torch::manual_seed(21);
  auto layout = xc::BlockLayout::make(in, out, k);
  auto w = torch::randn({layout.block_rows(), layout.block_cols(), k}).contiguous();
  xc::CirculantMatrix engine(layout, w.data_ptr<float>());
  auto x = torch::randn({batch, in}).contiguous();
  auto y = torch::empty({batch, out});
  engine.apply(x.data_ptr<float>(), y.data_ptr<float>(), batch);
  auto dense = xc::circulant_to_dense(w.to(torch::kDouble), layout);
  auto expected = torch::matmul(x.to(torch::kDouble), dense.t());
  // atol scaled by the typical magnitude of an output (sqrt(in) for unit-variance data).
  EXPECT_TRUE(all_close(y, expected, 1e-4, 1e-5 * std::sqrt(static_cast<double>(in))));
  // Plans are reused: a second call gives the same result.
  auto y2 = torch::empty({batch, out});
  engine.apply(x.data_ptr<float>(), y2.data_ptr<float>(), batch);
  EXPECT_TRUE(torch::equal(y, y2));
}

INSTANTIATE_TEST_SUITE_P(Shapes, CirculantMatrixShapes,
                         ::testing::Values(std::make_tuple(1024, 4096, 16, 1),
                                           std::make_tuple(1024, 4096, 8, 1),
                                           std::make_tuple(256, 512, 16, 32), std::make_tuple(100, 70, 8, 3),
                                           std::make_tuple(33, 17, 4, 2), std::make_tuple(9, 12, 3, 1),
                                           std::make_tuple(10, 6, 1, 2), std::make_tuple(64, 40, 32, 5)));

TEST(CirculantMatrix, AgreesWithCirculantLinear) {
  torch::manual_seed(22);
  xc::CirculantLinear layer(48, 80, 8);
  auto w = layer->weight.detach().contiguous();
  xc::CirculantMatrix engine(layer->layout(), w.data_ptr<float>());
  auto x = torch::randn({4, 48}).contiguous();
  auto y = torch::empty({4, 80});
  engine.apply(x.data_ptr<float>(), y.data_ptr<float>(), 4);
  torch::NoGradGuard g;
  EXPECT_TRUE(all_close(y, layer->forward(x) - layer->bias, 1e-4, 1e-5));
}

TEST(CirculantMatrix, RejectsMismatchedExtents) {
  auto layout = xc::BlockLayout::make(16, 8, 4);
  std::vector<float> w(static_cast<size_t>(layout.parameters()), 1.0f);
  xc::CirculantMatrix engine(layout, w.data());
  xc::CirculantMatrix::MatrixView x("x", 2, 15), y("y", 2, 8);
  EXPECT_THROW(engine.apply(x, y), xc::CirculantError);
  xc::CirculantMatrix::MatrixView x2("x", 2, 16), y2("y", 3, 8);
  EXPECT_THROW(engine.apply(x2, y2), xc::CirculantError);
}

// The fixed-point path equals the exactly rounded product of the quantized operands, except
// where the float engine's tiny error crosses a rounding boundary (then off by one LSB).
TEST(FixedPointCirculantMatrix, MatchesRoundedProductOfQuantizedOperands) {
  torch::manual_seed(23);
  auto layout = xc::BlockLayout::make(256, 512, 16);
  xc::FixedPointFormat fmt;
  auto w = (0.1 * torch::randn({layout.block_rows(), layout.block_cols(), 16})).contiguous();
  xc::FixedPointCirculantMatrix engine(layout, w.data_ptr<float>(), fmt);
  auto x = torch::randn({3, 256}).contiguous();
  auto y = torch::empty({3, 512});
  engine.apply(x.data_ptr<float>(), y.data_ptr<float>(), 3);
  auto wq = xc::quantize(w.to(torch::kDouble), fmt), xq = xc::quantize(x.to(torch::kDouble), fmt);
  auto expected = xc::quantize(torch::matmul(xq, xc::circulant_to_dense(wq, layout).t()), fmt);
  auto diff = (y.to(torch::kDouble) - expected).abs();
  EXPECT_LE(diff.max().item<double>(), fmt.lsb() + 1e-12);
  EXPECT_LT((diff > 0).to(torch::kDouble).mean().item<double>(), 0.01)
      << "more than 1% of outputs off by an LSB";
  EXPECT_TRUE(all_close(xc::quantize(y.to(torch::kDouble), fmt), y.to(torch::kDouble), 0, 0));
}
