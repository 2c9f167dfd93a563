// hw_memory_ratio_vgg16: the memory one device sample of hardware evaluation takes, over the
// model's dense float32 weights. VGG-16 at full width (3 x 32 x 32 inputs, 15 M weights) is
// programmed onto 32x32 crossbars with the bench's crossbar config, calibrated on one batch of
// 32 images and run on it: peak resident memory (VmHWM, reset after the model is built) less the
// resident memory before programming. No training.
#include <ATen/Parallel.h>
#include <torch/torch.h>

#include <Kokkos_Core.hpp>
#include <cstdio>
#include <fstream>
#include <string>

#include "bench_config.hpp"
#include "bench_figures.hpp"
#include "xbarsweep/analog/model_eval.hpp"
#include "xbarsweep/nn/models.hpp"

namespace nn = xbarsweep::nn;
namespace analog = xbarsweep::analog;

namespace {

// A field of /proc/self/status in bytes ("VmRSS", "VmHWM"); nullopt where unreadable.
std::optional<double> status_bytes(const std::string& field) {
  std::ifstream in("/proc/self/status");
  std::string key;
  double kb = 0;
  std::string unit;
  while (in >> key) {
    if (key == field + ":") {
      if (in >> kb >> unit) return kb * 1024.0;
      return std::nullopt;
    }
    in.ignore(1 << 20, '\n');
  }
  return std::nullopt;
}

// Resets VmHWM to the current resident size (Linux clear_refs, value 5).
bool reset_peak() {
  std::ofstream out("/proc/self/clear_refs");
  out << "5";
  return static_cast<bool>(out.flush());
}

}  // namespace

int main(int argc, char** argv) {
  Kokkos::ScopeGuard kokkos(argc, argv);
  auto args = xbarsweep::bench::initialize(argc, argv, {});
  const std::int64_t images = xbarsweep::bench::take_option(args, "--images", 32);
  xbarsweep::bench::require_no_arguments_left(args, argv[0], "[--images=32]");
  at::set_num_threads(1);
  torch::manual_seed(0);
  torch::NoGradGuard no_grad;

  nn::ModelOptions options;
  options.seed = 1;
  options.in_channels = 3;
  options.image_size = 32;
  options.width = 1.0;
  auto model = nn::make_model("vgg16", options);
  model->eval();
  std::int64_t weights = 0;
  for (const auto& p : model->named_parameters())
    if (p.key().find("weight") != std::string::npos && p.value().dim() >= 2) weights += p.value().numel();
  const torch::Tensor batch = torch::rand({images, 3, 32, 32});
  auto config = xbarsweep::bench::crossbar_bench_config();
  config.rows = config.cols = 32;

  const auto before = status_bytes("VmRSS");
  const bool reset = reset_peak();
  std::optional<double> peak;
  {
    analog::HardwareModel hw(*model, config, 7);
    hw.calibrate(batch);
    benchmark::DoNotOptimize(hw.forward(batch));
    peak = status_bytes("VmHWM");
  }
  const double dense = 4.0 * static_cast<double>(weights);
  std::printf(
      "VGG-16 (width 1): %lld weights, %.1f MB as float32; resident before programming %.1f MB, peak %.1f MB "
      "(one device sample: programming, calibration and a batch of %lld images on 32x32 crossbars)\n",
      static_cast<long long>(weights), dense / 1e6, before.value_or(0) / 1e6, peak.value_or(0) / 1e6,
      static_cast<long long>(images));
  std::optional<double> ratio;
  if (reset && before && peak) ratio = (*peak - *before) / dense;
  xbarsweep::bench::print_figure("hw_memory_ratio_vgg16", ratio, 2, "target <= 3.0");
  return 0;
}
