// train_speed_vs_pytorch: LibTorch training throughput (samples/s) of LeNet-5 through
// xbarsweep's training loop (nn::train_epoch) over Python PyTorch's on the same model, batch,
// data size and thread count (1), measured in the same run: repetitions alternate between one
// LibTorch epoch here and one PyTorch epoch in bench/compress/train_speed_pytorch.py (whose
// interpreter start and warm-up are outside its timer); the figure is the median of the
// per-repetition ratios.
#include "../bench_timing.hpp"
#include <ATen/Parallel.h>
#include <torch/torch.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "xbarsweep/nn/models.hpp"
#include "xbarsweep/nn/training.hpp"

namespace nn = xbarsweep::nn;

namespace {

using xbarsweep::bench::median;

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
  const int reps = argc > 1 ? std::atoi(argv[1]) : 7;
  const std::int64_t batches = argc > 2 ? std::atoll(argv[2]) : 100;
  const std::int64_t batch = argc > 3 ? std::atoll(argv[3]) : 64;
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

  std::vector<double> ratios, ours, theirs;
  for (int r = 0; r < reps; ++r) {
    const auto t0 = std::chrono::steady_clock::now();
    nn::train_epoch(*model, *optimizer, train, batch, static_cast<std::uint64_t>(r + 1));
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    const double py = pytorch_samples_per_s(batch, batches);
    if (py <= 0.0) {
      std::printf("# python3 with torch not found (apt-get install python3-torch)\n");
      std::printf("train_speed_vs_pytorch: n/a (target >= 1.0)\n");
      return 0;
    }
    ours.push_back(static_cast<double>(n) / s);
    theirs.push_back(py);
    ratios.push_back(ours.back() / py);
    std::printf("# rep %d: libtorch %.0f samples/s, pytorch %.0f samples/s, ratio %.3f\n", r,
                ours.back(), py, ratios.back());
  }
  std::printf("# LeNet-5 28x28, batch %lld, %lld batches per epoch, SGD momentum 0.9, 1 thread, %d reps\n",
              static_cast<long long>(batch), static_cast<long long>(batches), reps);
  std::printf("# median libtorch %.0f samples/s, median pytorch %.0f samples/s\n", median(ours), median(theirs));
  std::printf("train_speed_vs_pytorch: %.3f (target >= 1.0)\n", median(ratios));
  return 0;
}
