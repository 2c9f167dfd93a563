// CrossbarConfig from config::Params, and the `crossbar.` schema with the source of each default.
#include <cstdint>
#include <stdexcept>
#include <string>

#include "param_access.hpp"
#include "xbarsweep/config/schema.hpp"
#include "xbarsweep/config/value.hpp"
#include "xbarsweep/crossbar/config.hpp"
#include "xbarsweep/crossbar/error.hpp"

namespace xbarsweep::crossbar {

using impl::int_or;
using impl::real_or;
using impl::spec;
using impl::text_or;
namespace {


}  // namespace

CrossbarConfig crossbar_config_from_params(const config::Params& p) {
  CrossbarConfig c;
  c.rows = int_or(p, "crossbar.rows", c.rows);
  c.cols = int_or(p, "crossbar.cols", c.cols);
  c.levels = int_or(p, "crossbar.levels", c.levels);
  if (p.contains("crossbar.bits_per_cell")) {
    const int bits = int_or(p, "crossbar.bits_per_cell", 0);
    XBARSWEEP_CROSSBAR_THROW_IF(bits < 0 || bits > 24, "crossbar.bits_per_cell must be in [0, 24], got " << bits);
    XBARSWEEP_CROSSBAR_THROW_IF(p.contains("crossbar.levels") && bits > 0 && c.levels != (1 << bits),
                                "crossbar.levels (" << c.levels << ") and crossbar.bits_per_cell (" << bits
                                << ") disagree; give one of them");
    c.levels = bits > 0 ? (1 << bits) : 0;
  }
  c.slices = int_or(p, "crossbar.slices", c.slices);
  c.g_min_us = real_or(p, "crossbar.g_min_us", c.g_min_us);
  c.g_max_us = real_or(p, "crossbar.g_max_us", c.g_max_us);
  const std::string mapping = text_or(p, "crossbar.mapping", "differential");
  XBARSWEEP_CROSSBAR_THROW_IF(mapping != "differential" && mapping != "offset",
                              "crossbar.mapping: expected differential or offset, got '" << mapping << "'");
  c.mapping = mapping == "offset" ? Mapping::Offset : Mapping::Differential;
  c.sigma = real_or(p, "crossbar.sigma", c.sigma);
  c.prog_noise = real_or(p, "crossbar.prog_noise", c.prog_noise);
  c.read_noise = real_or(p, "crossbar.read_noise", c.read_noise);
  const std::string mode = text_or(p, "crossbar.read_noise_mode", "additive");
  XBARSWEEP_CROSSBAR_THROW_IF(mode != "additive" && mode != "proportional",
                              "crossbar.read_noise_mode: expected additive or proportional, got '" << mode << "'");
  c.read_noise_mode = mode == "proportional" ? ReadNoiseMode::Proportional : ReadNoiseMode::Additive;
  c.stuck_min_rate = real_or(p, "crossbar.stuck_min_rate", c.stuck_min_rate);
  c.stuck_max_rate = real_or(p, "crossbar.stuck_max_rate", c.stuck_max_rate);
  c.wire_ohm = real_or(p, "crossbar.wire_ohm", c.wire_ohm);
  c.dac_bits = int_or(p, "crossbar.dac_bits", c.dac_bits);
  c.input_bits = int_or(p, "crossbar.input_bits", c.input_bits);
  c.adc_bits = int_or(p, "crossbar.adc_bits", c.adc_bits);
  const std::string range = text_or(p, "crossbar.adc_range", "calibrated");
  XBARSWEEP_CROSSBAR_THROW_IF(range != "calibrated" && range != "theoretical",
                              "crossbar.adc_range: expected calibrated or theoretical, got '" << range << "'");
  c.adc_range = range == "theoretical" ? AdcRange::Theoretical : AdcRange::Calibrated;
  const auto offset = p.contains("crossbar.seed_offset") ? p.integer("crossbar.seed_offset") : 0;
  XBARSWEEP_CROSSBAR_THROW_IF(offset < 0, "crossbar.seed_offset must be >= 0, got " << offset);
  c.seed_offset = static_cast<std::uint64_t>(offset);
  c.validate();
  return c;
}

config::Schema crossbar_schema() {
  using config::Value;
  config::Schema s;
  s.add(spec("crossbar.rows", Value(std::int64_t{128}),
             "crossbar rows = inputs per tile; 128 as ISAAC and NeuroSim's default subarray", 1, 4096));
  s.add(spec("crossbar.cols", Value(std::int64_t{128}),
             "crossbar columns = outputs per tile; 128 as ISAAC and NeuroSim (Paper A: 128x64, 32x32 LeNet-5)", 1, 4096));
  s.add(spec("crossbar.levels", Value(std::int64_t{0}),
             "conductance levels per cell, evenly spaced in [g_min, g_max]; 0 = unlimited (ideal). "
             "Paper A: 16 (4-bit cells); ISAAC: 4 (2 bits/cell)", 0, 16777216));
  s.add(spec("crossbar.slices", Value(std::int64_t{1}),
             "cells a weight is bit-sliced over, recombined by shift-and-add (Paper A: 2 x 4-bit for 8 bits)", 1, 24));
  s.add(spec("crossbar.g_min_us", Value(0.0),
             "lowest conductance, uS; 0 = infinite on/off ratio (ideal). Paper A: 0.1 (10 MOhm)", 0.0, std::nullopt));
  s.add(spec("crossbar.g_max_us", Value(1.0),
             "highest conductance, uS. Paper A: 1 (1 MOhm); PCM (aihwkit): 25", 0.0, std::nullopt));
  config::ParamSpec mapping = spec("crossbar.mapping", Value(std::string("differential")),
                                   "differential: G+ - G- pair subtracted in analog before the ADC (Paper A); "
                                   "offset: one cell, reference removed digitally (ISAAC)");
  mapping.choices = {"differential", "offset"};
  s.add(mapping);
  s.add(spec("crossbar.sigma", Value(0.0),
             "lognormal device-to-device sigma of log G, mean-preserving; 0 = off. Typical 0.01..0.1 "
             "(0.1 a common stress setting; CrossSim, NeuroSim)", 0.0, 5.0));
  s.add(spec("crossbar.prog_noise", Value(0.0),
             "programming noise std / g_max, applied once; 0 = off. Typical 0.01..0.04 (aihwkit, CrossSim)", 0.0, 1.0));
  s.add(spec("crossbar.read_noise", Value(0.0),
             "read noise per MVM; 0 = off (aihwkit, CrossSim). additive: std / (g_max * DAC full scale) on each "
             "column current; proportional: std of eps in G (1 + eps) per device and read", 0.0, 10.0));
  config::ParamSpec mode = spec("crossbar.read_noise_mode", Value(std::string("additive")),
                                "additive (output-referred) or proportional (per device, exact in distribution)");
  mode.choices = {"additive", "proportional"};
  s.add(mode);
  s.add(spec("crossbar.stuck_min_rate", Value(0.0),
             "fraction of devices stuck at g_min; 0 = off. Typical 0.001..0.1 (MemTorch, MNSIM, PytorX)", 0.0, 1.0));
  s.add(spec("crossbar.stuck_max_rate", Value(0.0),
             "fraction of devices stuck at g_max; 0 = off. Typical 0.001..0.1 (MemTorch, MNSIM, PytorX)", 0.0, 1.0));
  s.add(spec("crossbar.wire_ohm", Value(0.0),
             "wire resistance per cell segment, Ohm (first-order IR drop); 0 = off. Typical 0.15..3 "
             "(aihwkit, CrossSim, MemTorch)", 0.0, std::nullopt));
  s.add(spec("crossbar.dac_bits", Value(std::int64_t{0}),
             "DAC resolution; 0 = ideal inputs; 1 = bit-serial (ISAAC); 8 = multi-bit", 0, 16));
  s.add(spec("crossbar.input_bits", Value(std::int64_t{0}),
             "input resolution streamed in ceil(input_bits/dac_bits) DAC passes; 0 = dac_bits "
             "(ISAAC streams 16-bit inputs 1 bit per cycle)", 0, 24));
  s.add(spec("crossbar.adc_bits", Value(std::int64_t{0}),
             "ADC resolution per column; 0 = ideal. Typical 5..9 (ISAAC 8; NeuroSim 5)", 0, 24));
  config::ParamSpec range = spec("crossbar.adc_range", Value(std::string("calibrated")),
                                 "calibrated: [min, max] of each column's noise-free current over a calibration "
                                 "batch; theoretical: +-(DAC full scale) sum_i |G_ij|");
  range.choices = {"calibrated", "theoretical"};
  s.add(range);
  s.add(spec("crossbar.seed_offset", Value(std::int64_t{0}),
             "added to the point's seed for the devices: another Monte Carlo device sample", 0, std::nullopt));
  return s;
}

}  // namespace xbarsweep::crossbar
