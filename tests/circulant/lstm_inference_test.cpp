#include "xbarsweep/circulant/lstm_inference.hpp"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "test_util.hpp"
#include "xbarsweep/circulant/circulant_lstm.hpp"

namespace xc = xbarsweep::circulant;
using xc::test::all_close;

namespace {
void expect_inference_matches(const xc::CirculantLSTMOptions& opts, int64_t T, int64_t N) {
  torch::manual_seed(41);
  xc::CirculantLSTM lstm(opts);
  auto x = torch::randn({T, N, opts.input_size()});
  torch::Tensor ref;
  {
    torch::NoGradGuard g;
    ref = std::get<0>(lstm->forward(x));
  }
  xc::LSTMInference engine(*lstm);
  std::vector<float> xv(x.data_ptr<float>(), x.data_ptr<float>() + x.numel());
  auto y = engine.forward(xv, T, N);
  auto yt = torch::from_blob(y.data(), {T, N, engine.output_features()}).clone();
  EXPECT_TRUE(all_close(yt, ref, 1e-4, 1e-5));
}
}  // namespace

TEST(LSTMInference, DenseVanillaMatchesModule) {
  expect_inference_matches(xc::CirculantLSTMOptions(12, 16), 5, 1);
}

TEST(LSTMInference, CirculantVanillaMatchesModule) {
  expect_inference_matches(xc::CirculantLSTMOptions(28, 64).block_size(8), 6, 1);
}

TEST(LSTMInference, GoogleBidirectionalStackedPaddedMatchesModule) {
  expect_inference_matches(
      xc::CirculantLSTMOptions(10, 20).google(12).block_size(8).bidirectional(true).num_layers(2), 4, 3);
}

TEST(LSTMInference, MixedDenseAndCirculantGatesMatchModule) {
  expect_inference_matches(
      xc::CirculantLSTMOptions(16, 32).input_block_size(1).recurrent_block_size(16).peephole(true), 5, 2);
}
