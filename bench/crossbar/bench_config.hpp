#pragma once
// The crossbar configuration every crossbar benchmark simulates (bench/README.md, "crossbar"),
// in one place so that bench_crossbar and bench_crossbar_torch always time the same thing:
// tiles 128x128, differential pair, 16 levels, lognormal sigma 0.05, additive read noise 0.01,
// 8-bit DAC, 8-bit calibrated ADC.
#include "xbarsweep/crossbar/config.hpp"

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
  return c;
}

}  // namespace xbarsweep::bench
