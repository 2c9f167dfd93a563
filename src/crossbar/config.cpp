// Validation of CrossbarConfig (no dependency on the config library's definitions).
#include "xbarsweep/crossbar/config.hpp"

#include <cstdint>

#include "xbarsweep/crossbar/error.hpp"

namespace xbarsweep::crossbar {

int CrossbarConfig::input_planes() const {
  if (dac_bits <= 0) return 1;
  const int total = effective_input_bits();
  return (total + dac_bits - 1) / dac_bits;
}

void CrossbarConfig::validate() const {
  XBARSWEEP_CROSSBAR_THROW_IF(rows < 1 || cols < 1,
                              "crossbar.rows / crossbar.cols must be >= 1, got " << rows << " x " << cols);
  XBARSWEEP_CROSSBAR_THROW_IF(levels == 1 || levels < 0,
                              "crossbar.levels must be 0 (unlimited) or >= 2, got " << levels);
  XBARSWEEP_CROSSBAR_THROW_IF(slices < 1, "crossbar.slices must be >= 1, got " << slices);
  XBARSWEEP_CROSSBAR_THROW_IF(levels == 0 && slices != 1,
                              "crossbar.slices = " << slices << " needs a finite crossbar.levels");
  if (levels > 0) {
    double ls = 1.0;
    for (int s = 0; s < slices; ++s) ls *= levels;
    XBARSWEEP_CROSSBAR_THROW_IF(ls > 16777216.0, "crossbar.levels^crossbar.slices = " << ls
                                << " exceeds 2^24 (float-exact codes)");
  }
  XBARSWEEP_CROSSBAR_THROW_IF(!(g_min_us >= 0.0) || !(g_max_us > g_min_us),
                              "crossbar.g_min_us / g_max_us must satisfy 0 <= g_min < g_max, got "
                              << g_min_us << ", " << g_max_us);
  XBARSWEEP_CROSSBAR_THROW_IF(!(sigma >= 0.0), "crossbar.sigma must be >= 0, got " << sigma);
  XBARSWEEP_CROSSBAR_THROW_IF(!(prog_noise >= 0.0), "crossbar.prog_noise must be >= 0, got " << prog_noise);
  XBARSWEEP_CROSSBAR_THROW_IF(!(read_noise >= 0.0), "crossbar.read_noise must be >= 0, got " << read_noise);
  XBARSWEEP_CROSSBAR_THROW_IF(!(stuck_min_rate >= 0.0 && stuck_max_rate >= 0.0 &&
                                stuck_min_rate + stuck_max_rate <= 1.0),
                              "crossbar.stuck_min_rate / stuck_max_rate must be >= 0 with a sum <= 1, got "
                              << stuck_min_rate << ", " << stuck_max_rate);
  XBARSWEEP_CROSSBAR_THROW_IF(!(wire_ohm >= 0.0), "crossbar.wire_ohm must be >= 0, got " << wire_ohm);
  XBARSWEEP_CROSSBAR_THROW_IF(dac_bits < 0 || dac_bits > 16, "crossbar.dac_bits must be in [0, 16], got " << dac_bits);
  XBARSWEEP_CROSSBAR_THROW_IF(input_bits < 0 || input_bits > 24,
                              "crossbar.input_bits must be in [0, 24], got " << input_bits);
  XBARSWEEP_CROSSBAR_THROW_IF(adc_bits < 0 || adc_bits > 24, "crossbar.adc_bits must be in [0, 24], got " << adc_bits);
}

}  // namespace xbarsweep::crossbar
