// Overhead of the simulated crossbar MVM over a plain dense GEMM of the same shape, both through
// the same BLAS, measured in this run with interleaved repetitions; medians of per-repetition
// ratios. Run with OPENBLAS_NUM_THREADS=1 (set here too when the BLAS is OpenBLAS).
#include "../bench_timing.hpp"
#include "bench_config.hpp"
#include <KokkosBlas3_gemm.hpp>
#include <Kokkos_Core.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <string>
#include <vector>

#include "xbarsweep/crossbar/layer.hpp"
#include "xbarsweep/crossbar/random.hpp"

extern "C" void openblas_set_num_threads(int) __attribute__((weak));

namespace xc = xbarsweep::crossbar;
using Matrix = Kokkos::View<float**, Kokkos::LayoutRight>;

namespace {

Matrix random_view(int n, int m, std::uint64_t seed) {
  Matrix v("v", n, m);
  auto h = Kokkos::create_mirror_view(v);
  for (int i = 0; i < n; ++i)
    for (int j = 0; j < m; ++j)
      h(i, j) = float(2.0 * xc::uniform_open01(xc::hash_extend(xc::splitmix64(seed), std::uint64_t(i) * m + j)) - 1.0);
  Kokkos::deep_copy(v, h);
  return v;
}

// Kokkos work is asynchronous on a device: fence around every timed region.
double seconds(const std::function<void()>& f) {
  return xbarsweep::bench::seconds(f, [] { Kokkos::fence(); });
}

using xbarsweep::bench::median;

}  // namespace

int main(int argc, char** argv) {
  if (openblas_set_num_threads) openblas_set_num_threads(1);
  Kokkos::ScopeGuard guard(argc, argv);
  const int out = 1024, in = 1024, batch = 256;
  const int reps = argc > 1 ? std::atoi(argv[1]) : 21;

  Matrix w = random_view(out, in, 1), x = random_view(batch, in, 2);
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

  std::vector<xc::ProgrammedLayer<>> layers;
  for (const auto& cfg : {base, prop, serial}) {
    layers.push_back(xc::program_layer(w, cfg, {42, 0}));
    layers.back().calibrate(x);
    layers.back().mvm(x, y);  // warm: scratch allocated once here
  }
  const auto dense = [&] { KokkosBlas::gemm("N", "N", 1.0f, x, wt, 0.0f, y_dense); };
  dense();

  std::vector<double> t_dense, r[3];
  for (int rep = 0; rep < reps; ++rep) {
    const double td = seconds(dense);
    t_dense.push_back(td);
    for (int k = 0; k < 3; ++k) r[k].push_back(seconds([&] { layers[k].mvm(x, y); }) / td);
  }
  const double gflops = 2.0 * batch * in * out / median(t_dense) / 1e9;
  const char* env = std::getenv("OPENBLAS_NUM_THREADS");
  std::printf("shape: layer %d x %d, batch %d, tiles 128x128, %d crossbars per config; %d interleaved repetitions\n",
              out, in, batch, layers[0].crossbars(), reps);
  std::printf("dense sgemm (KokkosBlas::gemm -> BLAS TPL, OPENBLAS_NUM_THREADS=%s, openblas_set_num_threads(1) %s): median %.3f ms, %.1f GFLOP/s\n",
              env ? env : "unset", openblas_set_num_threads ? "called" : "unavailable", 1e3 * median(t_dense), gflops);
  std::printf("crossbar_overhead_vs_gemm: %.2f (target <= 2.0)\n", median(r[0]));
  std::printf("crossbar_overhead_prop_noise: %.2f (target <= 3.0)\n", median(r[1]));
  std::printf("crossbar_bitserial_overhead: %.2f (expected ~8-16: 8 input planes, each a full set of tile GEMMs + readout)\n",
              median(r[2]));
  return 0;
}
