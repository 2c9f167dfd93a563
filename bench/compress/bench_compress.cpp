// ADMM-epoch overhead: an epoch of SGD with ADMM's penalty gradient on every step and one Z/U
// update (projection) at its end, over a plain SGD epoch of the same model and batches. The two
// are interleaved; the figure is the median of per-repetition ratios.
#include "../bench_timing.hpp"
#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "xbarsweep/compress/admm.hpp"

namespace xc = xbarsweep::compress;

namespace {

// LeNet-5 on 1x32x32 (paper A's small model), defined here so the bench depends on compress only.
struct LeNet5Impl : torch::nn::Module {
  LeNet5Impl() {
    c1 = register_module("c1", torch::nn::Conv2d(torch::nn::Conv2dOptions(1, 6, 5)));
    c3 = register_module("c3", torch::nn::Conv2d(torch::nn::Conv2dOptions(6, 16, 5)));
    f5 = register_module("f5", torch::nn::Linear(16 * 5 * 5, 120));
    f6 = register_module("f6", torch::nn::Linear(120, 84));
    f7 = register_module("f7", torch::nn::Linear(84, 10));
  }
  torch::Tensor forward(torch::Tensor x) {
    x = torch::max_pool2d(torch::relu(c1(x)), 2);
    x = torch::max_pool2d(torch::relu(c3(x)), 2);
    x = torch::relu(f5(x.flatten(1)));
    return f7(torch::relu(f6(x)));
  }
  torch::nn::Conv2d c1{nullptr}, c3{nullptr};
  torch::nn::Linear f5{nullptr}, f6{nullptr}, f7{nullptr};
};
TORCH_MODULE(LeNet5);

using xbarsweep::bench::median;

}  // namespace

int main(int argc, char** argv) {
  const int reps = argc > 1 ? std::atoi(argv[1]) : 9;
  const int batches = argc > 2 ? std::atoi(argv[2]) : 100;
  constexpr int kBatch = 64;
  torch::set_num_threads(1);
  torch::manual_seed(0);
  LeNet5 net;
  const auto x = torch::randn({batches * kBatch, 1, 32, 32});
  const auto y = torch::randint(0, 10, {batches * kBatch});
  torch::optim::SGD opt(net->parameters(), torch::optim::SGDOptions(0.01).momentum(0.9));

  xc::CompressionSpec spec;
  spec.defaults.prune = {xc::PruneKind::block, xc::Keep::fraction(0.2), {32, 32}};
  spec.defaults.levels = xc::LevelSet::uniform(16);  // two pairs per layer: the costlier case
  spec.defaults.rho = {1e-3, 1.0, 1.0};              // no growth: each rep does the same work
  auto admm = xc::AdmmState::init(*net, spec);

  auto epoch = [&](bool with_admm) {
    const auto t0 = std::chrono::steady_clock::now();
    for (int b = 0; b < batches; ++b) {
      const auto xb = x.slice(0, b * kBatch, (b + 1) * kBatch);
      const auto yb = y.slice(0, b * kBatch, (b + 1) * kBatch);
      opt.zero_grad();
      torch::nn::functional::cross_entropy(net->forward(xb), yb).backward();
      if (with_admm) admm.add_penalty_gradients();
      opt.step();
    }
    if (with_admm) admm.update();
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  };
  epoch(false);
  epoch(true);  // warm-up
  std::vector<double> ratios, plain_s, admm_s;
  for (int r = 0; r < reps; ++r) {
    // Alternate the order so drift in machine load does not favour one side.
    double p, a;
    if (r % 2 == 0) {
      p = epoch(false);
      a = epoch(true);
    } else {
      a = epoch(true);
      p = epoch(false);
    }
    plain_s.push_back(p);
    admm_s.push_back(a);
    ratios.push_back(a / p);
  }
  std::printf("model: LeNet-5 (1x32x32), batch %d, %d batches per epoch, 1 thread, %d reps\n",
              kBatch, batches, reps);
  std::printf("plain_epoch_s: %.4f (median)\nadmm_epoch_s: %.4f (median)\n", median(plain_s),
              median(admm_s));
  std::printf("admm_epoch_overhead: %.3f (target <= 1.3)\n", median(ratios));
  return 0;
}
