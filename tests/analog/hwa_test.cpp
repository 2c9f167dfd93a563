// Hardware-aware training: the training mapping is the simulator's, gradients pass straight
// through the quantization, draws are fresh per batch and the same for the same seed.
#include "xbarsweep/analog/hwa.hpp"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <memory>
#include <sstream>
#include <string>
#include <tuple>
#include <vector>

#include "../../src/analog/mapped_layer.hpp"
#include "support/exported_models.hpp"
#include "xbarsweep/data/dataset.hpp"
#include "xbarsweep/nn/models.hpp"
#include "xbarsweep/nn/torchscript.hpp"
#include "xbarsweep/nn/training.hpp"

namespace xbarsweep::analog {
using namespace ::xbarsweep::crossbar;
namespace {

std::string worst(const torch::Tensor& a, const torch::Tensor& b, double atol) {
  const auto d = (a - b).abs().flatten();
  const auto at = d.argmax().item<std::int64_t>();
  if (d[at].item<double>() <= atol) return {};
  std::ostringstream s;
  s << "worst mismatch at flat index " << at << ": " << a.flatten()[at].item<double>() << " against "
    << b.flatten()[at].item<double>() << " (atol " << atol << ")";
  return s.str();
}

std::int64_t distinct(const torch::Tensor& t) { return std::get<0>(at::_unique(t.flatten())).size(0); }

// W_eff of a programmed layer: the ideal periphery reads eye(in) as the rows of W_eff^T.
torch::Tensor programmed_weights(const torch::Tensor& w, const CrossbarConfig& c) {
  const auto m = w.reshape({w.size(0), -1}).contiguous();
  detail::Layer layer(m.data_ptr<float>(), static_cast<int>(m.size(0)), static_cast<int>(m.size(1)), c,
                      DeviceSeed{1, 0});
  const auto eye = torch::eye(m.size(1), torch::kFloat).contiguous();
  auto y = torch::empty({m.size(1), m.size(0)}, torch::kFloat);
  detail::layer_mvm(layer, eye.data_ptr<float>(), y.data_ptr<float>(), m.size(1));
  return y.t().reshape(w.sizes());
}

torch::Tensor weights_with_a_zero_tile(std::int64_t out, std::int64_t in, std::uint64_t seed) {
  torch::manual_seed(seed);
  auto w = torch::randn({out, in});
  w.narrow(0, 0, 8).narrow(1, 0, 16).zero_();  // tile (0, 0) of 16 x 8 tiles holds nothing
  return w;
}

// Without noise, what a training forward pass sees is exactly what the simulator programs: the
// ideal crossbar's weights (unlimited levels, g_min 0) are W itself; on levels, in both mappings and
// with bit slices, they are the programmed layer's effective weights, zero tiles included.
TEST(HardwareAware, WithoutNoiseTheTrainingWeightsAreTheProgrammedOnes) {
  const auto w = weights_with_a_zero_tile(20, 50, 3);
  CrossbarConfig c;
  c.rows = 16;
  c.cols = 8;
  HwaConfig h;
  h.enabled = true;
  {
    HardwareAwareTraining ideal({}, c, h, 1);
    EXPECT_EQ(worst(ideal.perturbed(w, 7), w, 1e-6), "");
  }
  for (const Mapping mapping : {Mapping::Differential, Mapping::Offset}) {
    for (const int slices : {1, 2}) {
      c.mapping = mapping;
      c.levels = 8;
      c.slices = slices;
      c.g_min_us = 0.1;
      HardwareAwareTraining hwa({}, c, h, 1);
      const auto expected = programmed_weights(w, c);
      EXPECT_EQ(worst(hwa.perturbed(w, 7), expected, 1e-5), "")
          << (mapping == Mapping::Offset ? "offset" : "differential") << ", " << slices << " slice(s)";
      EXPECT_LT(distinct(expected), 8 * 8 * 2 + 2) << "the weights are on levels";
    }
  }
  // A 4-d (convolution) weight as its GEMM matrix.
  c = CrossbarConfig{};
  c.rows = c.cols = 16;
  c.levels = 16;
  torch::manual_seed(4);
  const auto conv = torch::randn({6, 3, 5, 5});
  HardwareAwareTraining hwa({}, c, h, 1);
  EXPECT_EQ(worst(hwa.perturbed(conv, 1), programmed_weights(conv, c), 1e-5), "");
}

// Device variation, programming noise and faults perturb the weights, tiles with no weight stay
// exactly zero, and the perturbation is mean-preserving: over many draws the mean weight is the
// quantized one (lognormal variation keeps the level as the devices' mean).
TEST(HardwareAware, NoiseIsTheDeviceModelsAndZeroTilesStayZero) {
  const auto w = weights_with_a_zero_tile(24, 40, 5);
  CrossbarConfig c;
  c.rows = 16;
  c.cols = 8;
  c.levels = 16;
  c.g_min_us = 0.1;
  c.sigma = 0.1;
  HwaConfig h;
  h.enabled = true;
  HardwareAwareTraining hwa({}, c, h, 9);
  CrossbarConfig quiet = c;
  quiet.sigma = 0.0;
  const auto quantized = programmed_weights(w, quiet);
  torch::Tensor sum = torch::zeros_like(w);
  const int draws = 400;
  for (int k = 0; k < draws; ++k) {
    const auto p = hwa.perturbed(w, static_cast<std::uint64_t>(k));
    EXPECT_TRUE(p.narrow(0, 0, 8).narrow(1, 0, 16).eq(0).all().item<bool>()) << "draw " << k;
    sum += p;
  }
  const auto mean = sum / draws;
  const auto spread = hwa.perturbed(w, 1) - quantized;
  EXPECT_GT(spread.abs().max().item<double>(), 1e-3) << "sigma 0.1 must perturb";
  // Per weight the draws' std is about sigma |G| ~ 0.1 w_max: the mean of 400 within 5 se of it.
  const double wmax = w.abs().max().item<double>();
  EXPECT_EQ(worst(mean, quantized, 5 * 0.15 * wmax / std::sqrt(double(draws))), "");
}

// The same seed and batch key give the same draws; another batch or another seed other draws.
TEST(HardwareAware, DrawsAreFreshPerBatchAndTheSameForTheSameSeed) {
  CrossbarConfig c;
  c.rows = c.cols = 32;
  c.levels = 16;
  c.sigma = 0.05;
  c.prog_noise = 0.02;
  c.stuck_min_rate = 0.01;
  HwaConfig h;
  h.enabled = true;
  h.weight_noise = 0.01;
  torch::manual_seed(1);
  auto a = torch::randn({30, 70}), b = a.clone(), other = a.clone();
  HardwareAwareTraining one({a}, c, h, 42), two({b}, c, h, 42), three({other}, c, h, 43);
  const auto clean = a.clone();
  one.perturb(100);
  two.perturb(100);
  three.perturb(100);
  EXPECT_TRUE(a.equal(b)) << "same seed, same batch: the same draws";
  EXPECT_FALSE(a.equal(other)) << "another seed: other draws";
  const auto first = a.clone();
  one.restore();
  EXPECT_TRUE(a.equal(clean)) << "restore() writes the clean weights back";
  one.perturb(101);
  EXPECT_FALSE(a.equal(first)) << "another batch: fresh draws";
  one.restore();
  one.perturb(100);
  EXPECT_TRUE(a.equal(first)) << "the draws are a function of the batch key, not of the calls before";
  one.restore();
  EXPECT_TRUE(a.equal(clean));
}

// The gradient a step applies passes straight through the rounding to levels: it is the gradient
// of the loss at the quantized weights, not zero (the derivative of rounding) and not the one at
// the clean weights.
TEST(HardwareAware, TheStraightThroughGradientPassesThroughQuantization) {
  CrossbarConfig c;
  c.rows = c.cols = 16;
  c.levels = 4;  // coarse: quantized and clean weights differ a lot
  HwaConfig h;
  h.enabled = true;
  torch::manual_seed(2);
  torch::nn::Linear layer(12, 5);
  const auto x = torch::randn({32, 12});
  const auto target = torch::randint(0, 5, {32}, torch::kLong);
  HardwareAwareTraining hwa({layer->weight}, c, h, 3);
  const auto clean = layer->weight.detach().clone();
  const auto quantized = hwa.perturbed(clean, 0);  // no noise: every key gives the same weights
  ASSERT_GT((quantized - clean).abs().max().item<double>(), 0.02);  // a level step is ~0.1

  hwa.perturb(0);
  EXPECT_TRUE(layer->weight.detach().equal(quantized));
  torch::nn::functional::cross_entropy(layer->forward(x), target).backward();
  hwa.restore();
  EXPECT_TRUE(layer->weight.detach().equal(clean)) << "the step sees the clean weights";
  const auto ste = layer->weight.grad().clone();

  const auto wq = quantized.clone().requires_grad_(true);
  torch::nn::functional::cross_entropy(torch::nn::functional::linear(x, wq, layer->bias.detach()), target)
      .backward();
  EXPECT_EQ(worst(ste, wq.grad(), 1e-7), "") << "the gradient at the quantized weights";
  const auto wc = clean.clone().requires_grad_(true);
  torch::nn::functional::cross_entropy(torch::nn::functional::linear(x, wc, layer->bias.detach()), target)
      .backward();
  EXPECT_GT((ste - wc.grad()).abs().max().item<double>(), 1e-4) << "not the gradient at the clean weights";
  EXPECT_GT(ste.abs().max().item<double>(), 1e-4) << "not the zero derivative of rounding";
}

// Through nn::train_epoch's hooks: training is deterministic for a seed, differs from plain
// training, and leaves clean (unquantized) weights in the model.
TEST(HardwareAware, TrainingThroughTheHooksIsSeededAndLeavesCleanWeights) {
  data::LoadOptions o;
  o.name = "synthetic";
  o.train_subset = 256;
  o.test_subset = 32;
  o.synthetic_seed = 3;
  const auto ds = data::load_dataset(o);
  CrossbarConfig c;
  c.rows = c.cols = 32;
  c.levels = 4;
  c.sigma = 0.1;
  HwaConfig h;
  h.enabled = true;
  const auto train = [&](bool aware, std::uint64_t hwa_seed) {
    nn::ModelOptions mo;
    mo.seed = 1;
    mo.hidden = {32};
    auto model = nn::make_model("mlp", mo);
    std::vector<at::Tensor> weights;
    for (auto& p : model->named_parameters())
      if (p.value().dim() == 2) weights.push_back(p.value());
    HardwareAwareTraining hwa(weights, c, h, hwa_seed);
    nn::TrainHooks hooks;
    if (aware) {
      hooks.before_forward = [&](std::uint64_t key) { hwa.perturb(key); };
      hooks.after_backward = [&] { hwa.restore(); };
    }
    nn::OptimizerOptions opt;
    auto optimizer = nn::make_optimizer(*model, opt);
    nn::train_epoch(*model, *optimizer, ds.train, 32, 11, hooks);
    return weights;
  };
  const auto a = train(true, 5), b = train(true, 5), other = train(true, 6), plain = train(false, 5);
  for (std::size_t k = 0; k < a.size(); ++k) {
    EXPECT_TRUE(a[k].equal(b[k])) << "layer " << k << ": same seed, same training";
    EXPECT_FALSE(a[k].equal(other[k])) << "layer " << k << ": another seed, other draws";
    EXPECT_FALSE(a[k].equal(plain[k])) << "layer " << k << ": hardware-aware differs from plain";
    EXPECT_GT(distinct(a[k]), 64) << "layer " << k << ": clean weights, not 4 levels";
  }
}

// The forward-pass options. hwa.read_noise draws the simulator's additive read noise: over many
// reads the spread of a training output about the noise-free one is the simulator's, per row tile
// (two row tiles: sqrt(2) times one), in both mappings.
TEST(HardwareAwareForward, ReadNoiseHasTheSimulatorsStrength) {
  for (const Mapping mapping : {Mapping::Differential, Mapping::Offset}) {
    CrossbarConfig c;
    c.rows = c.cols = 64;
    c.levels = 0;  // continuous conductances: only the read noise differs from the product
    c.mapping = mapping;
    c.read_noise = 0.05;
    HwaConfig h;
    h.enabled = true;
    h.read_noise = 1.0;
    torch::manual_seed(4);
    const std::int64_t in = 100, out = 20, n = 400;  // 2 row tiles
    const auto w = torch::randn({out, in});
    const auto x = torch::rand({n, in}) * 2.0 - 1.0;
    HardwareAwareTraining hwa({}, c, h, 1);
    nn::WeightLayer l;
    l.weight = w;
    const auto ideal = torch::matmul(x, w.t());
    const double trained = (hwa.layer_forward(l, x, 7) - ideal).std().item<double>();

    // The simulator: the same layer programmed, calibrated on x (its DAC full scale), read once.
    const auto wm = w.contiguous();
    detail::Layer layer(wm.data_ptr<float>(), out, in, c, DeviceSeed{1, 0});
    const auto xc = x.contiguous();
    layer.calibrate(detail::layer_input(xc.data_ptr<float>(), n, in));
    auto y = torch::empty({n, out});
    detail::layer_mvm(layer, xc.data_ptr<float>(), y.data_ptr<float>(), n);
    const double simulated = (y - ideal).std().item<double>();
    ASSERT_GT(simulated, 1e-3);
    EXPECT_NEAR(trained / simulated, 1.0, 0.06) << (mapping == Mapping::Offset ? "offset" : "differential")
                                                << ": training " << trained << ", simulator " << simulated;
  }
}

// hwa.adc: each row tile's outputs take at most 2^adc_bits values per output; hwa.dac: the inputs
// take input_bits levels of |x|. Both pass gradients straight through: the gradients of a loss
// linear in the outputs are the digital layer's.
TEST(HardwareAwareForward, DacAndAdcQuantizeWithStraightThroughGradients) {
  CrossbarConfig c;
  c.rows = c.cols = 64;
  c.levels = 0;
  c.dac_bits = 3;
  c.adc_bits = 4;
  HwaConfig h;
  h.enabled = true;
  torch::manual_seed(5);
  const auto w = torch::randn({6, 40}).requires_grad_(true);
  const auto x = torch::randn({200, 40}).requires_grad_(true);
  nn::WeightLayer l;
  l.weight = w;
  const auto upstream = torch::randn({200, 6});
  const auto gradients = [&](const HwaConfig& options) {
    HardwareAwareTraining hwa({}, c, options, 1);
    w.mutable_grad() = torch::Tensor();
    x.mutable_grad() = torch::Tensor();
    const auto y = hwa.layer_forward(l, x, 3);
    (y * upstream).sum().backward();
    return std::tuple{y.detach(), w.grad().clone(), x.grad().clone()};
  };
  HwaConfig adc = h;
  adc.adc = true;
  const auto [ya, gwa, gxa] = gradients(adc);
  const auto exact = torch::matmul(x, w.t()).detach();
  for (std::int64_t j = 0; j < 6; ++j) {
    EXPECT_LE(distinct(ya.select(1, j)), 16) << "output " << j;
    // Within half a step of the range [min, max] widened by the headroom, over 15 steps.
    const auto column = exact.select(1, j);
    const double step = (column.max() - column.min()).item<double>() * c.adc_headroom / 15.0;
    EXPECT_LE((ya.select(1, j) - column).abs().max().item<double>(), 0.5 * step * (1 + 1e-5))
        << "output " << j;
  }
  EXPECT_EQ(worst(gxa, torch::matmul(upstream, w.detach()), 1e-5), "") << "dL/dx straight through the ADC";
  EXPECT_EQ(worst(gwa, torch::matmul(upstream.t(), x.detach()), 1e-4), "")
      << "dL/dW straight through the ADC";

  HwaConfig dac = h;
  dac.dac = true;
  const auto [yd, gwd, gxd] = gradients(dac);
  const double x_fs = x.detach().abs().max().item<double>();
  const auto xq = (x.detach().abs() * (7.0 / x_fs)).round() * (x_fs / 7.0) * x.detach().sign();
  EXPECT_LE(distinct(xq.abs()), 8);
  EXPECT_EQ(worst(yd, torch::matmul(xq, w.detach().t()), 1e-5), "") << "the product of the DAC's inputs";
  EXPECT_EQ(worst(gxd, torch::matmul(upstream, w.detach()), 1e-5), "") << "dL/dx straight through the DAC";
  EXPECT_EQ(worst(gwd, torch::matmul(upstream.t(), xq), 1e-4), "") << "dL/dW at the DAC's inputs";
}

// A convolution takes the same tile path as its GEMM: with a fine ADC and nothing else its output
// (27 inputs: two row tiles of 16, each converted apart) is the digital convolution's within the
// ADC's steps; with read noise the draws are fresh per key and the same for the same key.
TEST(HardwareAwareForward, ConvolutionsTakeTheTilePathAndAreSeeded) {
  CrossbarConfig c;
  c.rows = c.cols = 16;
  c.levels = 0;
  c.adc_bits = 14;
  c.read_noise = 0.02;
  HwaConfig fine;
  fine.enabled = true;
  fine.adc = true;
  torch::nn::Conv2d conv(torch::nn::Conv2dOptions(3, 8, 3).padding(1).stride(2));
  nn::WeightLayer l;
  l.conv = true;
  l.weight = conv->weight;
  l.bias = conv->bias;
  l.stride[0] = l.stride[1] = 2;
  l.padding[0] = l.padding[1] = 1;
  const auto x = torch::randn({4, 3, 9, 9});
  torch::NoGradGuard no_grad;
  const auto digital = conv->forward(x);
  const auto got = HardwareAwareTraining({}, c, fine, 1).layer_forward(l, x, 0);
  ASSERT_EQ(got.sizes(), digital.sizes());
  EXPECT_EQ(worst(got, digital, 2e-3), "");

  HwaConfig noisy = fine;
  noisy.adc = false;
  noisy.read_noise = 1.0;
  const HardwareAwareTraining hwa({}, c, noisy, 1);
  EXPECT_TRUE(hwa.layer_forward(l, x, 5).equal(hwa.layer_forward(l, x, 5)));
  EXPECT_FALSE(hwa.layer_forward(l, x, 5).equal(hwa.layer_forward(l, x, 6)));
  EXPECT_GT((hwa.layer_forward(l, x, 5) - digital).abs().max().item<double>(), 1e-4);
}

// A model's training forward routes every layer (built-in and TorchScript alike) with the
// batch's draws, and gradients reach every weight.
TEST(HardwareAwareForward, ModelsTrainThroughTheCrossbarForward) {
  CrossbarConfig c;
  c.rows = c.cols = 32;
  c.levels = 16;
  c.adc_bits = 8;
  c.dac_bits = 8;
  c.read_noise = 0.02;
  HwaConfig h;
  h.enabled = true;
  h.adc = h.dac = true;
  h.read_noise = 1.0;
  nn::ModelOptions mo;
  mo.seed = 1;
  std::vector<std::shared_ptr<nn::Classifier>> models = {nn::make_model("lenet5", mo)};
  mo.path = testing::exported_model("cnn.pt");
  models.push_back(nn::make_model("torchscript", mo));
  const auto x = torch::randn({8, 1, 28, 28});
  for (const auto& model : models) {
    model->train();
    std::vector<at::Tensor> weights;
    for (const auto& [name, t] : nn::weight_tensors(*model)) weights.push_back(t);
    HardwareAwareTraining hwa(weights, c, h, 2);
    hwa.perturb(1);
    const auto a = hwa.forward(*model, x);
    const auto b = hwa.forward(*model, x);
    hwa.perturb(2);
    const auto other = hwa.forward(*model, x);
    model->zero_grad();
    hwa.perturb(1);
    hwa.forward(*model, x).sum().backward();
    hwa.restore();
    EXPECT_TRUE(a.equal(b)) << model->name() << ": the same batch, the same draws";
    EXPECT_FALSE(a.equal(other)) << model->name() << ": another batch, other draws";
    EXPECT_GT((a - model->forward(x)).abs().max().item<double>(), 1e-5) << model->name();
    for (std::size_t k = 0; k < weights.size(); ++k) {
      ASSERT_TRUE(weights[k].grad().defined()) << model->name() << " weight " << k;
      EXPECT_GT(weights[k].grad().abs().sum().item<double>(), 0.0) << model->name() << " weight " << k;
    }
  }
}

}  // namespace
}  // namespace xbarsweep::analog
