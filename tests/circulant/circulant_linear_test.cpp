#include "xbarsweep/circulant/circulant_linear.hpp"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <tuple>

#include "test_util.hpp"

namespace xc = xbarsweep::circulant;
using xc::test::all_close;

class CirculantLinearShapes : public ::testing::TestWithParam<std::tuple<int64_t, int64_t, int64_t>> {};

// The fft forward equals x W^T + b with W = dense_weight(), the ideal oracle.
TEST_P(CirculantLinearShapes, ForwardMatchesDense) {
  const auto [in, out, k] = GetParam();
  torch::manual_seed(1);
  xc::CirculantLinear layer(in, out, k);
  auto x = torch::randn({5, in});
  auto dense = torch::matmul(x, layer->dense_weight().t()) + layer->bias;
  EXPECT_TRUE(all_close(layer->forward(x), dense, 1e-4, 1e-5));
}

// Gradients with respect to the input and the defining vectors match the dense path.
TEST_P(CirculantLinearShapes, GradientsMatchDense) {
  const auto [in, out, k] = GetParam();
  torch::manual_seed(2);
  xc::CirculantLinear layer(in, out, k);
  auto x = torch::randn({3, in}, torch::requires_grad());
  auto upstream = torch::randn({3, out});

  (layer->forward(x) * upstream).sum().backward();
  auto gx_fft = x.grad().clone(), gw_fft = layer->weight.grad().clone();
  auto gb_fft = layer->bias.grad().clone();
  x.grad().zero_();
  layer->zero_grad();

  ((torch::matmul(x, layer->dense_weight().t()) + layer->bias) * upstream).sum().backward();
  EXPECT_TRUE(all_close(gx_fft, x.grad(), 1e-4, 1e-5));
  EXPECT_TRUE(all_close(gw_fft, layer->weight.grad(), 1e-4, 1e-5));
  EXPECT_TRUE(all_close(gb_fft, layer->bias.grad(), 1e-4, 1e-5));
}

INSTANTIATE_TEST_SUITE_P(Shapes, CirculantLinearShapes,
                         ::testing::Values(std::make_tuple(16, 32, 8), std::make_tuple(64, 64, 16),
                                           std::make_tuple(13, 21, 4), std::make_tuple(7, 5, 8),
                                           std::make_tuple(30, 20, 3), std::make_tuple(8, 4, 1)));

// The block convention: W[r][c] = w[(r - c) mod k] within each block.
TEST(CirculantLinear, DenseWeightFollowsFirstColumnConvention) {
  xc::CirculantLinear layer(8, 4, 4);
  {
    torch::NoGradGuard g;
    layer->weight.copy_(torch::arange(8, torch::kFloat).view({1, 2, 4}));
  }
  auto W = layer->dense_weight();
  for (int r = 0; r < 4; ++r)
    for (int c = 0; c < 8; ++c)
      EXPECT_EQ(W[r][c].item<float>(), static_cast<float>((c / 4) * 4 + ((r - c % 4) % 4 + 4) % 4));
}

// k = 1 is exactly a dense Linear with the same weights.
TEST(CirculantLinear, BlockSizeOneIsDenseLinear) {
  torch::manual_seed(3);
  xc::CirculantLinear layer(12, 7, 1);
  torch::nn::Linear dense(12, 7);
  {
    torch::NoGradGuard g;
    dense->weight.copy_(layer->weight.view({7, 12}));
    dense->bias.copy_(layer->bias);
  }
  auto x = torch::randn({4, 12});
  EXPECT_TRUE(all_close(layer->forward(x), dense->forward(x), 1e-5, 1e-6));
  EXPECT_EQ(layer->layout().compression_ratio(), 1.0);
}

TEST(CirculantLinear, AcceptsLeadingDimensionsAndRejectsBadShapes) {
  xc::CirculantLinear layer(16, 8, 4);
  EXPECT_EQ(layer->forward(torch::randn({2, 3, 16})).sizes(), (std::vector<int64_t>{2, 3, 8}));
  EXPECT_THROW(layer->forward(torch::randn({2, 15})), xc::CirculantError);
  EXPECT_THROW(xc::CirculantLinear(0, 8, 4), xc::CirculantError);
  EXPECT_EQ(layer->layout().compression_ratio(), 4.0);
}

// Training by autograd reduces a regression loss onto a block-circulant target.
TEST(CirculantLinear, TrainsByAutograd) {
  torch::manual_seed(4);
  xc::CirculantLinear target(32, 16, 8), layer(32, 16, 8);
  auto x = torch::randn({64, 32});
  auto y = target->forward(x).detach();
  torch::optim::Adam opt(layer->parameters(), torch::optim::AdamOptions(0.05));
  double first = 0, last = 0;
  for (int it = 0; it < 200; ++it) {
    opt.zero_grad();
    auto loss = torch::mse_loss(layer->forward(x), y);
    loss.backward();
    opt.step();
    if (it == 0) first = loss.item<double>();
    last = loss.item<double>();
  }
  EXPECT_LT(last, 1e-3 * first) << "first " << first << " last " << last;
}
