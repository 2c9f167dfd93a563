// Overhead of the simulated crossbar MVM over a plain dense GEMM of the same shape, both through
// the same BLAS, as Google Benchmark benchmarks of one run (repetitions interleaved at random);
// each figure is the ratio of two medians of that run. Run with OPENBLAS_NUM_THREADS=1 (set here
// too when the BLAS is OpenBLAS).
#include <KokkosBlas3_gemm.hpp>
#include <Kokkos_Core.hpp>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "bench_config.hpp"
#include "bench_figures.hpp"
#include "bench_kokkos.hpp"
#include "xbarsweep/crossbar/layer.hpp"
#include "xbarsweep/crossbar/random.hpp"

extern "C" void openblas_set_num_threads(int) __attribute__((weak));

namespace xc = xbarsweep::crossbar;
using Matrix = Kokkos::View<float**, Kokkos::LayoutRight>;

int main(int argc, char** argv) {
  auto args = xbarsweep::bench::initialize(
      argc, argv, {"--benchmark_repetitions=21", "--benchmark_min_time=0.001"});  // one MVM per repetition
  xbarsweep::bench::require_no_arguments_left(args, argv[0], "[--reps=21]");
  if (openblas_set_num_threads) openblas_set_num_threads(1);
  Kokkos::ScopeGuard guard(argc, argv);
  const int out = 1024, in = 1024, batch = 256;

  Matrix w = xbarsweep::bench::random_view(out, in, 1), x = xbarsweep::bench::random_view(batch, in, 2);
  Matrix wt("wt", in, out), y_dense("y_dense", batch, out), y("y", batch, out);
  {
    auto wh = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), w);
    auto th = Kokkos::create_mirror_view(wt);
    for (int o = 0; o < out; ++o)
      for (int i = 0; i < in; ++i) th(i, o) = wh(o, i);
    Kokkos::deep_copy(wt, th);
  }

  const xc::CrossbarConfig base = xbarsweep::bench::crossbar_bench_config();
  xc::CrossbarConfig prop = base;
  prop.read_noise_mode = xc::ReadNoiseMode::Proportional;
  xc::CrossbarConfig serial = base;
  serial.dac_bits = 1;
  serial.input_bits = 8;
  // Where the additive figure's time goes: the same MVM without read noise (DAC, tile GEMMs,
  // ADC, sums), and without the ADC as well (DAC, tile GEMMs, sums).
  xc::CrossbarConfig adc_only = base;
  adc_only.read_noise = 0.0;
  xc::CrossbarConfig no_readout = adc_only;
  no_readout.adc_bits = 0;

  std::vector<xc::ProgrammedLayer<>> layers;
  for (const auto& cfg : {base, prop, serial, adc_only, no_readout}) {
    layers.push_back(xc::program_layer(w, cfg, {42, 0}));
    layers.back().calibrate(x);
    layers.back().mvm(x, y);  // warm: scratch allocated once here
  }
  const auto dense = [&] { KokkosBlas::gemm("N", "N", 1.0f, x, wt, 0.0f, y_dense); };
  dense();

  using xbarsweep::bench::time_fenced;
  constexpr int kConfigs = 5;
  const char* const names[kConfigs] = {"crossbar_mvm/additive_noise", "crossbar_mvm/proportional_noise",
                                       "crossbar_mvm/bitserial_1bit_dac", "crossbar_mvm/adc_no_read_noise",
                                       "crossbar_mvm/no_read_noise_no_adc"};
  benchmark::RegisterBenchmark("dense_sgemm", [&](benchmark::State& s) { time_fenced(s, dense); })
      ->UseManualTime()
      ->Unit(benchmark::kMillisecond);
  for (int k = 0; k < kConfigs; ++k) {
    benchmark::RegisterBenchmark(
        names[k], [&, k](benchmark::State& s) { time_fenced(s, [&] { layers[k].mvm(x, y); }); })
        ->UseManualTime()
        ->Unit(benchmark::kMillisecond);
  }
  xbarsweep::bench::MedianReporter medians;
  benchmark::RunSpecifiedBenchmarks(&medians);
  benchmark::ClearRegisteredBenchmarks();  // their captures hold Views: gone before Kokkos finalizes

  const auto t_dense = medians.median_s("dense_sgemm");
  const auto overhead = [&](int k) { return xbarsweep::bench::ratio(medians.median_s(names[k]), t_dense); };
  const char* env = std::getenv("OPENBLAS_NUM_THREADS");
  std::printf(
      "shape: layer %d x %d, batch %d, tiles 128x128, %d crossbars per config; figures: ratios of medians\n",
      out, in, batch, layers[0].crossbars());
  if (t_dense) {
    std::printf(
        "dense sgemm (KokkosBlas::gemm -> BLAS TPL, OPENBLAS_NUM_THREADS=%s, openblas_set_num_threads(1) "
        "%s): median %.3f ms, %.1f GFLOP/s\n",
        env ? env : "unset", openblas_set_num_threads ? "called" : "unavailable", 1e3 * *t_dense,
        2.0 * batch * in * out / *t_dense / 1e9);
  }
  using xbarsweep::bench::print_figure;
  print_figure("crossbar_overhead_vs_gemm", overhead(0), 2, "target <= 1.5");
  print_figure("crossbar_overhead_prop_noise", overhead(1), 2, "target <= 2.0");
  print_figure("crossbar_bitserial_overhead", overhead(2), 2,
               "expected ~8-16: 8 input planes, each a full set of tile GEMMs + readout");
  print_figure("crossbar_overhead_adc_only", overhead(3), 2,
               "target: none; the additive figure without read noise");
  print_figure("crossbar_overhead_no_readout", overhead(4), 2,
               "target: none; DAC, tile GEMMs and sums: no read noise, no ADC");
  benchmark::Shutdown();
  return 0;
}
