// checkpoint_overhead: one admm point (LeNet-5 on synthetic 28x28 images, 32x32 crossbar blocks,
// 3 ADMM iterations and 2 retraining epochs: 5 epochs; cost model, no Monte Carlo) run by the
// kind as the sweep runs it, with checkpoint_s 0 (a checkpoint at the end of every epoch: the
// model, SGD's momentum, ADMM's Z and U, the masks, fsynced and renamed into place) over the same
// point without checkpoints. Both load the same cached baseline (pretrained once before timing).
// Repetitions interleaved at random, one point each; the figure is the ratio of the medians.
#include <ATen/Parallel.h>

#include <Kokkos_Core.hpp>
#include <cstdio>
#include <filesystem>
#include <string>

#include "bench_figures.hpp"
#include "xbarsweep/kinds/builtin.hpp"
#include "xbarsweep/kinds/kind.hpp"

namespace kinds = xbarsweep::kinds;

int main(int argc, char** argv) {
  Kokkos::ScopeGuard kokkos(argc, argv);
  auto args =
      xbarsweep::bench::initialize(argc, argv, {"--benchmark_repetitions=7", "--benchmark_min_time=0.001"});
  const std::int64_t items = xbarsweep::bench::take_option(args, "--items", 3000);
  const std::string dir_option = xbarsweep::bench::take_text(args, "--dir").value_or("");
  xbarsweep::bench::require_no_arguments_left(args, argv[0], "[--reps=7] [--items=3000] [--dir=DIR]");
  at::set_num_threads(1);

  // The checkpoints go where a sweep's results would: a directory on the working file system.
  const std::string dir =
      dir_option.empty()
          ? (std::filesystem::current_path() / ("xbarsweep-bench-checkpoint-" + std::to_string(::getpid())))
                .string()
          : dir_option;
  std::filesystem::create_directories(dir);
  const auto kind = kinds::make_admm_kind();
  xbarsweep::config::Params p;
  for (const auto& spec : kind->schema().specs()) p.set(spec.path, spec.default_value);
  p.set("seed", std::int64_t{1});
  p.set("data.name", std::string("synthetic"));
  p.set("data.subset", items);
  p.set("data.test_subset", std::int64_t{500});
  p.set("model.name", std::string("lenet5"));
  p.set("train.epochs", std::int64_t{1});
  p.set("crossbar.rows", std::int64_t{32});
  p.set("crossbar.cols", std::int64_t{32});
  p.set("admm.iterations", std::int64_t{3});
  p.set("admm.retrain_epochs", std::int64_t{2});
  p.set("admm.hw_samples", std::int64_t{0});

  kinds::PointContext plain;
  plain.cache_dir = dir + "/cache";
  kinds::PointContext checkpointed = plain;
  checkpointed.checkpoint_path = dir + "/cache/checkpoints/point.ckpt";
  checkpointed.checkpoint_s = 0;  // the end of every epoch
  kind->run(p, plain);            // pretrains and caches the baseline

  std::uintmax_t bytes = 0;
  const auto run = [&](const kinds::PointContext& context) {
    const auto out = kind->run(p, context);
    benchmark::DoNotOptimize(out.metrics.size());
    if (!context.checkpoint_path.empty()) {
      bytes = std::filesystem::file_size(context.checkpoint_path);
      std::filesystem::remove(context.checkpoint_path);  // as the engine does once recorded
    }
  };
  benchmark::RegisterBenchmark("admm_point/plain",
                               [&](benchmark::State& s) {
                                 for (auto _ : s) run(plain);
                               })
      ->UseRealTime()
      ->Unit(benchmark::kMillisecond);
  benchmark::RegisterBenchmark("admm_point/checkpoint_every_epoch",
                               [&](benchmark::State& s) {
                                 for (auto _ : s) run(checkpointed);
                               })
      ->UseRealTime()
      ->Unit(benchmark::kMillisecond);
  xbarsweep::bench::MedianReporter medians;
  benchmark::RunSpecifiedBenchmarks(&medians);
  benchmark::ClearRegisteredBenchmarks();
  std::filesystem::remove_all(dir);

  std::printf(
      "admm point: LeNet-5, %lld synthetic training images, 5 epochs (3 ADMM + 2 retraining), "
      "%.0f ms per point; checkpoint %.1f MB, in %s; 1 thread\n",
      static_cast<long long>(items), 1e3 * medians.median_s("admm_point/plain").value_or(0.0),
      static_cast<double>(bytes) / 1e6, dir.c_str());
  xbarsweep::bench::print_figure(
      "checkpoint_overhead",
      xbarsweep::bench::ratio(medians.median_s("admm_point/checkpoint_every_epoch"),
                              medians.median_s("admm_point/plain")),
      3, "target <= 1.05");
  benchmark::Shutdown();
  return 0;
}
