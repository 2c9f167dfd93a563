// ADMM-epoch overhead: an epoch of SGD with ADMM's penalty gradient on every step and one Z/U
// update (projection) at its end, over a plain SGD epoch of the same model and batches. Both are
// Google Benchmark benchmarks of one run, one epoch per repetition, repetitions interleaved at
// random; the figure is the ratio of the two medians.
#include <torch/torch.h>

#include <cstdio>

#include "bench_figures.hpp"
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

}  // namespace

int main(int argc, char** argv) {
  auto args = xbarsweep::bench::initialize(
      argc, argv, {"--benchmark_repetitions=9", "--benchmark_min_time=0.001"});  // one epoch per repetition
  const int batches = static_cast<int>(xbarsweep::bench::take_option(args, "--batches", 100));
  xbarsweep::bench::require_no_arguments_left(args, argv[0], "[--reps=9] [--batches=100]");
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
    for (int b = 0; b < batches; ++b) {
      const auto xb = x.slice(0, b * kBatch, (b + 1) * kBatch);
      const auto yb = y.slice(0, b * kBatch, (b + 1) * kBatch);
      opt.zero_grad();
      torch::nn::functional::cross_entropy(net->forward(xb), yb).backward();
      if (with_admm) admm.add_penalty_gradients();
      opt.step();
    }
    if (with_admm) admm.update();
  };
  epoch(false);
  epoch(true);  // warm-up
  for (const bool with_admm : {false, true}) {
    benchmark::RegisterBenchmark(with_admm ? "epoch/admm" : "epoch/plain",
                                 [&, with_admm](benchmark::State& s) {
                                   for (auto _ : s) epoch(with_admm);
                                 })
        ->UseRealTime()
        ->Unit(benchmark::kMillisecond);
  }
  xbarsweep::bench::MedianReporter medians;
  benchmark::RunSpecifiedBenchmarks(&medians);
  benchmark::ClearRegisteredBenchmarks();

  const auto plain_s = medians.median_s("epoch/plain"), admm_s = medians.median_s("epoch/admm");
  std::printf("model: LeNet-5 (1x32x32), batch %d, %d batches per epoch, 1 thread\n", kBatch, batches);
  using xbarsweep::bench::print_figure;
  print_figure("plain_epoch_s", plain_s, 4, "median");
  print_figure("admm_epoch_s", admm_s, 4, "median");
  print_figure("admm_epoch_overhead", xbarsweep::bench::ratio(admm_s, plain_s), 3, "target <= 1.3");
  benchmark::Shutdown();
  return 0;
}
