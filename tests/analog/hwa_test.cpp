// Hardware-aware training: the training mapping is the simulator's, gradients pass straight
// through the quantization, draws are fresh per batch and the same for the same seed.
#include "xbarsweep/analog/hwa.hpp"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <sstream>
#include <string>

#include "../../src/analog/mapped_layer.hpp"
#include "xbarsweep/data/dataset.hpp"
#include "xbarsweep/nn/models.hpp"
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

}  // namespace
}  // namespace xbarsweep::analog
