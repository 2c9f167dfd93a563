// crossbar_threads_speedup_2t: the simulated MVM of bench_crossbar's layer (1024 x 1024, batch
// 256, the bench crossbar config with additive read noise) on the default execution space at 2
// threads over the same MVM on Kokkos::Serial (1 thread), in one process with repetitions
// interleaved. OpenBLAS runs single-threaded in both: on a threaded host space each thread's
// block of rows calls its own tile GEMMs, so 2 Kokkos threads are 2 threads in all. Needs a threaded Kokkos
// (scripts/kokkos-openmp.sh builds one: build-openmp/bench/crossbar/bench_crossbar_threads); with a
// Serial-only Kokkos the figure reads n/a.
#include <Kokkos_Core.hpp>
#include <cstdio>
#include <type_traits>

#include "bench_config.hpp"
#include "bench_figures.hpp"
#include "bench_kokkos.hpp"
#include "xbarsweep/crossbar/impl/layer_impl.hpp"  // ProgrammedLayer<Kokkos::Serial> besides the default
#include "xbarsweep/crossbar/random.hpp"

extern "C" void openblas_set_num_threads(int) __attribute__((weak));

namespace xc = xbarsweep::crossbar;

int main(int argc, char** argv) {
  auto args =
      xbarsweep::bench::initialize(argc, argv, {"--benchmark_repetitions=21", "--benchmark_min_time=0.001"});
  xbarsweep::bench::require_no_arguments_left(args, argv[0], "[--reps=21]");
  Kokkos::InitArguments init;
  init.num_threads = 2;
  init.disable_warnings = true;
  Kokkos::ScopeGuard guard(init);
  using Parallel = Kokkos::DefaultExecutionSpace;
  const int threads = Parallel().concurrency();
  std::printf("Kokkos default execution space %s, %d thread(s); baseline Kokkos::Serial\n", Parallel::name(),
              threads);
  const int out = 1024, in = 1024, batch = 256;
  const auto config = xbarsweep::bench::crossbar_bench_config();
  const auto w = xbarsweep::bench::random_view<Kokkos::Serial>(out, in, 1);
  const auto xs = xbarsweep::bench::random_view<Kokkos::Serial>(batch, in, 2);
  const auto xp = xbarsweep::bench::random_view<Parallel>(batch, in, 2);
  Kokkos::View<float**, Kokkos::LayoutRight, Kokkos::Serial::memory_space> ys("ys", batch, out);
  Kokkos::View<float**, Kokkos::LayoutRight, Parallel::memory_space> yp("yp", batch, out);
  auto serial = xc::program_layer<Kokkos::Serial>(w, config, {42, 0});
  auto parallel = xc::program_layer<Parallel>(w, config, {42, 0});
  serial.calibrate(xs);
  parallel.calibrate(xp);
  if (openblas_set_num_threads) openblas_set_num_threads(1);
  using xbarsweep::bench::time_fenced;
  benchmark::RegisterBenchmark("crossbar_mvm/serial_1t",
                               [&](benchmark::State& s) { time_fenced(s, [&] { serial.mvm(xs, ys); }); })
      ->UseManualTime()
      ->Unit(benchmark::kMillisecond);
  benchmark::RegisterBenchmark("crossbar_mvm/parallel_2t",
                               [&](benchmark::State& s) { time_fenced(s, [&] { parallel.mvm(xp, yp); }); })
      ->UseManualTime()
      ->Unit(benchmark::kMillisecond);
  xbarsweep::bench::MedianReporter medians;
  benchmark::RunSpecifiedBenchmarks(&medians);
  benchmark::ClearRegisteredBenchmarks();
  std::optional<double> speedup;
  if (!std::is_same<Parallel, Kokkos::Serial>::value && threads >= 2)
    speedup = xbarsweep::bench::ratio(medians.median_s("crossbar_mvm/serial_1t"),
                                      medians.median_s("crossbar_mvm/parallel_2t"));
  xbarsweep::bench::print_figure(
      "crossbar_threads_speedup_2t", speedup, 2,
      threads >= 2 ? "target >= 1.7" : "needs a threaded Kokkos: scripts/kokkos-openmp.sh");
  benchmark::Shutdown();
  return 0;
}
