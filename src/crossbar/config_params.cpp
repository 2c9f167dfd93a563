// The `crossbar.` parameters, declared once, with the source of each default.
#include <cstdint>
#include <string>

#include "xbarsweep/config/checks.hpp"
#include "xbarsweep/config/section.hpp"
#include "xbarsweep/crossbar/config.hpp"

namespace xbarsweep::crossbar {

using config::Range;

const config::Section<CrossbarConfig>& crossbar_section() {
  using C = CrossbarConfig;
  static const config::Section<C> section =
      config::Section<C>("crossbar")
          .add("rows", &C::rows,
               "crossbar rows = inputs per tile; 128 as ISAAC and NeuroSim's default subarray", {1, 4096})
          .add("cols", &C::cols,
               "crossbar columns = outputs per tile; 128 as ISAAC and NeuroSim (Paper A: 128x64, 32x32 "
               "LeNet-5)",
               {1, 4096})
          .add("levels", &C::levels,
               "conductance levels per cell, evenly spaced in [g_min, g_max]; 0 = unlimited (ideal). Paper "
               "A: 16 (4-bit cells); ISAAC: 4 (2 bits/cell)",
               {0, 16777216})
          .add("slices", &C::slices,
               "cells a weight is bit-sliced over, recombined by shift-and-add (Paper A: 2 x 4-bit for 8 "
               "bits)",
               {1, 24})
          .add("g_min_us", &C::g_min_us,
               "lowest conductance, uS; 0 = infinite on/off ratio (ideal). Paper A: 0.1 (10 MOhm)",
               Range::at_least(0.0))
          .unit("uS")
          .add("g_max_us", &C::g_max_us, "highest conductance, uS. Paper A: 1 (1 MOhm); PCM (aihwkit): 25",
               Range::at_least(0.0))
          .unit("uS")
          .choice("mapping", &C::mapping,
                  {{"differential", Mapping::Differential}, {"offset", Mapping::Offset}},
                  "differential: G+ - G- pair subtracted in analog before the ADC (Paper A); offset: one "
                  "cell, reference removed digitally (ISAAC)")
          .add("sigma", &C::sigma,
               "lognormal device-to-device sigma of log G, mean-preserving; 0 = off. Typical 0.01..0.1 (0.1 "
               "a common stress setting; CrossSim, NeuroSim)",
               {0.0, 5.0})
          .add("prog_noise", &C::prog_noise,
               "programming noise std / g_max, applied once; 0 = off. Typical 0.01..0.04 (aihwkit, CrossSim)",
               {0.0, 1.0})
          .add("read_noise", &C::read_noise,
               "read noise per MVM; 0 = off (aihwkit, CrossSim). additive: std / (g_max * DAC full scale) on "
               "each column current; proportional: std of eps in G (1 + eps) per device and read",
               {0.0, 10.0})
          .choice("read_noise_mode", &C::read_noise_mode,
                  {{"additive", ReadNoiseMode::Additive}, {"proportional", ReadNoiseMode::Proportional}},
                  "additive (output-referred) or proportional (per device, exact in distribution)")
          .add("stuck_min_rate", &C::stuck_min_rate,
               "fraction of devices stuck at g_min; 0 = off. Typical 0.001..0.1 (MemTorch, MNSIM, PytorX)",
               {0.0, 1.0})
          .add("stuck_max_rate", &C::stuck_max_rate,
               "fraction of devices stuck at g_max; 0 = off. Typical 0.001..0.1 (MemTorch, MNSIM, PytorX)",
               {0.0, 1.0})
          .add("wire_ohm", &C::wire_ohm,
               "wire resistance per cell segment, Ohm (first-order IR drop); 0 = off. Typical 0.15..3 "
               "(aihwkit, CrossSim, MemTorch)",
               Range::at_least(0.0))
          .unit("Ohm")
          .add("dac_bits", &C::dac_bits,
               "DAC resolution; 0 = ideal inputs; 1 = bit-serial (ISAAC); 8 = multi-bit", {0, 16})
          .add("input_bits", &C::input_bits,
               "input resolution streamed in ceil(input_bits/dac_bits) DAC passes; 0 = dac_bits (ISAAC "
               "streams 16-bit inputs 1 bit per cycle)",
               {0, 24})
          .add("adc_bits", &C::adc_bits,
               "ADC resolution per column; 0 = ideal. Typical 5..9 (ISAAC 8; NeuroSim 5)", {0, 24})
          .choice("adc_range", &C::adc_range,
                  {{"calibrated", AdcRange::Calibrated},
                   {"theoretical", AdcRange::Theoretical},
                   {"percentile", AdcRange::Percentile}},
                  "calibrated: [min, max] of each column's noise-free current over a calibration batch; "
                  "theoretical: +-(DAC full scale) sum_i |G_ij|; percentile: +-(crossbar.adc_percentile-th "
                  "percentile of |current|) pooled over the layer's columns (CrossSim)")
          .add("adc_percentile", &C::adc_percentile,
               "adc_range percentile: the percentile of |column current| over the calibration batch and "
               "every column of the layer (CrossSim 99.99)",
               Range::above_to(0.0, 100.0))
          .added_later()
          .add(
              "adc_headroom", &C::adc_headroom,
              "calibrated and percentile ADC ranges widened by this factor about their centre: fewer "
              "clipped currents, coarser steps. 1.5 measured best over a 1024x1024 layer calibrated on 256 "
              "vectors and LeNet-5 on 200 images (docs/crossbar.md, ADC ranges); 1 = the calibration batch's "
              "own range",
              {1.0, 100.0})
          .added_later(1.0)  // the default was 1: points recorded then keep their ids
          .choice(
              "drift", &C::drift,
              {{"none", Drift::None}, {"power_law", Drift::PowerLaw}, {"pcm", Drift::Pcm}},
              "conductance drift after programming: none; power_law G(t) = G(t0) (t / t0)^(-nu) for t > t0, "
              "nu ~ max(0, N(drift_nu_mean, drift_nu_std)) per device (phase-change memory; aihwkit, "
              "CrossSim, NeuroSim, MemTorch); pcm: the same with nu's mean and std from aihwkit's PCM fit "
              "against G / g_max (Nandakumar et al. 2019: 0.049 / 0.008 at g_max, 0.060 / 0.023 at 0.1 "
              "g_max); reads at t <= t0 see the programmed conductance")
          .added_later()
          .add(
              "drift_nu_mean", &C::drift_nu_mean,
              "mean drift exponent nu. 0.06: doped GST (Joshi et al. 2020); aihwkit's PCM fit (Nandakumar et "
              "al. 2019) gives 0.049..0.1 over its conductance range, 0.060 at 0.1 g_max",
              {0.0, 1.0})
          .added_later()
          .add("drift_nu_std", &C::drift_nu_std,
               "device-to-device std of nu (nu = max(0, N(nu_mean, nu_std)) per device). 0.02: aihwkit's PCM "
               "fit gives 0.008..0.045, 0.023 at 0.1 g_max",
               {0.0, 1.0})
          .added_later()
          .add(
              "drift_t0", &C::drift_t0,
              "s after programming of the read the devices were programmed to (the power law's t0); aihwkit: "
              "20",
              Range::above(0.0))
          .unit("s")
          .added_later()
          .add("t_inference", &C::t_inference,
               "s after programming at which the devices are read (sweep it: 1, 3600, 86400, 3.15e7 for 1 s, "
               "1 h, 1 day, 1 year); the ADC ranges stay as calibrated at programming",
               Range::at_least(0.0))
          .unit("s")
          .added_later()
          .add("drift_read_noise_growth", &C::drift_read_noise_growth,
               "read noise grows as read_noise (1 + growth ln(t / t0)) for t > t0 (1/f noise accumulates; "
               "aihwkit's PCM model grows as sqrt(ln t)); 0 = constant",
               Range::at_least(0.0))
          .added_later()
          .choice(
              "drift_compensation", &C::drift_compensation,
              {{"none", DriftCompensation::None}, {"global", DriftCompensation::Global}},
              "global: each layer's outputs rescaled by its reference read at programming over the same "
              "read at t (mean |output| of one-hot inputs; aihwkit's GlobalDriftCompensation, the default of "
              "its StandardHWATrainingPreset); none: outputs shrink with drift")
          .added_later()
          .add("drift_times", &C::drift_times,
               "more read times, s after programming, comma-separated (e.g. \"1, 3600, 86400, 3.15e7\"): the "
               "same programmed devices read at each, recorded as the arrays hw_times_s and "
               "hw_accuracy_at_times "
               "(mean over device samples), beside the metrics at t_inference; empty = none")
          .added_later()
          .add("seed_offset", &C::seed_offset,
               "added to the point's seed for the devices: another Monte Carlo device sample",
               Range::at_least(0));
  return section;
}

CrossbarConfig crossbar_config_from_params(const config::Params& p) {
  const CrossbarConfig c = crossbar_section().read(p);
  c.validate();
  return c;
}

config::Schema crossbar_schema() { return crossbar_section().schema(); }

std::vector<config::Check> crossbar_checks() {
  return {{{"crossbar."}, [](const config::Params& p) { return crossbar_section().read(p).problem(); }}};
}

}  // namespace xbarsweep::crossbar
