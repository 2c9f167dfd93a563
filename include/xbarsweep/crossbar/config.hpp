#pragma once
/// \file
/// \brief Typed crossbar configuration (the `crossbar.` parameters) and its schema.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "xbarsweep/config/checks.hpp"
#include "xbarsweep/config/section.hpp"

namespace xbarsweep::crossbar {

/// \brief How a signed weight becomes conductances.
enum class Mapping {
  Differential,  ///< w ~ G+ - G-, the pair's currents subtracted in analog before the ADC
  Offset,        ///< w ~ G - G_ref, the reference term removed digitally from sum_i x_i
};

/// \brief How read noise scales.
enum class ReadNoiseMode {
  Additive,      ///< N(0, (read_noise * g_max * x_fs)^2) on every column current of every read
  Proportional,  ///< every device read as G (1 + eps), eps ~ N(0, read_noise^2), fresh each read
};

/// \brief How the ADC full-scale range of each column is set.
enum class AdcRange {
  Calibrated,   ///< [min, max] of the noise-free column current over a calibration batch
  Theoretical,  ///< +-(DAC full scale) * sum_i |G_ij|: never clips, wastes resolution
  Percentile,   ///< +-(adc_percentile-th percentile of |current|), one range for every column of
                ///< the layer, over a calibration batch (CrossSim's rule)
};

/// \brief How conductances change after programming.
enum class Drift {
  None,      ///< devices keep their programmed conductance
  PowerLaw,  ///< G(t) = G(t0) (t / t0)^(-nu) for t > t0, nu per device ~ max(0, N(nu_mean, nu_std))
  Pcm,       ///< the same power law with nu's mean and spread from aihwkit's PCM fit against G / g_max
};

/// \brief How drifted outputs are corrected.
enum class DriftCompensation {
  None,    ///< outputs shrink as the devices drift
  Global,  ///< each layer's outputs rescaled digitally by one factor: its reference read at
           ///< programming over the same read at t (aihwkit's GlobalDriftCompensation)
};

/// \brief Every parameter of the crossbar simulator. All non-idealities are off by default, so
/// a default CrossbarConfig with levels = 0 computes an exact matmul.
struct CrossbarConfig {
  int rows = 128;         ///< crossbar rows = inputs per tile (word lines, driven by DACs)
  int cols = 128;         ///< crossbar columns = outputs per tile (bit lines, read by ADCs)
  int levels = 0;         ///< conductance levels per cell; 0 = unlimited (analog) precision
  int slices = 1;         ///< cells (crossbars) a weight is bit-sliced over, recombined by shift-and-add
  double g_min_us = 0.0;  ///< lowest state in uS; 0 = infinite on/off ratio
  double g_max_us = 1.0;  ///< highest state in uS
  Mapping mapping = Mapping::Differential;
  double sigma = 0.0;       ///< lognormal device-to-device variation (sigma of log G)
  double prog_noise = 0.0;  ///< programming noise, std as a fraction of g_max
  double read_noise = 0.0;  ///< read noise (see ReadNoiseMode)
  ReadNoiseMode read_noise_mode = ReadNoiseMode::Additive;
  double stuck_min_rate = 0.0;  ///< fraction of devices stuck at g_min
  double stuck_max_rate = 0.0;  ///< fraction of devices stuck at g_max
  double wire_ohm = 0.0;        ///< wire resistance per cell segment (first-order IR drop)
  int dac_bits = 0;             ///< DAC resolution; 0 = ideal inputs; 1 = bit-serial (ISAAC)
  int input_bits = 0;           ///< input resolution streamed through the DAC; 0 = dac_bits
  int adc_bits = 0;             ///< ADC resolution per column; 0 = ideal
  AdcRange adc_range = AdcRange::Calibrated;
  double adc_percentile = 99.99;  ///< AdcRange::Percentile: the percentile of |current|, (0, 100]
  double adc_headroom = 1.5;      ///< calibrated and percentile ranges widened by this factor (>= 1)
  Drift drift = Drift::None;
  double drift_nu_mean = 0.06;           ///< mean drift exponent nu
  double drift_nu_std = 0.02;            ///< spread of nu from device to device
  double drift_t0 = 20.0;                ///< s: the time of the programmed read, the power law's reference
  double t_inference = 1.0;              ///< s after programming at which the devices are read
  double drift_read_noise_growth = 0.0;  ///< read noise x (1 + growth ln(t / t0)) for t > t0
  DriftCompensation drift_compensation = DriftCompensation::Global;
  std::string drift_times = "";   ///< more read times (s, comma-separated): the same devices read again
  std::uint64_t seed_offset = 0;  ///< added to the device seed (independent device samples)

  /// \brief ln(t / t0) of a read at \p t seconds after programming: 0 unless drift is on and t > t0.
  double drift_log_time(double t) const;
  /// \brief drift_times as numbers, in the order given. \throws CrossbarError naming the key
  /// for an entry that is not a number >= 0.
  std::vector<double> drift_time_list() const;
  /// \brief The read-noise factor at \p t: 1 + drift_read_noise_growth ln(t / t0), or 1.
  double read_noise_gain(double t) const;

  /// \brief Number of input passes (DAC planes) per MVM: ceil(input_bits / dac_bits), or 1.
  int input_planes() const;
  /// \brief Resolved input resolution (input_bits, or dac_bits when input_bits is 0).
  int effective_input_bits() const { return input_bits > 0 ? input_bits : dac_bits; }
  /// \brief Physical crossbars per allocated tile: slices, times 2 for a differential pair.
  int crossbars_per_tile() const { return slices * (mapping == Mapping::Differential ? 2 : 1); }

  /// \brief What is wrong with these values together (ranges and combinations), naming the
  /// `crossbar.` key at fault; nothing when they are good.
  std::optional<config::Problem> problem() const;
  /// \brief \throws CrossbarError naming the `crossbar.` key when problem() finds one.
  void validate() const;
};

/// \brief How a weight becomes an integer code, digits and conductances (ProgrammedLayer's
/// mapping): a differential pair takes the magnitude code |w| / max|w| q_top in [0, q_top] on the
/// cell of w's sign; an offset cell the signed code w / max|w| q_top shifted by q_top. Slice s
/// holds digit s of the code in base levels, read with factor levels^s; a digit d is the
/// conductance g_min + d unit. Unlimited levels: one continuous "digit", the code itself.
struct CodeMapping {
  bool quantized = false;    ///< levels > 0: codes rounded to integers
  bool differential = true;  ///< Mapping::Differential
  std::int64_t levels = 1;   ///< digits per cell (1 when unlimited)
  std::int64_t codes = 2;    ///< levels^slices (2 when unlimited)
  double q_top = 1.0;        ///< the code of max|w|
  double unit = 1.0;         ///< uS per digit step
  double factor_sum = 1.0;   ///< sum over slices of levels^s
};

/// \brief The code mapping of \p c (exact integer arithmetic for the code counts).
CodeMapping code_mapping(const CrossbarConfig& c);

/// \brief The one declaration of the `crossbar.` parameters: types, defaults (CrossbarConfig's
/// own), ranges, choices, and the source of each default.
const config::Section<CrossbarConfig>& crossbar_section();

/// \brief Builds a CrossbarConfig from the `crossbar.` paths of \p params; absent paths keep
/// their defaults. \throws CrossbarError on a bad combination, naming the path.
CrossbarConfig crossbar_config_from_params(const config::Params& params);

/// \brief The `crossbar.` parameters (crossbar_section().schema()).
config::Schema crossbar_schema();

/// \brief The semantic checks of the `crossbar.` section (CrossbarConfig::problem()).
std::vector<config::Check> crossbar_checks();

}  // namespace xbarsweep::crossbar
