#pragma once
/// \file
/// \brief Hardware cost model of layers mapped onto crossbars: area, energy, latency and power per
/// component (crossbar arrays, ADCs, DACs, sample-and-hold, shift-and-add, eDRAM buffers), with
/// ISAAC (Shafiee et al., ISCA 2016, Table 6, 32 nm) and NeuroSim defaults. No torch, no Kokkos.
/// Every formula is written out in docs/crossbar.md ("Cost model").

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "xbarsweep/crossbar/config.hpp"

namespace xbarsweep::crossbar {

/// \brief Per-component figures of the cost model (the `cost.` parameters). Defaults cite their
/// source; ISAAC = Shafiee et al., ISCA 2016, Table 6 (32 nm, 1.2 GHz).
struct CostConfig {
  /// Crossbar array power when read, mW, for an array of crossbar_reference_cells cells.
  /// ISAAC: 2.4 mW per 8 arrays of 128x128 (2 bits/cell).
  double crossbar_power_mw = 0.3;
  /// Crossbar array area, um^2, for crossbar_reference_cells cells. ISAAC: 0.0002 mm^2 / 8 arrays.
  double crossbar_area_um2 = 25.0;
  /// Cells of the array the two figures above describe; other shapes scale linearly in cells.
  double crossbar_reference_cells = 128.0 * 128.0;
  /// Duration of one crossbar read (one input plane), ns. ISAAC: 100 ns.
  double read_cycle_ns = 100.0;
  /// ADC energy per conversion, pJ; 0 = ISAAC's figure for the resolution (4..10 bits).
  double adc_energy_pj = 0.0;
  /// ADC area, um^2; 0 = ISAAC's figure for the resolution (4..10 bits).
  double adc_area_um2 = 0.0;
  /// ADC conversion rate, GS/s. ISAAC: 1.2 GS/s (8-bit SAR, 2 mW = 1.67 pJ x 1.2 GS/s).
  double adc_rate_gsps = 1.2;
  /// Bit lines (differential pairs) one ADC converts in turn. NeuroSim: one ADC per 8 columns.
  int columns_per_adc = 8;
  /// 1-bit DAC power, uW each; a b-bit DAC is priced as b of them. ISAAC: 4 mW per 8x128.
  double dac_power_uw = 4000.0 / 1024.0;
  /// 1-bit DAC area, um^2 each. ISAAC: 0.00017 mm^2 per 8x128 (0.166 um^2).
  double dac_area_um2 = 170.0 / 1024.0;
  /// Sample-and-hold power, uW each (one per bit line). ISAAC: 10 uW per 8x128.
  double sample_hold_power_uw = 10.0 / 1024.0;
  /// Sample-and-hold area, um^2 each. ISAAC: 0.00004 mm^2 per 8x128.
  double sample_hold_area_um2 = 40.0 / 1024.0;
  /// Shift-and-add unit power, mW (one per ADC). ISAAC: 0.05 mW.
  double shift_add_power_mw = 0.05;
  /// Shift-and-add unit area, um^2. ISAAC: 60 um^2.
  double shift_add_area_um2 = 60.0;
  /// eDRAM buffer power, mW per buffer. ISAAC: 64 KB eDRAM, 20.7 mW.
  double buffer_power_mw = 20.7;
  /// eDRAM buffer area, mm^2 per buffer. ISAAC: 64 KB eDRAM, 0.083 mm^2.
  double buffer_area_mm2 = 0.083;
  /// Crossbars served by one buffer. ISAAC: a tile = 12 IMAs x 8 crossbars share one eDRAM.
  int crossbars_per_buffer = 96;
  /// ADC resolution priced when the simulation's ADC is ideal (crossbar.adc_bits = 0). ISAAC: 8.
  int adc_bits_if_ideal = 8;
  /// DAC resolution priced when the simulation's DAC is ideal (crossbar.dac_bits = 0). ISAAC: 1.
  int dac_bits_if_ideal = 1;
  /// Input resolution priced when the simulation's inputs are ideal. NeuroSim: 8-bit activations.
  int input_bits_if_ideal = 8;
  /// Weight precision of the dense baseline, bits with the sign: its weights are bit-sliced onto
  /// cells of crossbar.levels levels (per polarity), so that quantization itself saves crossbars,
  /// as paper A's figures suggest (a 9-bit weight = 8-bit G+ and G-, each two 4-bit cells).
  /// 0 = the compressed model's own precision (crossbar.levels and crossbar.slices as mapped).
  int baseline_weight_bits = 0;
  /// Levels per cell (per polarity) the baseline is bit-sliced onto; 0 = crossbar.levels (paper A:
  /// 16, 4-bit cells). Set it where the simulated cells are continuous (crossbar.levels 0).
  int baseline_cell_levels = 0;

  /// \brief ADC energy per conversion (pJ) at \p bits: adc_energy_pj, or ISAAC's table.
  /// \throws CrossbarError outside 4..10 bits without an override.
  double adc_energy_at(int bits) const;
  /// \brief ADC area (um^2) at \p bits: adc_area_um2, or ISAAC's table.
  double adc_area_at(int bits) const;

  /// \brief Checks ranges. \throws CrossbarError naming the `cost.` key.
  void validate() const;
};

/// \brief ISAAC's ADC figures by resolution, 4..10 bits (Shafiee et al. 2016 after Kull et al.).
inline constexpr double kIsaacAdcEnergyPj[7] = {0.79, 0.99, 1.20, 1.42, 1.67, 1.97, 2.38};
inline constexpr double kIsaacAdcAreaUm2[7] = {361, 477, 627, 845, 1200, 1828, 3002};
/// \brief The widest ADC the ISAAC tables price; a wider one needs cost.adc_energy_pj / adc_area_um2.
inline constexpr int kIsaacAdcMaxBits = 4 + 7 - 1;

/// \brief How a layer sits on crossbars: what the cost model needs to know about it.
struct LayerMapping {
  std::string name;               ///< for reports
  int out = 0;                    ///< outputs (GEMM rows of W)
  int in = 0;                     ///< inputs (GEMM columns of W; conv: in_channels * kh * kw)
  int allocated_tiles = 0;        ///< tiles holding a nonzero weight
  std::int64_t used_rows = 0;     ///< sum over allocated tiles of the word lines they drive
  std::int64_t used_columns = 0;  ///< sum over allocated tiles of the bit lines they read
  std::int64_t mvms = 1;          ///< MVMs per inference (Linear: 1; Conv: output positions)
};

/// \brief \p out x \p in mapped densely (every tile of the grid allocated) with \p config's shape.
LayerMapping dense_mapping(const std::string& name, int out, int in, const CrossbarConfig& config,
                           std::int64_t mvms);

/// \brief \p out x \p in mapped with only the tiles \p allocated (TileIndex-like row/col pairs:
/// row-tile r covers inputs [r*rows, ...), column-tile c outputs [c*cols, ...)).
LayerMapping sparse_mapping(const std::string& name, int out, int in, const CrossbarConfig& config,
                            std::int64_t mvms, const std::vector<std::pair<int, int>>& allocated);

/// \brief Hardware counts and figures of one layer (or a sum of layers).
struct LayerCost {
  std::string name;
  std::int64_t crossbars = 0;
  std::int64_t adcs = 0;
  std::int64_t dacs = 0;
  std::int64_t sample_holds = 0;
  std::int64_t shift_adds = 0;
  /// eDRAM buffers charged: crossbars / crossbars_per_buffer (layers share tiles, so a layer pays
  /// its share of a tile's buffer rather than a whole one).
  double buffers = 0.0;
  std::int64_t conversions = 0;  ///< ADC conversions per inference
  double area_mm2 = 0.0;
  double energy_nj = 0.0;   ///< per inference
  double latency_us = 0.0;  ///< per inference
  double power_mw = 0.0;    ///< energy_nj / latency_us: average power during an inference
  /// Power of the hardware present, every component at its active power whether or not an
  /// inference uses it (crossbars, ADCs at their conversion rate, DACs, sample-and-holds,
  /// shift-and-adds, buffers): what counting hardware gives, the accounting paper A appears to use.
  double static_power_mw = 0.0;
  /// Per component, energy nJ per inference and area mm^2: crossbar, adc, dac, sample_hold,
  /// shift_add, buffer.
  double energy_by_component_nj[6] = {};
  double area_by_component_mm2[6] = {};
};

/// \brief Component names in the order of LayerCost's per-component arrays.
inline constexpr const char* kCostComponents[6] = {"crossbar",    "adc",       "dac",
                                                   "sample_hold", "shift_add", "buffer"};

/// \brief Cost of one mapped layer on \p xbar's hardware priced with \p cost.
/// \throws CrossbarError on an invalid config or mapping.
LayerCost layer_cost(const LayerMapping& layer, const CrossbarConfig& xbar, const CostConfig& cost);

/// \brief A model's cost: the layers run one after another (latencies and energies add; the
/// power is the total energy over the total latency), compared with the same layers mapped dense.
struct ModelCost {
  std::vector<LayerCost> layers;
  std::vector<LayerCost> dense_layers;
  LayerCost total;
  LayerCost dense_total;
  double power_reduction = 0.0;         ///< 1 - power / dense power, a fraction
  double area_reduction = 0.0;          ///< 1 - area / dense area, a fraction
  double static_power_reduction = 0.0;  ///< 1 - static power / dense static power, a fraction
  int dense_slices = 1;                 ///< cells per weight (per polarity) of the dense baseline
};

/// \brief Cells per weight (per polarity) of the dense baseline: \p xbar's slices when
/// cost.baseline_weight_bits is 0 or the cells are continuous (cost.baseline_cell_levels, else
/// crossbar.levels, is 0), else the baseline's magnitude bits (baseline_weight_bits - 1 for a
/// differential pair, all of them for the offset mapping) over the bits of a cell (log2 levels),
/// rounded up.
int dense_baseline_slices(const CrossbarConfig& xbar, const CostConfig& cost);

/// \brief Prices every layer and its dense counterpart (same out, in, mvms, every tile allocated,
/// at dense_baseline_slices cells per weight).
ModelCost model_cost(const std::vector<LayerMapping>& layers, const CrossbarConfig& xbar,
                     const CostConfig& cost);

/// \brief The one declaration of the `cost.` parameters: types, defaults (CostConfig's own),
/// ranges and the source of each default.
const config::Section<CostConfig>& cost_section();

/// \brief Builds a CostConfig from the `cost.` paths of \p params; absent paths keep defaults.
/// \throws CrossbarError on a bad value, naming the path.
CostConfig cost_config_from_params(const config::Params& params);

/// \brief The `cost.` parameters (cost_section().schema()).
config::Schema cost_schema();

/// \brief The semantic checks of the `cost.` section against `crossbar.adc_bits`.
std::vector<config::Check> cost_checks();

}  // namespace xbarsweep::crossbar
