// Whole-model evaluation through the simulator: the ideal crossbar reproduces the torch forward
// (Linear and Conv2d, tiles that do and do not divide the layers), strong variation costs
// accuracy, device samples are seeded.
#include "xbarsweep/analog/model_eval.hpp"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <array>
#include <cmath>
#include <sstream>
#include <string>

#include "../../src/analog/mapped_layer.hpp"  // the bridge's im2col
#include "support/exported_models.hpp"
#include "xbarsweep/data/dataset.hpp"
#include "xbarsweep/nn/models.hpp"
#include "xbarsweep/nn/torchscript.hpp"
#include "xbarsweep/nn/training.hpp"

namespace xbarsweep::analog {
using namespace ::xbarsweep::crossbar;
namespace {

data::Dataset synthetic(std::int64_t train, std::int64_t test) {
  data::LoadOptions o;
  o.name = "synthetic";
  o.train_subset = train;
  o.test_subset = test;
  o.synthetic_seed = 3;
  return data::load_dataset(o);
}

// Empty when |a - b| <= atol + rtol |b| everywhere; else the worst element.
std::string compare(const torch::Tensor& a, const torch::Tensor& b, double rtol, double atol) {
  const auto excess = (a - b).abs() - (atol + rtol * b.abs());
  const auto worst = excess.flatten().argmax().item<std::int64_t>();
  if (excess.flatten()[worst].item<double>() <= 0.0) return {};
  std::ostringstream s;
  s << "worst mismatch at flat index " << worst << ": got " << a.flatten()[worst].item<double>()
    << ", expected " << b.flatten()[worst].item<double>() << " (rtol " << rtol << ", atol " << atol << ")";
  return s.str();
}

CrossbarConfig ideal_small_tiles() {
  CrossbarConfig c;  // every non-ideality off, levels = 0: unlimited precision
  c.rows = 16;       // 25, 150, 400, 120, 84 inputs: none a multiple of 16 but 400
  c.cols = 8;        // 6, 16, 120, 84, 10 outputs
  return c;
}

TEST(ModelEval, IdealCrossbarsReproduceTheTorchForwardOfLeNet5) {
  const auto ds = synthetic(100, 40);
  nn::ModelOptions mo;
  mo.seed = 5;
  auto model = nn::make_model("lenet5", mo);
  model->eval();
  torch::NoGradGuard no_grad;
  const auto x = ds.test.images;
  const auto expected = model->forward(x);
  HardwareModel hw(*model, ideal_small_tiles(), 11, /*max_rows_per_mvm=*/1000);  // chunks + a padded tail
  const auto got = hw.forward(x);
  const auto scale = expected.abs().max().item<double>();
  const auto msg = compare(got, expected, 1e-4, 1e-5 * scale);
  EXPECT_TRUE(msg.empty()) << msg;

  const auto maps = hw.mappings();
  ASSERT_EQ(maps.size(), 5u);
  EXPECT_EQ(maps[0].out, 6);
  EXPECT_EQ(maps[0].in, 25);
  EXPECT_EQ(maps[0].mvms, 28 * 28);  // conv1 with padding 2 on 28x28
  EXPECT_EQ(maps[1].mvms, 10 * 10);
  EXPECT_EQ(maps[2].in, 400);
  EXPECT_EQ(maps[2].mvms, 1);
  EXPECT_EQ(maps[2].allocated_tiles, 25 * 15);
}

TEST(ModelEval, IdealHardwareAccuracyEqualsSoftwareAccuracy) {
  const auto ds = synthetic(1000, 200);
  for (const char* name : {"mlp", "lenet5"}) {
    nn::ModelOptions mo;
    mo.seed = 1;
    mo.hidden = {32};
    auto model = nn::make_model(name, mo);
    nn::TrainOptions to;
    to.epochs = 1;
    to.evaluate_each_epoch = false;
    nn::train_model(*model, ds.train, ds.test, to);
    HardwareEvalOptions eo;
    eo.samples = 2;
    eo.batch_size = 64;
    const auto r = evaluate_on_crossbars(*model, ds.test, ds.train, ideal_small_tiles(), eo);
    EXPECT_GT(r.accuracy, 0.5) << name;
    EXPECT_DOUBLE_EQ(r.hw_accuracy_mean, r.accuracy) << name;
    EXPECT_DOUBLE_EQ(r.hw_accuracy_min, r.accuracy) << name;
    EXPECT_DOUBLE_EQ(r.hw_accuracy_std, 0.0) << name;
  }
}

// An MLP of one hidden layer trained on \p ds for \p epochs.
std::shared_ptr<nn::Classifier> trained_mlp(const data::Dataset& ds, std::uint64_t seed, std::int64_t hidden,
                                            std::int64_t epochs) {
  nn::ModelOptions mo;
  mo.seed = seed;
  mo.hidden = {hidden};
  auto model = nn::make_model("mlp", mo);
  nn::TrainOptions to;
  to.epochs = epochs;
  to.evaluate_each_epoch = false;
  nn::train_model(*model, ds.train, ds.test, to);
  return model;
}

// The same programmed devices read at several times: reads at t <= t0 equal the read at
// t_inference (1 s) exactly (no read noise), and each time has one accuracy per sample.
TEST(ModelEval, DriftTimesReadTheSameDevicesAgain) {
  const auto ds = synthetic(600, 120);
  auto model = trained_mlp(ds, 4, 32, 1);
  CrossbarConfig c;
  c.rows = c.cols = 32;
  c.levels = 16;
  c.sigma = 0.05;
  c.adc_bits = 8;
  c.drift = Drift::PowerLaw;
  c.drift_times = "20, 0.5, 31536000";
  HardwareEvalOptions eo;
  eo.samples = 2;
  eo.seed = 3;
  const auto r = evaluate_on_crossbars(*model, ds.test, ds.train, c, eo);
  ASSERT_EQ(r.times, (std::vector<double>{20.0, 0.5, 31536000.0}));
  ASSERT_EQ(r.accuracy_at_times.size(), 3u);
  for (const auto& at : r.accuracy_at_times) EXPECT_EQ(at.size(), 2u);
  EXPECT_EQ(r.accuracy_at_times[0], r.hw_accuracy) << "t = t0 reads the programmed devices";
  EXPECT_EQ(r.accuracy_at_times[1], r.hw_accuracy) << "t < t0 reads the programmed devices";
  EXPECT_EQ(mean_accuracy_at_times(r)[0], r.hw_accuracy_mean);
}

TEST(ModelEval, StrongVariationCostsAccuracyAndSamplesAreSeeded) {
  const auto ds = synthetic(1000, 200);
  auto model = trained_mlp(ds, 2, 64, 2);

  CrossbarConfig c;
  c.rows = c.cols = 32;
  c.levels = 16;
  c.dac_bits = 8;
  c.adc_bits = 8;
  HardwareEvalOptions eo;
  eo.samples = 3;
  eo.seed = 7;
  const auto mild = evaluate_on_crossbars(*model, ds.test, ds.train, c, eo);
  c.sigma = 1.0;
  c.stuck_min_rate = 0.1;
  c.stuck_max_rate = 0.1;
  const auto strong = evaluate_on_crossbars(*model, ds.test, ds.train, c, eo);
  const auto again = evaluate_on_crossbars(*model, ds.test, ds.train, c, eo);
  EXPECT_GT(mild.accuracy, 0.8);
  EXPECT_GT(mild.hw_accuracy_mean, mild.accuracy - 0.05);
  EXPECT_LT(strong.hw_accuracy_mean, mild.hw_accuracy_mean - 0.1)
      << "sigma 1 with 20% stuck devices should cost accuracy";
  EXPECT_GT(strong.hw_accuracy_std, 0.0) << "device samples must differ";
  EXPECT_LE(strong.hw_accuracy_min, strong.hw_accuracy_mean);
  EXPECT_EQ(strong.hw_accuracy, again.hw_accuracy) << "the same seed must give the same devices";
}

// TorchScript models: every Linear and Conv2d call of the script's graph on crossbars.
TEST(ModelEval, IdealCrossbarsReproduceTorchScriptModels) {
  const auto ds = synthetic(100, 40);
  for (const char* file : {"cnn.pt", "cnn-traced.pt", "mlp.pt"}) {
    nn::TorchScriptClassifierImpl model(testing::exported_model(file));
    model.eval();
    torch::NoGradGuard no_grad;
    const auto expected = model.forward(ds.test.images);
    HardwareModel hw(model, ideal_small_tiles(), 11, /*max_rows_per_mvm=*/1000);
    const auto got = hw.forward(ds.test.images);
    const auto msg = compare(got, expected, 1e-4, 1e-5 * expected.abs().max().item<double>());
    EXPECT_TRUE(msg.empty()) << file << ": " << msg;
    EXPECT_EQ(hw.forward(ds.test.images).argmax(1).equal(expected.argmax(1)), true) << file;
  }
  // cnn.pt: the grouped convolution is one weight matrix per group; MVMs from the shapes seen.
  nn::TorchScriptClassifierImpl cnn(testing::exported_model("cnn.pt"));
  HardwareModel hw(cnn, ideal_small_tiles(), 11);
  hw.forward(ds.test.images.narrow(0, 0, 2));
  const auto maps = hw.mappings();
  ASSERT_EQ(maps.size(), 6u);
  EXPECT_EQ(maps[0].out, 8);
  EXPECT_EQ(maps[0].in, 9);
  EXPECT_EQ(maps[0].mvms, 14 * 14);  // stride 2, padding 1 on 28x28
  EXPECT_EQ(maps[2].in, 4 * 9);      // block.conv2, group 0: 4 of the 8 channels
  EXPECT_EQ(maps[2].out, 4);
  EXPECT_EQ(maps[3].out, 4);
  EXPECT_EQ(maps[4].mvms, 1);
}

TEST(ModelEval, TorchScriptLeNet5OnCrossbarsEqualsTheBuiltIn) {
  // The same weights (seeded initialisation), a non-ideal crossbar, the same device seed: the
  // same mapped layers in the same order, so the same devices and the same logits.
  const auto ds = synthetic(100, 40);
  nn::ModelOptions mo;
  mo.seed = 5;
  const auto builtin = nn::make_model("lenet5", mo);
  mo.path = testing::exported_model("lenet5.pt");
  mo.reinitialise = true;
  const auto script = nn::make_model("torchscript", mo);
  CrossbarConfig c = ideal_small_tiles();
  c.levels = 16;
  c.sigma = 0.05;
  c.read_noise = 0.01;
  c.dac_bits = 8;
  c.adc_bits = 8;
  HardwareModel a(*builtin, c, 21), b(*script, c, 21);
  a.calibrate(ds.train.images.narrow(0, 0, 50));
  b.calibrate(ds.train.images.narrow(0, 0, 50));
  const auto ya = a.forward(ds.test.images), yb = b.forward(ds.test.images);
  const auto msg = compare(yb, ya, 1e-5, 1e-6 * ya.abs().max().item<double>());
  EXPECT_TRUE(msg.empty()) << msg;
  EXPECT_EQ(a.crossbars(), b.crossbars());
}

TEST(ModelEval, RefusesATorchScriptModelWithAWeightItCannotMap) {
  nn::TorchScriptClassifierImpl model(testing::exported_model("unsupported.pt"));
  try {
    HardwareModel hw(model, ideal_small_tiles(), 1);
    ADD_FAILURE() << "mapped a ConvTranspose2d";
  } catch (const ModelError& e) {
    EXPECT_NE(std::string(e.what()).find("module 'up'"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace xbarsweep::analog

// The rows calibration gathers from a convolution's padded input are F::unfold's, bit for bit and
// in its order (all of them when max_rows allows; an even spread of them otherwise): strides,
// paddings, dilations, non-square kernels, channels.
TEST(ModelEval, CalibrationPatchesAreUnfoldsRowsExactly) {
  torch::manual_seed(3);
  struct Case {
    std::int64_t n, c, h, w;
    std::array<std::int64_t, 2> k, s, pad, d;
  };
  const Case cases[] = {{2, 1, 28, 28, {5, 5}, {1, 1}, {0, 0}, {1, 1}},
                        {3, 4, 9, 11, {3, 3}, {2, 1}, {1, 2}, {1, 1}},
                        {1, 3, 16, 16, {3, 2}, {1, 2}, {2, 0}, {2, 1}},
                        {2, 8, 4, 4, {1, 1}, {1, 1}, {0, 0}, {1, 1}}};
  for (const auto& t : cases) {
    const auto x = torch::randn({t.n, t.c, t.h, t.w});
    const auto mine = xbarsweep::analog::detail::calibration_patches(x, t.k, t.s, t.pad, t.d, 1 << 30);
    const auto cols =
        torch::nn::functional::unfold(x, torch::nn::functional::UnfoldFuncOptions({t.k[0], t.k[1]})
                                             .dilation({t.d[0], t.d[1]})
                                             .padding({t.pad[0], t.pad[1]})
                                             .stride({t.s[0], t.s[1]}));
    const auto want = cols.transpose(1, 2).reshape({-1, cols.size(1)});
    ASSERT_EQ(mine.sizes(), want.sizes());
    EXPECT_TRUE(torch::equal(mine, want)) << "case c=" << t.c << " k=" << t.k[0] << "x" << t.k[1];
    const std::int64_t few = want.size(0) / 3;  // an even spread: the rows linspace picks
    const auto picked = torch::linspace(0, want.size(0) - 1, few).to(torch::kLong);
    EXPECT_TRUE(torch::equal(xbarsweep::analog::detail::calibration_patches(x, t.k, t.s, t.pad, t.d, few),
                             want.index_select(0, picked)))
        << "spread, case c=" << t.c;
  }
}
