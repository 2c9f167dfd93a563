// ADMM on a tiny model, masked retraining, layer discovery and accounting.
#include "xbarsweep/compress/admm.hpp"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>
#include <functional>

#include "xbarsweep/compress/accounting.hpp"
#include "xbarsweep/compress/masks.hpp"
#include "xbarsweep/error.hpp"

namespace xc = xbarsweep::compress;

namespace {

struct TinyNetImpl : torch::nn::Module {
  TinyNetImpl() {
    conv = register_module("conv", torch::nn::Conv2d(torch::nn::Conv2dOptions(2, 6, 3)));
    bn = register_module("bn", torch::nn::BatchNorm2d(6));
    fc1 = register_module("fc1", torch::nn::Linear(6 * 4 * 4, 24));
    fc2 = register_module("fc2", torch::nn::Linear(24, 3));
  }
  torch::Tensor forward(torch::Tensor x) {
    x = torch::relu(bn(conv(x)));
    x = torch::relu(fc1(x.flatten(1)));
    return fc2(x);
  }
  torch::nn::Conv2d conv{nullptr};
  torch::nn::BatchNorm2d bn{nullptr};
  torch::nn::Linear fc1{nullptr}, fc2{nullptr};
};
TORCH_MODULE(TinyNet);

struct Data {
  torch::Tensor x, y;
};

// A learnable synthetic task: labels from a fixed random linear map of the inputs.
Data synthetic(std::int64_t n, std::uint64_t seed) {
  torch::manual_seed(seed);
  auto x = torch::randn({n, 2, 6, 6});
  auto proj = torch::randn({72, 3});
  auto y = x.flatten(1).mm(proj).argmax(1);
  return {x, y};
}

xc::CompressionSpec block_and_levels_spec(bool joint_exact) {
  xc::CompressionSpec spec;
  spec.defaults.prune = {xc::PruneKind::block, xc::Keep::fraction(0.3), {4, 8}};
  spec.defaults.levels = xc::LevelSet::uniform(8);
  spec.defaults.joint_exact = joint_exact;
  spec.defaults.rho = {1e-2, 1.5, 1.0};
  spec.skip = {"fc2.weight"};
  return spec;
}

template <class Hook>
void sgd_steps(TinyNet& net, torch::optim::SGD& opt, const Data& d, int steps, Hook&& before_step,
               const xc::MaskSet* masks = nullptr) {
  const auto n = d.x.size(0);
  for (int s = 0; s < steps; ++s) {
    const auto idx = torch::arange((s * 16) % n, (s * 16) % n + 16) % n;
    opt.zero_grad();
    auto loss = torch::nn::functional::cross_entropy(net->forward(d.x.index({idx})), d.y.index({idx}));
    loss.backward();
    before_step();
    opt.step();
    if (masks != nullptr) masks->after_step(opt);
  }
}

bool bitwise_zero(const torch::Tensor& t) {
  // +0.0 only: the bit pattern, not just == 0.
  return (t.contiguous().view(torch::kInt32) == 0).all().item<bool>();
}

}  // namespace

TEST(Layers, FindsLinearAndConvWeightsOnly) {
  TinyNet net;
  const auto layers = xc::compressible_layers(*net);
  ASSERT_EQ(layers.size(), 3u);
  EXPECT_EQ(layers[0].name, "conv.weight");
  EXPECT_EQ(layers[0].rows(), 6);
  EXPECT_EQ(layers[0].cols(), 2 * 3 * 3);
  EXPECT_EQ(layers[1].name, "fc1.weight");
  EXPECT_EQ(layers[2].name, "fc2.weight");
  // The GEMM view shares storage with the parameter.
  EXPECT_EQ(layers[0].matrix().data_ptr(), net->conv->weight.data_ptr());
}

TEST(Admm, PenaltyGradientIsRhoTimesWMinusZPlusU) {
  TinyNet net;
  auto spec = block_and_levels_spec(false);
  auto admm = xc::AdmmState::init(*net, spec);
  ASSERT_EQ(admm.layers().size(), 2u);
  EXPECT_EQ(admm.layers()[0].pairs.size(), 2u);  // prune + quantize pairs
  {
    torch::NoGradGuard g;
    for (auto& p : net->parameters()) p.add_(torch::randn_like(p) * 0.05);
  }
  admm.update();  // U nonzero now, rho grown
  for (auto& p : net->parameters()) p.mutable_grad() = torch::zeros_like(p);
  admm.add_penalty_gradients();
  double penalty = 0.0;
  for (const auto& l : admm.layers()) {
    auto expected = torch::zeros_like(l.layer.weight);
    for (const auto& p : l.pairs) {
      expected += p.rho * (l.layer.weight.detach() - p.z + p.u);
      penalty += 0.5 * p.rho * (l.layer.weight.detach() - p.z + p.u).pow(2).sum().item<double>();
    }
    EXPECT_TRUE(torch::allclose(l.layer.weight.grad(), expected, 1e-5, 1e-7)) << l.layer.name;
  }
  EXPECT_NEAR(admm.penalty(), penalty, 1e-5 * penalty);
  // Layers without a constraint get nothing.
  EXPECT_TRUE(bitwise_zero(net->fc2->weight.grad()));
}

TEST(Admm, ResidualShrinksOnTinyModel) {
  // As in paper A, ADMM starts from a trained model: pretrain, then ADMM iterations of a few
  // full-batch gradient steps each (no minibatch noise, so the check does not depend on thread
  // count or sampling). ||W - Z|| must fall far below its start, ||W0 - Proj(W0)||.
  // 0: pruning only; 1: joint, two pairs (paper A); 2: joint, one pair onto the intersection.
  constexpr int kIterations = 16;
  for (int mode : {0, 1, 2}) {
    torch::manual_seed(21);
    auto net = torch::nn::Sequential(torch::nn::Linear(72, 32), torch::nn::ReLU(), torch::nn::Linear(32, 3));
    const auto data = synthetic(256, 3);
    const auto x = data.x.flatten(1);
    torch::optim::SGD opt(net->parameters(), torch::optim::SGDOptions(0.05).momentum(0.9));
    auto steps = [&](int n, const std::function<void()>& before_step) {
      for (int s = 0; s < n; ++s) {
        opt.zero_grad();
        torch::nn::functional::cross_entropy(net->forward(x), data.y).backward();
        before_step();
        opt.step();
      }
    };
    steps(200, [] {});
    xc::CompressionSpec spec;
    spec.defaults.prune = {xc::PruneKind::block, xc::Keep::fraction(0.3), {4, 8}};
    if (mode != 0) spec.defaults.levels = xc::LevelSet::uniform(8);
    spec.defaults.joint_exact = mode == 2;
    spec.defaults.rho = {1e-2, 1.5, 1.0};
    auto admm = xc::AdmmState::init(*net, spec);
    std::vector<double> start;
    for (const auto& l : admm.layers()) {
      for (const auto& p : l.pairs) start.push_back((l.layer.weight - p.z).norm().item<double>());
    }
    for (int it = 0; it < kIterations; ++it) {
      steps(40, [&] { admm.add_penalty_gradients(); });
      admm.update();
    }
    std::size_t i = 0;
    for (const auto& l : admm.layers()) {
      for (const auto& p : l.pairs) {
        ASSERT_EQ(p.primal.size(), static_cast<std::size_t>(kIterations));
        std::string curve;
        for (double r : p.primal) curve += " " + std::to_string(r);
        EXPECT_LT(p.primal.back(), 0.1 * start[i++])
            << "mode " << mode << " " << l.layer.name << " " << xc::to_string(p.set) << " start "
            << start[i - 1] << ", ||W - Z|| per iteration:" << curve;
        EXPECT_NEAR(p.rhos.back(), std::min(1.0, 1e-2 * std::pow(1.5, kIterations - 1)), 1e-12);
      }
    }
  }
}

TEST(MaskedRetraining, PrunedStayZeroAndQuantizedStayOnLevels) {
  TinyNet net;
  const auto data = synthetic(256, 5);
  const auto spec = block_and_levels_spec(false);
  const auto masks = xc::MaskSet::hard_project(*net, spec);
  ASSERT_EQ(masks.layers().size(), 2u);
  std::string why;
  ASSERT_TRUE(masks.holds(&why)) << why;
  torch::optim::SGD opt(net->parameters(), torch::optim::SGDOptions(0.1).momentum(0.9).weight_decay(5e-3));
  sgd_steps(
      net, opt, data, 30, [&] { masks.apply_masks_to_grads(); }, &masks);
  EXPECT_TRUE(masks.holds(&why)) << why;
  for (const auto& m : masks.layers()) {
    const auto w = m.layer.weight.detach();
    EXPECT_TRUE(bitwise_zero(w.masked_select(m.mask.logical_not()))) << m.layer.name;
    const auto kept = w.masked_select(m.mask);
    EXPECT_TRUE((kept != 0).all().item<bool>());
    EXPECT_TRUE(xc::quantize_to_levels(kept, *m.levels, m.scale).equal(kept)) << m.layer.name;
    const auto& state = opt.state().at(c10::guts::to_string(m.layer.weight.unsafeGetTensorImpl()));
    const auto& buf = static_cast<torch::optim::SGDParamState&>(*state).momentum_buffer();
    EXPECT_TRUE(bitwise_zero(buf.masked_select(m.mask.logical_not()))) << m.layer.name;
  }
  // Training did something: the weights on levels moved between levels or the loss fell.
  // Control: without the masks, pruned weights leave zero.
  sgd_steps(net, opt, data, 3, [] {});
  EXPECT_FALSE(masks.holds());
}

TEST(MaskedRetraining, AdamStateIsMasked) {
  TinyNet net;
  const auto data = synthetic(128, 6);
  xc::CompressionSpec spec;
  spec.defaults.prune = {xc::PruneKind::column, xc::Keep::fraction(0.5), {4, 4}};
  const auto masks = xc::MaskSet::hard_project(*net, spec);
  torch::optim::Adam opt(net->parameters(), torch::optim::AdamOptions(1e-2).weight_decay(1e-3));
  for (int s = 0; s < 5; ++s) {
    opt.zero_grad();
    torch::nn::functional::cross_entropy(net->forward(data.x), data.y).backward();
    masks.apply_masks_to_grads();
    opt.step();
    masks.after_step(opt);
  }
  EXPECT_TRUE(masks.holds());
  for (const auto& m : masks.layers()) {
    const auto& st = static_cast<torch::optim::AdamParamState&>(
        *opt.state().at(c10::guts::to_string(m.layer.weight.unsafeGetTensorImpl())));
    EXPECT_TRUE(bitwise_zero(st.exp_avg().masked_select(m.mask.logical_not())));
    EXPECT_TRUE(bitwise_zero(st.exp_avg_sq().masked_select(m.mask.logical_not())));
  }
}

TEST(Sequential, PruneThenQuantizeStagesKeepTheFirstMask) {
  TinyNet net;
  const auto data = synthetic(256, 7);
  xc::CompressionSpec prune;
  prune.defaults.prune = {xc::PruneKind::row, xc::Keep::fraction(0.5), {4, 4}};
  prune.defaults.rho = {1e-2, 1.5, 1.0};
  torch::optim::SGD opt(net->parameters(), torch::optim::SGDOptions(0.05).momentum(0.9));
  auto admm1 = xc::AdmmState::init(*net, prune);
  for (int it = 0; it < 3; ++it) {
    sgd_steps(net, opt, data, 20, [&] { admm1.add_penalty_gradients(); });
    admm1.update();
  }
  const auto masks1 = xc::MaskSet::hard_project(*net, prune);
  sgd_steps(
      net, opt, data, 10, [&] { masks1.apply_masks_to_grads(); }, &masks1);

  xc::CompressionSpec quant;
  quant.defaults.levels = xc::LevelSet::uniform(4);
  quant.defaults.rho = {1e-2, 1.5, 1.0};
  auto admm2 = xc::AdmmState::init(*net, quant, &masks1);
  for (int it = 0; it < 3; ++it) {
    sgd_steps(
        net, opt, data, 20,
        [&] {
          admm2.add_penalty_gradients();
          masks1.apply_masks_to_grads();
        },
        &masks1);
    admm2.update();
    for (const auto& l : admm2.layers()) {
      // Z of the quantization stage is zero wherever stage 1 pruned.
      EXPECT_TRUE(bitwise_zero(l.pairs[0].z.masked_select(l.fixed_mask.logical_not())));
    }
  }
  const auto masks2 = xc::MaskSet::hard_project(*net, quant, &masks1);
  sgd_steps(
      net, opt, data, 10, [&] { masks2.apply_masks_to_grads(); }, &masks2);
  std::string why;
  EXPECT_TRUE(masks2.holds(&why)) << why;
  for (const auto& m : masks2.layers()) {
    const auto* first = masks1.find(m.layer.name);
    ASSERT_NE(first, nullptr);
    EXPECT_TRUE(m.mask.equal(first->mask)) << m.layer.name;
    ASSERT_TRUE(m.levels.has_value());
  }
}

TEST(Accounting, HandComputedBlocks) {
  // 4 x 6, tiles 2 x 3: a 2 x 2 grid; blocks 0 and 3 kept, 8 levels (3 bits).
  auto w = torch::zeros({4, 6});
  w.slice(0, 0, 2).slice(1, 0, 3).fill_(1.0);
  w.slice(0, 2, 4).slice(1, 3, 6).fill_(-2.0);
  xc::LayerSpec spec;
  spec.prune = {xc::PruneKind::block, xc::Keep::units(2), {2, 3}};
  spec.levels = xc::LevelSet::uniform(8);
  const auto a = xc::account_layer("l", w, spec);
  EXPECT_EQ(a.kept_weights, 12);
  EXPECT_EQ(a.blocks_total, 4);
  EXPECT_EQ(a.blocks_kept, 2);
  EXPECT_EQ(a.bits_per_weight, 3);
  EXPECT_DOUBLE_EQ(a.weight_bits, 36.0);
  EXPECT_DOUBLE_EQ(a.index_bits, 4.0);  // 2 kept blocks x ceil(log2 4) bits
  const auto t = xc::total({a});
  EXPECT_DOUBLE_EQ(t.compression_ratio, 768.0 / 36.0);
  EXPECT_DOUBLE_EQ(t.compression_ratio_with_index, 768.0 / 40.0);
  EXPECT_EQ(t.crossbars_kept, 2);
}

TEST(Accounting, HandComputedIrregularAndColumns) {
  // Irregular, 32-bit weights, 4-bit relative index (span 16): nonzeros at 0, 3, 39 give gaps
  // 1, 3, 36; the last needs ceil(36/16) - 1 = 2 fillers.
  auto w = torch::zeros({1, 40});
  w[0][0] = 1.0;
  w[0][3] = 1.0;
  w[0][39] = 1.0;
  xc::LayerSpec irr;
  irr.prune = {xc::PruneKind::irregular, xc::Keep::units(3), {1, 8}};
  const auto a = xc::account_layer("irr", w, irr);
  EXPECT_EQ(a.kept_weights, 3);
  EXPECT_EQ(a.filler_entries, 2);
  EXPECT_DOUBLE_EQ(a.weight_bits, 96.0);
  EXPECT_DOUBLE_EQ(a.index_bits, (3 + 2) * 4.0 + 2 * 32.0);
  EXPECT_EQ(a.blocks_total, 5);
  EXPECT_EQ(a.blocks_kept, 2);  // tiles 1x8: positions 0..7 and 32..39

  // Columns: 2 of 6 kept, 4 levels (2 bits), a 6-bit column bitmap.
  auto c = torch::zeros({4, 6});
  c.select(1, 1).fill_(0.5);
  c.select(1, 4).fill_(-0.5);
  xc::LayerSpec col;
  col.prune = {xc::PruneKind::column, xc::Keep::units(2), {4, 6}};
  col.levels = xc::LevelSet::uniform(4);
  const auto b = xc::account_layer("col", c, col);
  EXPECT_EQ(b.kept_weights, 8);
  EXPECT_DOUBLE_EQ(b.index_bits, 6.0);
  const auto t = xc::total({a, b});
  EXPECT_EQ(t.dense_weights, 64);
  EXPECT_DOUBLE_EQ(t.compression_ratio, 32.0 * 64 / (96.0 + 16.0));
  EXPECT_DOUBLE_EQ(t.compression_ratio_with_index, 32.0 * 64 / (96.0 + 16.0 + 84.0 + 6.0));
}

TEST(Accounting, ModelAfterHardProjection) {
  TinyNet net;
  const auto spec = block_and_levels_spec(false);
  xc::MaskSet::hard_project(*net, spec);
  const auto t = xc::account_model(*net, spec);
  ASSERT_EQ(t.layers.size(), 3u);
  EXPECT_EQ(t.layers[2].bits_per_weight, 32);  // fc2 skipped: dense float
  EXPECT_EQ(t.layers[2].kept_weights, 72);
  EXPECT_EQ(t.dense_weights, 6 * 18 + 24 * 96 + 72);
  // conv 6x18 in 4x8 tiles: 2x3 = 6 tiles, 30% -> 2 kept; fc1 24x96: 6x12 = 72 tiles -> 22.
  EXPECT_EQ(t.layers[0].blocks_kept, 2);
  EXPECT_EQ(t.layers[1].blocks_kept, 22);
  EXPECT_GT(t.compression_ratio, t.compression_ratio_with_index);
}

#include "xbarsweep/compress/pipeline.hpp"

TEST(Pipeline, JointAndSequentialRunEndToEnd) {
  for (bool sequential : {false, true}) {
    TinyNet net;
    const auto data = synthetic(256, 11);
    torch::optim::SGD opt(net->parameters(), torch::optim::SGDOptions(0.02).momentum(0.9).weight_decay(1e-4));
    sgd_steps(net, opt, data, 200, [] {});
    xc::TrainingCallbacks t;
    t.train_epoch = [&](const xc::StepHooks& hooks) {
      for (int s = 0; s < 16; ++s) {
        const auto idx = torch::arange(s * 16, s * 16 + 16);
        opt.zero_grad();
        torch::nn::functional::cross_entropy(net->forward(data.x.index({idx})), data.y.index({idx}))
            .backward();
        if (hooks.before_step) hooks.before_step();
        opt.step();
        if (hooks.after_step) hooks.after_step(opt);
      }
    };
    t.evaluate = [&] {
      torch::NoGradGuard g;
      return net->forward(data.x).argmax(1).eq(data.y).to(torch::kDouble).mean().item<double>();
    };
    xc::PipelineConfig c;
    c.spec = block_and_levels_spec(false);
    c.admm_iterations = 4;
    c.retrain_epochs = 2;
    if (sequential) {
      c.spec.defaults.levels.reset();
      xc::CompressionSpec q;
      q.defaults.levels = xc::LevelSet::uniform(8);
      q.skip = c.spec.skip;
      c.quantize_stage = q;
    }
    const auto r = xc::run_admm_compression(*net, t, c);
    ASSERT_EQ(r.residuals.size(), sequential ? 2u : 1u);
    EXPECT_EQ(r.residuals[0].size(), 4u);
    std::string why;
    EXPECT_TRUE(r.masks.holds(&why)) << why;
    EXPECT_GE(r.accuracy, 0.0);
    EXPECT_GE(r.projected_accuracy, 0.0);
    // conv and fc1 at 30% of blocks and 3 bits; fc2 dense at 32 bits.
    EXPECT_EQ(r.account.layers[0].bits_per_weight, 3);
    EXPECT_EQ(r.account.layers[1].blocks_kept, 22);
    EXPECT_GT(r.account.compression_ratio, 10.0);
  }
}

// Straight-through retraining (for a forward pass that quantizes by itself): during retraining
// the kept weights move freely (many more values than levels, within the top level) while pruned
// ones stay exactly 0;
// when the stage ends they are on their levels, as after projected retraining.
TEST(Pipeline, StraightThroughRetrainingKeepsLatentWeightsAndEndsOnLevels) {
  TinyNet net;
  const auto data = synthetic(256, 12);
  torch::optim::SGD opt(net->parameters(), torch::optim::SGDOptions(0.02).momentum(0.9));
  sgd_steps(net, opt, data, 200, [] {});
  std::string stage;
  std::vector<std::int64_t> retrain_values;  // distinct values of fc1's weights after each retrain epoch
  std::vector<std::int64_t> pruned_nonzero;
  std::vector<double> retrain_max;  // max |fc1| after each retrain epoch
  xc::TrainingCallbacks t;
  t.progress = [&](const std::string& s, std::int64_t) { stage = s; };
  xc::PipelineConfig c;
  c.spec = block_and_levels_spec(false);
  c.admm_iterations = 2;
  c.retrain_epochs = 2;
  c.levels_straight_through = true;
  torch::Tensor zero_before;  // fc1's pruned weights, from the hard projection
  t.train_epoch = [&](const xc::StepHooks& hooks) {
    if (stage == "retrain" && !zero_before.defined()) zero_before = net->fc1->weight.detach().eq(0).clone();
    for (int s = 0; s < 16; ++s) {
      const auto idx = torch::arange(s * 16, s * 16 + 16);
      opt.zero_grad();
      torch::nn::functional::cross_entropy(net->forward(data.x.index({idx})), data.y.index({idx})).backward();
      if (hooks.before_step) hooks.before_step();
      opt.step();
      if (hooks.after_step) hooks.after_step(opt);
    }
    if (stage == "retrain") {
      const auto w = net->fc1->weight.detach();
      retrain_values.push_back(std::get<0>(at::_unique(w.flatten())).size(0));
      pruned_nonzero.push_back(w.masked_select(zero_before).ne(0).sum().item<std::int64_t>());
      retrain_max.push_back(w.abs().max().item<double>());
    }
  };
  const auto r = xc::run_admm_compression(*net, t, c);
  ASSERT_EQ(retrain_values.size(), 2u);
  for (std::size_t e = 0; e < 2; ++e) {
    EXPECT_GT(retrain_values[e], 100) << "epoch " << e << ": latent weights, not 8 levels";
    EXPECT_EQ(pruned_nonzero[e], 0) << "epoch " << e << ": pruned weights stay 0";
  }
  std::string why;
  EXPECT_TRUE(r.masks.holds(&why)) << why;
  EXPECT_LE(std::get<0>(at::_unique(net->fc1->weight.detach().flatten())).size(0), 9) << "on 8 levels and 0";
  const auto* fc1 = r.masks.find("fc1.weight");
  ASSERT_NE(fc1, nullptr);
  const double top = fc1->scale * fc1->levels->shape.back();
  for (const double m : retrain_max) EXPECT_LE(m, top * (1 + 1e-6)) << "latent weights within the top level";
}
