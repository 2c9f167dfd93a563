// hw_eval_overhead_lenet5 and hw_eval_overhead_vgg16: one Monte Carlo device sample of hardware
// evaluation (program every Linear and Conv2d onto 32x32 crossbars with the bench's crossbar
// config, then classify the test images through the simulated MVMs) over the software forward
// of the same model on the same images, same process, one thread, repetitions interleaved.
// Calibration (200 images) is excluded from the timing; programming is included. Then one more
// device sample with the per-layer profile (HardwareModel::profile) printed.
#include <ATen/Parallel.h>
#include <torch/torch.h>

#include <Kokkos_Core.hpp>
#include <cstdio>
#include <string>

#include "bench_config.hpp"
#include "bench_figures.hpp"
#include "xbarsweep/analog/model_eval.hpp"
#include "xbarsweep/nn/models.hpp"

extern "C" void openblas_set_num_threads(int) __attribute__((weak));

namespace nn = xbarsweep::nn;
namespace analog = xbarsweep::analog;

namespace {

struct Workload {
  std::string name;
  std::shared_ptr<nn::Classifier> model;
  torch::Tensor test, calibration;
};

constexpr std::int64_t kBatch = 250;

void software_pass(Workload& w) {
  torch::NoGradGuard no_grad;
  w.model->eval();
  for (std::int64_t b = 0; b < w.test.size(0); b += kBatch)
    benchmark::DoNotOptimize(w.model->forward(w.test.narrow(0, b, std::min(kBatch, w.test.size(0) - b))));
}

void hardware_pass(Workload& w, const xbarsweep::crossbar::CrossbarConfig& config, benchmark::State* state,
                   bool print_profile) {
  analog::HardwareModel hw(*w.model, config, 7);
  if (state) state->PauseTiming();
  hw.calibrate(w.calibration);
  hw.reset_profile();
  if (state) state->ResumeTiming();
  for (std::int64_t b = 0; b < w.test.size(0); b += kBatch)
    benchmark::DoNotOptimize(hw.forward(w.test.narrow(0, b, std::min(kBatch, w.test.size(0) - b))));
  if (!print_profile) return;
  std::printf("per-layer profile of one device sample of %s (%lld images), seconds:\n", w.name.c_str(),
              static_cast<long long>(w.test.size(0)));
  std::printf("  %-14s %9s %9s %9s %9s %6s\n", "layer", "program", "unfold", "simulate", "rows", "tiles");
  for (const auto& l : hw.profile())
    std::printf("  %-14s %9.4f %9.4f %9.4f %9lld %6lld\n", l.name.c_str(), l.program_s, l.unfold_s,
                l.simulate_s, static_cast<long long>(l.rows), static_cast<long long>(l.tiles));
}

}  // namespace

int main(int argc, char** argv) {
  Kokkos::ScopeGuard kokkos(argc, argv);
  auto args =
      xbarsweep::bench::initialize(argc, argv, {"--benchmark_repetitions=5", "--benchmark_min_time=0.001"});
  const std::int64_t lenet_images = xbarsweep::bench::take_option(args, "--lenet5-images", 2000);
  const std::int64_t vgg_images = xbarsweep::bench::take_option(args, "--vgg16-images", 500);
  xbarsweep::bench::require_no_arguments_left(args, argv[0],
                                              "[--reps=5] [--lenet5-images=2000] [--vgg16-images=500]");
  at::set_num_threads(1);
  if (openblas_set_num_threads) openblas_set_num_threads(1);  // one thread each, BLAS included
  torch::manual_seed(0);

  nn::ModelOptions lenet_options;
  lenet_options.seed = 1;
  nn::ModelOptions vgg_options;
  vgg_options.seed = 1;
  vgg_options.in_channels = 3;
  vgg_options.image_size = 32;
  vgg_options.width = 0.125;
  std::vector<Workload> workloads = {{"lenet5", nn::make_model("lenet5", lenet_options),
                                      torch::rand({lenet_images, 1, 28, 28}), torch::rand({200, 1, 28, 28})},
                                     {"vgg16", nn::make_model("vgg16", vgg_options),
                                      torch::rand({vgg_images, 3, 32, 32}), torch::rand({200, 3, 32, 32})}};

  auto config = xbarsweep::bench::crossbar_bench_config();
  config.rows = config.cols = 32;
  for (auto& w : workloads) {
    Workload* p = &w;
    benchmark::RegisterBenchmark(("software/" + w.name).c_str(),
                                 [p](benchmark::State& s) {
                                   for (auto _ : s) software_pass(*p);
                                 })
        ->UseRealTime()
        ->Unit(benchmark::kMillisecond);
    benchmark::RegisterBenchmark(("hardware/" + w.name).c_str(),
                                 [p, config](benchmark::State& s) {
                                   for (auto _ : s) hardware_pass(*p, config, &s, false);
                                 })
        ->UseRealTime()
        ->Unit(benchmark::kMillisecond);
  }
  xbarsweep::bench::MedianReporter medians;
  benchmark::RunSpecifiedBenchmarks(&medians);
  benchmark::ClearRegisteredBenchmarks();

  for (auto& w : workloads) hardware_pass(w, config, nullptr, true);
  std::printf(
      "hardware: 32x32 crossbars, differential pair, 16 levels, lognormal sigma 0.05, additive read noise "
      "0.01, "
      "8-bit DAC, calibrated 8-bit ADC (200 images, untimed); programming timed; batches of %lld; 1 thread\n",
      static_cast<long long>(kBatch));
  for (const auto& w : workloads) {
    xbarsweep::bench::print_figure(("hw_eval_overhead_" + w.name).c_str(),
                                   xbarsweep::bench::ratio(medians.median_s("hardware/" + w.name),
                                                           medians.median_s("software/" + w.name)),
                                   3, "target <= 3.0");
  }
  benchmark::Shutdown();
  return 0;
}
