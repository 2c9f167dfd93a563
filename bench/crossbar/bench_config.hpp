#pragma once
// The crossbar configuration every crossbar benchmark simulates (bench/README.md, "crossbar"),
// in one place so that bench_crossbar and bench_crossbar_torch always time the same thing:
// tiles 128x128, differential pair, 16 levels, lognormal sigma 0.05, additive read noise 0.01,
// 8-bit DAC, 8-bit calibrated ADC.
#include <Kokkos_Core.hpp>
#include <cstdint>

#include "xbarsweep/crossbar/config.hpp"
#include "xbarsweep/crossbar/random.hpp"

namespace xbarsweep::bench {

inline crossbar::CrossbarConfig crossbar_bench_config() {
  crossbar::CrossbarConfig c;
  c.rows = c.cols = 128;
  c.mapping = crossbar::Mapping::Differential;
  c.levels = 16;
  c.sigma = 0.05;
  c.read_noise = 0.01;
  c.read_noise_mode = crossbar::ReadNoiseMode::Additive;
  c.dac_bits = 8;
  c.adc_bits = 8;
  c.adc_range = crossbar::AdcRange::Calibrated;
  c.adc_headroom = 1.0;  // the calibration batch's own ranges, as bench_crossbar_torch computes them
  return c;
}

/// \brief An n x m View in \p Space's memory of deterministic values uniform in [-1, 1).
template <class Space = Kokkos::DefaultExecutionSpace>
Kokkos::View<float**, Kokkos::LayoutRight, typename Space::memory_space> random_view(int n, int m,
                                                                                     std::uint64_t seed) {
  Kokkos::View<float**, Kokkos::LayoutRight, typename Space::memory_space> v("v", n, m);
  auto h = Kokkos::create_mirror_view(v);
  for (int i = 0; i < n; ++i)
    for (int j = 0; j < m; ++j)
      h(i, j) = float(2.0 * crossbar::uniform_open01(
                                crossbar::hash_extend(crossbar::splitmix64(seed), std::uint64_t(i) * m + j)) -
                      1.0);
  Kokkos::deep_copy(v, h);
  return v;
}

}  // namespace xbarsweep::bench
