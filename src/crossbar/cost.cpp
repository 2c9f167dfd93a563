// Hardware cost model: counts per component from the tile grid, ISAAC / NeuroSim figures.
// The formulas are in docs/crossbar.md ("Cost model"); units: mW x ns = pJ.
#include "xbarsweep/crossbar/cost.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <optional>
#include <string>

#include "xbarsweep/config/schema.hpp"
#include "xbarsweep/config/value.hpp"
#include "xbarsweep/error.hpp"

namespace xbarsweep::crossbar {

double CostConfig::adc_energy_at(int bits) const {
  if (adc_energy_pj > 0.0) return adc_energy_pj;
  XBARSWEEP_THROW_IF(bits > kIsaacAdcMaxBits, CrossbarError,
                     "no ISAAC ADC energy for " << bits << " bits (table: 4..10); give cost.adc_energy_pj");
  // Below 4 bits ISAAC lists nothing: priced as a 4-bit ADC (conservative).
  return kIsaacAdcEnergyPj[std::max(bits, 4) - 4];
}

double CostConfig::adc_area_at(int bits) const {
  if (adc_area_um2 > 0.0) return adc_area_um2;
  XBARSWEEP_THROW_IF(bits > kIsaacAdcMaxBits, CrossbarError,
                     "no ISAAC ADC area for " << bits << " bits (table: 4..10); give cost.adc_area_um2");
  return kIsaacAdcAreaUm2[std::max(bits, 4) - 4];
}

void CostConfig::validate() const {
  const auto nonneg = [](double v, const char* key) {
    XBARSWEEP_THROW_IF(!(v >= 0.0) || !std::isfinite(v), CrossbarError,
                       key << " must be a finite number >= 0, got " << v);
  };
  nonneg(crossbar_power_mw, "cost.crossbar_power_mw");
  nonneg(crossbar_area_um2, "cost.crossbar_area_um2");
  nonneg(adc_energy_pj, "cost.adc_energy_pj");
  nonneg(adc_area_um2, "cost.adc_area_um2");
  nonneg(dac_power_uw, "cost.dac_power_uw");
  nonneg(dac_area_um2, "cost.dac_area_um2");
  nonneg(sample_hold_power_uw, "cost.sample_hold_power_uw");
  nonneg(sample_hold_area_um2, "cost.sample_hold_area_um2");
  nonneg(shift_add_power_mw, "cost.shift_add_power_mw");
  nonneg(shift_add_area_um2, "cost.shift_add_area_um2");
  nonneg(buffer_power_mw, "cost.buffer_power_mw");
  nonneg(buffer_area_mm2, "cost.buffer_area_mm2");
  XBARSWEEP_THROW_IF(!(crossbar_reference_cells > 0.0), CrossbarError,
                     "cost.crossbar_reference_cells must be > 0, got " << crossbar_reference_cells);
  XBARSWEEP_THROW_IF(!(read_cycle_ns > 0.0), CrossbarError,
                     "cost.read_cycle_ns must be > 0, got " << read_cycle_ns);
  XBARSWEEP_THROW_IF(!(adc_rate_gsps > 0.0), CrossbarError,
                     "cost.adc_rate_gsps must be > 0, got " << adc_rate_gsps);
  XBARSWEEP_THROW_IF(columns_per_adc < 1, CrossbarError,
                     "cost.columns_per_adc must be >= 1, got " << columns_per_adc);
  XBARSWEEP_THROW_IF(crossbars_per_buffer < 1, CrossbarError,
                     "cost.crossbars_per_buffer must be >= 1, got " << crossbars_per_buffer);
  XBARSWEEP_THROW_IF(adc_bits_if_ideal < 1 || adc_bits_if_ideal > 24, CrossbarError,
                     "cost.adc_bits_if_ideal must be in [1, 24], got " << adc_bits_if_ideal);
  XBARSWEEP_THROW_IF(dac_bits_if_ideal < 1 || dac_bits_if_ideal > 16, CrossbarError,
                     "cost.dac_bits_if_ideal must be in [1, 16], got " << dac_bits_if_ideal);
  XBARSWEEP_THROW_IF(input_bits_if_ideal < 1 || input_bits_if_ideal > 24, CrossbarError,
                     "cost.input_bits_if_ideal must be in [1, 24], got " << input_bits_if_ideal);
}

namespace {

std::int64_t ceil_div(std::int64_t a, std::int64_t b) { return (a + b - 1) / b; }

void check_shape(const std::string& name, int out, int in, std::int64_t mvms) {
  XBARSWEEP_THROW_IF(out < 1 || in < 1, CrossbarError,
                     "layer '" << name << "': shape " << out << " x " << in << " must be at least 1 x 1");
  XBARSWEEP_THROW_IF(mvms < 0, CrossbarError, "layer '" << name << "': mvms must be >= 0, got " << mvms);
}

}  // namespace

LayerMapping dense_mapping(const std::string& name, int out, int in, const CrossbarConfig& config,
                           std::int64_t mvms) {
  check_shape(name, out, in, mvms);
  const int nr = static_cast<int>(ceil_div(in, config.rows));
  const int nc = static_cast<int>(ceil_div(out, config.cols));
  LayerMapping m;
  m.name = name;
  m.out = out;
  m.in = in;
  m.allocated_tiles = nr * nc;
  m.used_rows = static_cast<std::int64_t>(in) * nc;      // each column tile drives every input
  m.used_columns = static_cast<std::int64_t>(out) * nr;  // each row tile reads every output
  m.mvms = mvms;
  return m;
}

LayerMapping sparse_mapping(const std::string& name, int out, int in, const CrossbarConfig& config,
                            std::int64_t mvms, const std::vector<std::pair<int, int>>& allocated) {
  check_shape(name, out, in, mvms);
  const int nr = static_cast<int>(ceil_div(in, config.rows));
  const int nc = static_cast<int>(ceil_div(out, config.cols));
  LayerMapping m;
  m.name = name;
  m.out = out;
  m.in = in;
  m.mvms = mvms;
  for (const auto& [r, c] : allocated) {
    XBARSWEEP_THROW_IF(r < 0 || r >= nr || c < 0 || c >= nc, CrossbarError,
                       "layer '" << name << "': tile (" << r << ", " << c << ") outside its " << nr << " x "
                                 << nc << " grid");
    ++m.allocated_tiles;
    m.used_rows += std::min(config.rows, in - r * config.rows);
    m.used_columns += std::min(config.cols, out - c * config.cols);
  }
  return m;
}

LayerCost layer_cost(const LayerMapping& l, const CrossbarConfig& x, const CostConfig& c) {
  x.validate();
  c.validate();
  const int adc_bits = x.adc_bits > 0 ? x.adc_bits : c.adc_bits_if_ideal;
  const int dac_bits = x.dac_bits > 0 ? x.dac_bits : c.dac_bits_if_ideal;
  const int input_bits = x.dac_bits > 0 ? x.effective_input_bits() : c.input_bits_if_ideal;
  const std::int64_t planes = ceil_div(std::max(input_bits, dac_bits), dac_bits);
  const std::int64_t tiles = l.allocated_tiles;
  const std::int64_t slices = x.slices;

  LayerCost r;
  r.name = l.name;
  r.crossbars = tiles * x.crossbars_per_tile();
  r.dacs = tiles * slices * x.rows;          // the pair shares its word-line drivers
  r.sample_holds = tiles * slices * x.cols;  // one per bit line (pair subtracted)
  r.adcs = tiles * slices * ceil_div(x.cols, c.columns_per_adc);
  r.shift_adds = r.adcs;
  r.buffers = static_cast<double>(r.crossbars) / c.crossbars_per_buffer;  // a share: layers share tiles

  const double cycles = static_cast<double>(l.mvms) * static_cast<double>(planes);
  const double t_conv_ns = 1.0 / c.adc_rate_gsps;
  const double t_cycle_ns = std::max(c.read_cycle_ns, c.columns_per_adc * t_conv_ns);
  const double latency_ns = cycles * t_cycle_ns;
  r.conversions = l.used_columns * slices * static_cast<std::int64_t>(cycles);
  const double conversions = static_cast<double>(l.used_columns * slices) * cycles;
  const double cell_scale = static_cast<double>(x.rows) * x.cols / c.crossbar_reference_cells;

  double* e = r.energy_by_component_nj;  // filled in pJ, converted below
  e[0] = static_cast<double>(r.crossbars) * c.crossbar_power_mw * cell_scale * cycles * c.read_cycle_ns;
  e[1] = conversions * c.adc_energy_at(adc_bits);
  e[2] = static_cast<double>(l.used_rows * slices) * dac_bits * (c.dac_power_uw * 1e-3) * cycles *
         c.read_cycle_ns;
  e[3] = static_cast<double>(l.used_columns * slices) * (c.sample_hold_power_uw * 1e-3) * cycles *
         c.read_cycle_ns;
  e[4] = conversions * c.shift_add_power_mw * t_conv_ns;
  e[5] = r.buffers * c.buffer_power_mw * latency_ns;
  double* a = r.area_by_component_mm2;  // filled in um^2, converted below
  a[0] = static_cast<double>(r.crossbars) * c.crossbar_area_um2 * cell_scale;
  a[1] = static_cast<double>(r.adcs) * c.adc_area_at(adc_bits);
  a[2] = static_cast<double>(r.dacs) * dac_bits * c.dac_area_um2;
  a[3] = static_cast<double>(r.sample_holds) * c.sample_hold_area_um2;
  a[4] = static_cast<double>(r.shift_adds) * c.shift_add_area_um2;
  a[5] = r.buffers * c.buffer_area_mm2 * 1e6;
  for (int k = 0; k < 6; ++k) {
    e[k] *= 1e-3;  // pJ -> nJ
    a[k] *= 1e-6;  // um^2 -> mm^2
    r.energy_nj += e[k];
    r.area_mm2 += a[k];
  }
  r.latency_us = latency_ns * 1e-3;
  r.power_mw = r.latency_us > 0.0 ? r.energy_nj / r.latency_us : 0.0;  // nJ / us = mW
  // The hardware present, each part at its active power (pJ x GS/s = mW for the ADCs).
  r.static_power_mw = static_cast<double>(r.crossbars) * c.crossbar_power_mw * cell_scale +
                      static_cast<double>(r.adcs) * c.adc_energy_at(adc_bits) * c.adc_rate_gsps +
                      static_cast<double>(r.dacs) * dac_bits * c.dac_power_uw * 1e-3 +
                      static_cast<double>(r.sample_holds) * c.sample_hold_power_uw * 1e-3 +
                      static_cast<double>(r.shift_adds) * c.shift_add_power_mw +
                      r.buffers * c.buffer_power_mw;
  return r;
}

namespace {

void accumulate(LayerCost& sum, const LayerCost& l) {
  sum.crossbars += l.crossbars;
  sum.adcs += l.adcs;
  sum.dacs += l.dacs;
  sum.sample_holds += l.sample_holds;
  sum.shift_adds += l.shift_adds;
  sum.buffers += l.buffers;
  sum.conversions += l.conversions;
  sum.area_mm2 += l.area_mm2;
  sum.energy_nj += l.energy_nj;
  sum.latency_us += l.latency_us;
  for (int k = 0; k < 6; ++k) {
    sum.energy_by_component_nj[k] += l.energy_by_component_nj[k];
    sum.area_by_component_mm2[k] += l.area_by_component_mm2[k];
  }
  sum.power_mw = sum.latency_us > 0.0 ? sum.energy_nj / sum.latency_us : 0.0;
  sum.static_power_mw += l.static_power_mw;
}

}  // namespace

int dense_baseline_slices(const CrossbarConfig& xbar, const CostConfig& cost) {
  const int levels = cost.baseline_cell_levels > 0 ? cost.baseline_cell_levels : xbar.levels;
  if (cost.baseline_weight_bits <= 0 || levels <= 1) return xbar.slices;
  const int cell_bits = static_cast<int>(std::floor(std::log2(static_cast<double>(levels)) + 1e-9));
  const int magnitude_bits =
      xbar.mapping == Mapping::Differential ? cost.baseline_weight_bits - 1 : cost.baseline_weight_bits;
  return std::max(1, static_cast<int>(ceil_div(std::max(1, magnitude_bits), std::max(1, cell_bits))));
}

ModelCost model_cost(const std::vector<LayerMapping>& layers, const CrossbarConfig& xbar,
                     const CostConfig& cost) {
  ModelCost m;
  m.total.name = "total";
  m.dense_total.name = "total (dense)";
  CrossbarConfig dense_xbar = xbar;  // the baseline's cells, sliced at its precision
  dense_xbar.slices = m.dense_slices = dense_baseline_slices(xbar, cost);
  if (dense_xbar.slices != xbar.slices && cost.baseline_cell_levels >= 2)
    dense_xbar.levels = cost.baseline_cell_levels;
  for (const auto& l : layers) {
    m.layers.push_back(layer_cost(l, xbar, cost));
    m.dense_layers.push_back(
        layer_cost(dense_mapping(l.name, l.out, l.in, dense_xbar, l.mvms), dense_xbar, cost));
    accumulate(m.total, m.layers.back());
    accumulate(m.dense_total, m.dense_layers.back());
  }
  m.power_reduction = m.dense_total.power_mw > 0.0 ? 1.0 - m.total.power_mw / m.dense_total.power_mw : 0.0;
  m.area_reduction = m.dense_total.area_mm2 > 0.0 ? 1.0 - m.total.area_mm2 / m.dense_total.area_mm2 : 0.0;
  m.static_power_reduction = m.dense_total.static_power_mw > 0.0
                                 ? 1.0 - m.total.static_power_mw / m.dense_total.static_power_mw
                                 : 0.0;
  return m;
}

const config::Section<CostConfig>& cost_section() {
  using C = CostConfig;
  using config::Range;
  static const config::Section<C> section =
      config::Section<C>("cost")
          .add("crossbar_power_mw", &C::crossbar_power_mw,
               "crossbar array power when read, mW per reference array; ISAAC (ISCA 2016, Table 6): 2.4 mW / "
               "8 arrays of 128x128",
               Range::at_least(0.0))
          .unit("mW")
          .add("crossbar_area_um2", &C::crossbar_area_um2,
               "crossbar array area, um^2 per reference array; ISAAC Table 6: 0.0002 mm^2 / 8 arrays",
               Range::at_least(0.0))
          .unit("um^2")
          .add("crossbar_reference_cells", &C::crossbar_reference_cells,
               "cells of the array the crossbar figures describe (ISAAC: 128x128); other shapes scale "
               "linearly",
               Range::at_least(1.0))
          .add("read_cycle_ns", &C::read_cycle_ns, "one crossbar read (one input plane), ns; ISAAC: 100",
               Range::above(0.0))
          .unit("ns")
          .add("adc_energy_pj", &C::adc_energy_pj,
               "ADC energy per conversion, pJ; 0 = ISAAC's figure by resolution (4..10 bits: 0.79, 0.99, "
               "1.20, 1.42, 1.67, 1.97, 2.38)",
               Range::at_least(0.0))
          .unit("pJ")
          .add("adc_area_um2", &C::adc_area_um2,
               "ADC area, um^2; 0 = ISAAC's figure by resolution (4..10 bits: 361, 477, 627, 845, 1200, "
               "1828, 3002)",
               Range::at_least(0.0))
          .unit("um^2")
          .add("adc_rate_gsps", &C::adc_rate_gsps, "ADC conversion rate, GS/s; ISAAC: 1.2 (8-bit SAR, 2 mW)",
               Range::above(0.0))
          .unit("GS/s")
          .add("columns_per_adc", &C::columns_per_adc, "bit lines one ADC converts in turn; NeuroSim: 8",
               {1.0, 65536.0})
          .add("dac_power_uw", &C::dac_power_uw,
               "1-bit DAC power, uW each (a b-bit DAC = b of them, first-order); ISAAC Table 6: 4 mW per "
               "8x128",
               Range::at_least(0.0))
          .unit("uW")
          .add("dac_area_um2", &C::dac_area_um2,
               "1-bit DAC area, um^2 each; ISAAC Table 6: 0.00017 mm^2 per 8x128", Range::at_least(0.0))
          .unit("um^2")
          .add("sample_hold_power_uw", &C::sample_hold_power_uw,
               "sample-and-hold power, uW each (one per bit line); ISAAC Table 6: 10 uW per 8x128",
               Range::at_least(0.0))
          .unit("uW")
          .add("sample_hold_area_um2", &C::sample_hold_area_um2,
               "sample-and-hold area, um^2 each; ISAAC Table 6: 0.00004 mm^2 per 8x128", Range::at_least(0.0))
          .unit("um^2")
          .add("shift_add_power_mw", &C::shift_add_power_mw,
               "shift-and-add power, mW each (one per ADC); ISAAC Table 6: 0.05", Range::at_least(0.0))
          .unit("mW")
          .add("shift_add_area_um2", &C::shift_add_area_um2,
               "shift-and-add area, um^2 each; ISAAC Table 6: 60", Range::at_least(0.0))
          .unit("um^2")
          .add("buffer_power_mw", &C::buffer_power_mw,
               "eDRAM buffer power, mW each; ISAAC Table 6: 64 KB eDRAM, 20.7", Range::at_least(0.0))
          .unit("mW")
          .add("buffer_area_mm2", &C::buffer_area_mm2,
               "eDRAM buffer area, mm^2 each; ISAAC Table 6: 64 KB eDRAM, 0.083", Range::at_least(0.0))
          .unit("mm^2")
          .add("crossbars_per_buffer", &C::crossbars_per_buffer,
               "crossbars sharing one buffer; ISAAC tile: 12 IMAs x 8 crossbars = 96", {1.0, 1e9})
          .add("adc_bits_if_ideal", &C::adc_bits_if_ideal,
               "ADC resolution priced when crossbar.adc_bits = 0 (ideal in simulation); ISAAC: 8",
               {1.0, 24.0})
          .add("dac_bits_if_ideal", &C::dac_bits_if_ideal,
               "DAC resolution priced when crossbar.dac_bits = 0; ISAAC: 1 (bit-serial)", {1.0, 16.0})
          .add("input_bits_if_ideal", &C::input_bits_if_ideal,
               "input resolution priced when crossbar.dac_bits = 0; NeuroSim: 8-bit activations", {1.0, 24.0})
          .add("baseline_weight_bits", &C::baseline_weight_bits,
               "weight bits (sign included) of the dense baseline, bit-sliced onto cells of crossbar.levels "
               "levels per polarity, so that quantization saves crossbars (paper A: 9-bit weights = 8-bit G+ "
               "and G-, two 4-bit cells each); 0 = the compressed model's own precision",
               {0.0, 32.0})
          .added_later()
          .add("baseline_cell_levels", &C::baseline_cell_levels,
               "levels per cell the baseline_weight_bits baseline is bit-sliced onto; 0 = crossbar.levels "
               "(paper A: 16, 4-bit cells)",
               {0.0, 65536.0})
          .added_later();
  return section;
}

CostConfig cost_config_from_params(const config::Params& p) {
  const CostConfig c = cost_section().read(p);
  c.validate();
  return c;
}

config::Schema cost_schema() { return cost_section().schema(); }

std::vector<config::Check> cost_checks() {
  // ISAAC lists ADCs of 4..10 bits: a wider one needs its own figures, or the cost model fails
  // after the point's training.
  const auto adc_check = [](const char* key, double CostConfig::*figure, const char* what) {
    return config::Check{{"cost.", "crossbar.adc_bits"},
                         [key, figure, what](const config::Params& p) -> std::optional<config::Problem> {
                           const CostConfig c = cost_section().read(p);
                           const auto simulated = p.integer("crossbar.adc_bits");
                           const auto bits = simulated > 0 ? simulated : c.adc_bits_if_ideal;
                           if (bits <= kIsaacAdcMaxBits || c.*figure > 0.0) return std::nullopt;
                           return config::Problem{
                               key, std::string("is 0 (ISAAC's figure) but the ADC has ") +
                                        std::to_string(bits) + " bits (" +
                                        (simulated > 0 ? "crossbar.adc_bits" : "cost.adc_bits_if_ideal") +
                                        ") and ISAAC lists only 4..10; expected the " + what + " of a " +
                                        std::to_string(bits) + "-bit ADC"};
                         }};
  };
  return {adc_check("cost.adc_energy_pj", &CostConfig::adc_energy_pj, "energy per conversion in pJ"),
          adc_check("cost.adc_area_um2", &CostConfig::adc_area_um2, "area in um^2")};
}

}  // namespace xbarsweep::crossbar
