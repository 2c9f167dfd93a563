// train_speed_vs_pytorch: LibTorch training throughput (samples/s) of LeNet-5 through
// xbarsweep's training loop (nn::train_epoch) over Python PyTorch's on the same model, batch,
// data size and thread count (1), measured in the same run: two Google Benchmark benchmarks, one
// LibTorch epoch here and one PyTorch epoch in bench/compress/train_speed_pytorch.py (timed by
// the script itself: its interpreter start and warm-up are outside its timer, and its time is
// this benchmark's manual time), one epoch per repetition, repetitions interleaved at random; the
// figure is the ratio of the two medians.
#include <ATen/Parallel.h>
#include <torch/torch.h>

#include <array>
#include <cstdio>
#include <memory>
#include <string>

#include "bench_figures.hpp"
#include "xbarsweep/nn/models.hpp"
#include "xbarsweep/nn/training.hpp"

namespace nn = xbarsweep::nn;

namespace {

// One PyTorch epoch's samples/s, or a negative value when Debian's python3 (/usr/bin, where
// python3-torch installs; not a pyenv shim) or its torch is missing.
double pytorch_samples_per_s(std::int64_t batch, std::int64_t batches) {
  const std::string cmd = std::string("/usr/bin/python3 ") + XBARSWEEP_SOURCE_DIR +
                          "/bench/compress/train_speed_pytorch.py --threads 1 --reps 1 --batch " +
                          std::to_string(batch) + " --batches " + std::to_string(batches) + " 2>/dev/null";
  std::unique_ptr<FILE, int (*)(FILE*)> pipe(::popen(cmd.c_str(), "r"), ::pclose);
  if (!pipe) return -1.0;
  std::array<char, 256> line{};
  double value = -1.0;
  while (std::fgets(line.data(), line.size(), pipe.get()) != nullptr) {
    std::sscanf(line.data(), "samples_per_s: %lf", &value);
  }
  return value;
}

}  // namespace

int main(int argc, char** argv) {
  auto args = xbarsweep::bench::initialize(
      argc, argv, {"--benchmark_repetitions=7", "--benchmark_min_time=0.001"});  // one epoch per repetition
  const std::int64_t batches = xbarsweep::bench::take_option(args, "--batches", 100);
  const std::int64_t batch = xbarsweep::bench::take_option(args, "--batch", 64);
  xbarsweep::bench::require_no_arguments_left(args, argv[0], "[--reps=7] [--batches=100] [--batch=64]");
  at::set_num_threads(1);
  torch::manual_seed(0);
  const std::int64_t n = batch * batches;
  xbarsweep::data::Split train{torch::randn({n, 1, 28, 28}), torch::randint(0, 10, {n})};
  xbarsweep::data::Split warm{train.images.narrow(0, 0, batch * 10), train.labels.narrow(0, 0, batch * 10)};
  nn::ModelOptions options;
  const auto model = nn::make_model("lenet5", options);
  nn::OptimizerOptions sgd;
  sgd.lr = 0.01;
  sgd.momentum = 0.9;
  const auto optimizer = nn::make_optimizer(*model, sgd);
  nn::train_epoch(*model, *optimizer, warm, batch, 0);

  std::uint64_t shuffle_seed = 0;  // a new permutation every epoch
  benchmark::RegisterBenchmark("epoch/libtorch",
                               [&](benchmark::State& s) {
                                 for (auto _ : s)
                                   nn::train_epoch(*model, *optimizer, train, batch, ++shuffle_seed);
                               })
      ->UseRealTime()
      ->Unit(benchmark::kMillisecond);
  bool pytorch_missing = false;
  benchmark::RegisterBenchmark(
      "epoch/pytorch",
      [&](benchmark::State& s) {
        for (auto _ : s) {
          const double py = pytorch_samples_per_s(batch, batches);
          if (py <= 0.0) {
            pytorch_missing = true;
            s.SkipWithError("python3 with torch not found (apt-get install python3-torch)");
            break;
          }
          s.SetIterationTime(static_cast<double>(n) / py);
        }
      })
      ->UseManualTime()
      ->Unit(benchmark::kMillisecond);
  xbarsweep::bench::MedianReporter medians;
  benchmark::RunSpecifiedBenchmarks(&medians);
  benchmark::ClearRegisteredBenchmarks();

  const auto ours_s = medians.median_s("epoch/libtorch"), theirs_s = medians.median_s("epoch/pytorch");
  std::printf("# LeNet-5 28x28, batch %lld, %lld batches per epoch, SGD momentum 0.9, 1 thread\n",
              static_cast<long long>(batch), static_cast<long long>(batches));
  if (pytorch_missing) std::printf("# python3 with torch not found (apt-get install python3-torch)\n");
  if (ours_s && theirs_s) {
    std::printf("# median libtorch %.0f samples/s, median pytorch %.0f samples/s\n",
                static_cast<double>(n) / *ours_s, static_cast<double>(n) / *theirs_s);
  }
  // Samples per second, ours over theirs: the same epoch, so their epoch time over ours.
  xbarsweep::bench::print_figure("train_speed_vs_pytorch", xbarsweep::bench::ratio(theirs_s, ours_s), 3,
                                 "target >= 1.0");
  benchmark::Shutdown();
  return 0;
}
