// torchscript_epoch_overhead and torchscript_hw_eval_overhead: LeNet-5 loaded from TorchScript
// (the built-in's architecture exported by tests/support/export_models.py, same weights through
// model init "seed") against the built-in LeNet-5, in the same run, one thread:
// - a training epoch through nn::train_epoch (SGD, batch 64);
// - one device sample of hardware evaluation on 32x32 crossbars with the bench's crossbar
//   config: programming every layer, calibration on 200 images, then the test images.
// Four Google Benchmark benchmarks, one epoch or sample per repetition, repetitions interleaved at
// random; each figure is the ratio of two medians. The script's time includes the graph
// interpreter and, for the hardware pass, the xbarsweep::mapped_layer call-backs.
#include <ATen/Parallel.h>
#include <torch/torch.h>

#include <Kokkos_Core.hpp>
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>

#include "bench_config.hpp"
#include "bench_figures.hpp"
#include "xbarsweep/analog/model_eval.hpp"
#include "xbarsweep/nn/models.hpp"
#include "xbarsweep/nn/training.hpp"

namespace nn = xbarsweep::nn;
namespace analog = xbarsweep::analog;

namespace {

// LeNet-5 exported by Debian's python3-torch into a fresh directory; empty when it cannot be.
std::string export_lenet5() {
  std::string dir = (std::filesystem::temp_directory_path() / "xbarsweep-bench-XXXXXX").string();
  if (mkdtemp(dir.data()) == nullptr) return {};
  const std::string cmd = std::string("/usr/bin/python3 ") + XBARSWEEP_SOURCE_DIR +
                          "/tests/support/export_models.py " + dir + " >/dev/null 2>&1";
  return std::system(cmd.c_str()) == 0 ? dir : std::string();
}

}  // namespace

int main(int argc, char** argv) {
  Kokkos::ScopeGuard kokkos(argc, argv);
  auto args =
      xbarsweep::bench::initialize(argc, argv, {"--benchmark_repetitions=7", "--benchmark_min_time=0.001"});
  const std::int64_t batches = xbarsweep::bench::take_option(args, "--batches", 60);
  const std::int64_t test = xbarsweep::bench::take_option(args, "--test", 1000);
  xbarsweep::bench::require_no_arguments_left(args, argv[0], "[--reps=7] [--batches=60] [--test=1000]");
  at::set_num_threads(1);
  const std::string dir = export_lenet5();
  if (dir.empty()) {
    std::printf("torchscript_epoch_overhead: n/a (no /usr/bin/python3 with torch to export the model)\n");
    std::printf("torchscript_hw_eval_overhead: n/a (no /usr/bin/python3 with torch to export the model)\n");
    return 0;
  }
  torch::manual_seed(0);
  constexpr std::int64_t kBatch = 64;
  const std::int64_t n = kBatch * batches;
  const xbarsweep::data::Split train{torch::rand({n, 1, 28, 28}), torch::randint(0, 10, {n})};
  const xbarsweep::data::Split test_split{torch::rand({test, 1, 28, 28}), torch::randint(0, 10, {test})};

  nn::ModelOptions options;
  options.seed = 1;
  const auto builtin = nn::make_model("lenet5", options);
  options.path = dir + "/lenet5.pt";
  options.reinitialise = true;
  const auto script = nn::make_model("torchscript", options);
  std::filesystem::remove_all(dir);
  nn::OptimizerOptions sgd;
  sgd.lr = 0.01;
  const auto opt_builtin = nn::make_optimizer(*builtin, sgd);
  const auto opt_script = nn::make_optimizer(*script, sgd);

  auto crossbar = xbarsweep::bench::crossbar_bench_config();
  crossbar.rows = crossbar.cols = 32;
  // One device sample, as evaluate_on_crossbars runs it: program, calibrate, classify.
  const auto hw_sample = [&](nn::Classifier& model) {
    analog::HardwareModel hw(model, crossbar, 7);
    hw.calibrate(train.images.narrow(0, 0, 200));
    std::int64_t correct = 0;
    for (std::int64_t begin = 0; begin < test; begin += 250) {
      const auto m = std::min<std::int64_t>(250, test - begin);
      correct += hw.forward(test_split.images.narrow(0, begin, m))
                     .argmax(1)
                     .eq(test_split.labels.narrow(0, begin, m))
                     .sum()
                     .item<std::int64_t>();
    }
    benchmark::DoNotOptimize(correct);
  };

  struct Case {
    const char* name;
    nn::Classifier* model;
    torch::optim::Optimizer* optimizer;
  };
  const Case cases[] = {{"builtin", builtin.get(), opt_builtin.get()},
                        {"torchscript", script.get(), opt_script.get()}};
  for (const Case& c : cases) {  // warm-up: the script's executor profiles its first runs
    nn::train_epoch(*c.model, *c.optimizer, train, kBatch, 0);
    hw_sample(*c.model);
  }
  for (const Case& c : cases) {
    benchmark::RegisterBenchmark((std::string("epoch/") + c.name).c_str(),
                                 [c, &train](benchmark::State& s) {
                                   for (auto _ : s) nn::train_epoch(*c.model, *c.optimizer, train, kBatch, 1);
                                 })
        ->UseRealTime()
        ->Unit(benchmark::kMillisecond);
    benchmark::RegisterBenchmark((std::string("hw_sample/") + c.name).c_str(),
                                 [c, &hw_sample](benchmark::State& s) {
                                   for (auto _ : s) hw_sample(*c.model);
                                 })
        ->UseRealTime()
        ->Unit(benchmark::kMillisecond);
  }
  xbarsweep::bench::MedianReporter medians;
  benchmark::RunSpecifiedBenchmarks(&medians);
  benchmark::ClearRegisteredBenchmarks();

  using xbarsweep::bench::print_figure;
  using xbarsweep::bench::ratio;
  std::printf(
      "model: LeNet-5 (1x28x28); epoch: %lld batches of %lld; hardware sample: %lld test images, "
      "32x32 crossbars, 200 calibration images; 1 thread\n",
      static_cast<long long>(batches), static_cast<long long>(kBatch), static_cast<long long>(test));
  print_figure("torchscript_epoch_overhead",
               ratio(medians.median_s("epoch/torchscript"), medians.median_s("epoch/builtin")), 3,
               "target <= 1.1");
  print_figure("torchscript_hw_eval_overhead",
               ratio(medians.median_s("hw_sample/torchscript"), medians.median_s("hw_sample/builtin")), 3,
               "target <= 1.1");
  benchmark::Shutdown();
  return 0;
}
