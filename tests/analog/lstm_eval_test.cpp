// An LSTM's gate matrices on crossbars: ideal crossbars reproduce the software LSTM (dense and
// block-circulant gates, with a projection), every matrix is used once per time step, variation
// moves the output and device samples are seeded.
#include "xbarsweep/analog/lstm_eval.hpp"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "xbarsweep/circulant/circulant_lstm.hpp"

namespace xbarsweep::analog {
using namespace ::xbarsweep::crossbar;
namespace {

namespace xc = xbarsweep::circulant;

xc::CirculantLSTM make_lstm(std::int64_t k, std::int64_t projection, std::uint64_t seed) {
  torch::manual_seed(seed);
  auto options = xc::CirculantLSTMOptions(12, 16).block_size(k).batch_first(true);
  if (projection > 0) options.google(projection);
  xc::CirculantLSTM lstm(options);
  torch::NoGradGuard no_grad;
  for (auto& p : lstm->parameters()) p.uniform_(-0.4, 0.4);
  return lstm;
}

CrossbarConfig ideal_tiles() {
  CrossbarConfig c;  // every non-ideality off, levels = 0: unlimited precision
  c.rows = 8;        // 12 inputs, 16 or 8 recurrent inputs
  c.cols = 16;       // 64 gate outputs, projection 8
  return c;
}

TEST(LstmEval, IdealCrossbarsReproduceTheSoftwareLstm) {
  for (const auto& [k, projection] :
       std::vector<std::pair<std::int64_t, std::int64_t>>{{1, 0}, {4, 0}, {4, 8}}) {
    auto lstm = make_lstm(k, projection, 3);
    const auto x = torch::randn({5, 7, 12});  // 5 sequences of 7 steps
    torch::NoGradGuard no_grad;
    lstm->eval();
    const auto expected = std::get<0>(lstm->forward(x));
    HardwareLSTM hw(*lstm, ideal_tiles(), 1);
    const auto got = hw.forward(x);
    ASSERT_EQ(got.sizes(), expected.sizes());
    EXPECT_TRUE(torch::allclose(got, expected, 1e-4, 1e-5))
        << "k " << k << " projection " << projection << ": max |diff| "
        << (got - expected).abs().max().item<double>();
    const auto maps = hw.mappings();
    ASSERT_EQ(maps.size(), projection > 0 ? 3u : 2u);
    EXPECT_EQ(maps[0].in, 12);  // input-to-gates
    EXPECT_EQ(maps[0].out, 64);
    EXPECT_EQ(maps[1].in, projection > 0 ? projection : 16);    // state-to-gates
    for (const auto& m : maps) EXPECT_EQ(m.mvms, 7) << m.name;  // one product per time step
    EXPECT_EQ(maps[0].allocated_tiles, 2 * 4);                  // ceil(12 / 8) x ceil(64 / 16)
    EXPECT_GE(hw.crossbars(), 8 + 2 * 4);                       // at least one crossbar per allocated tile
  }
}

TEST(LstmEval, VariationMovesTheOutputAndSamplesAreSeeded) {
  auto lstm = make_lstm(4, 0, 5);
  const auto x = torch::randn({4, 6, 12});
  torch::NoGradGuard no_grad;
  lstm->eval();
  const auto exact = std::get<0>(lstm->forward(x));
  auto config = ideal_tiles();
  config.sigma = 0.2;
  config.levels = 16;
  config.adc_bits = 8;
  config.dac_bits = 8;
  HardwareLSTM a(*lstm, config, 7), b(*lstm, config, 7), c(*lstm, config, 8);
  a.calibrate(x);
  b.calibrate(x);
  c.calibrate(x);
  const auto ya = a.forward(x), yb = b.forward(x), yc = c.forward(x);
  EXPECT_TRUE(torch::equal(ya, yb));   // same seed, same devices
  EXPECT_FALSE(torch::equal(ya, yc));  // another seed, other devices
  const double error = (ya - exact).abs().mean().item<double>();
  EXPECT_GT(error, 1e-3);
  EXPECT_LT(error, 0.5);  // still the same function, roughly
}

TEST(LstmEval, HardwareAccuracyOverSamples) {
  auto lstm = make_lstm(2, 0, 9);
  torch::manual_seed(1);
  const auto images = torch::randn({40, 6, 12});
  auto head = torch::nn::Linear(16, 3);
  torch::NoGradGuard no_grad;
  const auto final_state = [](const torch::Tensor& out) { return out.select(1, out.size(1) - 1); };
  // Labels are the software model's own predictions: software accuracy 1, ideal hardware too.
  const auto labels = head->forward(final_state(std::get<0>(lstm->forward(images)))).argmax(1);
  const data::Split split{images, labels};
  HardwareEvalOptions o;
  o.samples = 2;
  o.batch_size = 16;
  o.calibration_items = 20;
  const auto sequence_head = [&](const torch::Tensor& out) { return head->forward(final_state(out)); };
  const auto ideal = evaluate_lstm_on_crossbars(*lstm, sequence_head, split, split, ideal_tiles(), o);
  EXPECT_EQ(ideal.accuracy, 1.0);
  EXPECT_EQ(ideal.hw_accuracy_mean, 1.0);
  EXPECT_EQ(ideal.hw_accuracy_std, 0.0);
  ASSERT_EQ(ideal.hw_accuracy.size(), 2u);
  auto noisy_config = ideal_tiles();
  noisy_config.sigma = 0.5;
  const auto noisy = evaluate_lstm_on_crossbars(*lstm, sequence_head, split, split, noisy_config, o);
  EXPECT_LT(noisy.hw_accuracy_min, 1.0);
  EXPECT_GE(noisy.hw_accuracy_min, 0.0);
}

}  // namespace
}  // namespace xbarsweep::analog
