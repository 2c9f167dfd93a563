// Cost model: a small example computed by hand, the dense comparison, the ISAAC ADC table,
// the cost.* schema.
#include <gtest/gtest.h>

#include <cmath>
#include <string>

#include "xbarsweep/config/schema.hpp"
#include "xbarsweep/config/value.hpp"
#include "xbarsweep/crossbar/cost.hpp"
#include "xbarsweep/error.hpp"

namespace xbarsweep::crossbar {
namespace {

constexpr double kRtol = 1e-9;

#define EXPECT_REL(a, b) EXPECT_NEAR((a), (b), kRtol* std::abs(double(b)) + 1e-15) << #a

// Layer 10 x 40 (out x in) on 16x16 crossbars, differential, 1 slice, 8-bit ADC, 1-bit DAC
// streaming 4-bit inputs, one MVM per inference, default (ISAAC / NeuroSim) figures.
//
// Grid: ceil(40/16) = 3 row tiles (inputs 16, 16, 8) x ceil(10/16) = 1 column tile (10 outputs).
// Pruned: tiles (0,0) and (2,0) kept, (1,0) zero.
//   used rows    = 16 + 8 = 24           used columns = 10 + 10 = 20
//   crossbars    = 2 tiles x 1 slice x 2 (pair) = 4
//   DACs         = 2 x 16 rows = 32      S&H = 2 x 16 columns = 32
//   ADCs         = 2 x ceil(16/8) = 4    S&A = 4      buffers = 4 / 96 (a share)
//   planes       = 4 / 1 = 4 (bit-serial); cycles = 1 MVM x 4 = 4
//   t_conv       = 1 / 1.2 GS/s = 0.8333 ns; t_cycle = max(100, 8 x 0.8333) = 100 ns
//   latency      = 4 x 100 ns = 400 ns = 0.4 us
//   conversions  = 20 x 1 slice x 4 = 80
// Energy (pJ), cell scale 16*16 / (128*128) = 1/64:
//   crossbar  4 x 0.3 mW / 64 x 400 ns            = 7.5
//   ADC       80 x 1.67 pJ (8 bits)               = 133.6
//   DAC       24 x 1 bit x 3.90625 uW x 400 ns    = 37.5
//   S&H       20 x 9.765625e-3 uW x 400 ns        = 0.078125
//   S&A       80 x 0.05 mW x 0.8333 ns            = 3.33333
//   buffer    4/96 x 20.7 mW x 400 ns             = 345
//   total = 527.011458 pJ = 0.527011458 nJ; power = 0.527011458 nJ / 0.4 us = 1.317528646 mW
// Area (um^2):
//   crossbar 4 x 25 / 64 = 1.5625; ADC 4 x 1200 = 4800; DAC 32 x 0.166015625 = 5.3125;
//   S&H 32 x 0.0390625 = 1.25; S&A 4 x 60 = 240; buffer 4/96 x 83000 = 3458.3333
//   total = 8506.458333 um^2 = 0.008506458333 mm^2
// Dense (3 tiles): used rows 40, used columns 30, crossbars 6, conversions 120:
//   energy 11.25 + 200.4 + 62.5 + 0.1171875 + 5 + 517.5 = 796.7671875 pJ; power 1.99191796875 mW
//   area: every count is 3/2 of the pruned one: 12759.6875 um^2
//   power_reduction = 1 - 1.317528646 / 1.99191796875; area_reduction = 1/3
CrossbarConfig example_crossbar() {
  CrossbarConfig x;
  x.rows = x.cols = 16;
  x.levels = 16;
  x.mapping = Mapping::Differential;
  x.adc_bits = 8;
  x.dac_bits = 1;
  x.input_bits = 4;
  return x;
}

TEST(CostModel, ReproducesTheHandComputedExample) {
  const CrossbarConfig x = example_crossbar();
  const CostConfig c;
  const LayerMapping m = sparse_mapping("fc", 10, 40, x, 1, {{0, 0}, {2, 0}});
  EXPECT_EQ(m.allocated_tiles, 2);
  EXPECT_EQ(m.used_rows, 24);
  EXPECT_EQ(m.used_columns, 20);

  const LayerCost l = layer_cost(m, x, c);
  EXPECT_EQ(l.crossbars, 4);
  EXPECT_EQ(l.dacs, 32);
  EXPECT_EQ(l.sample_holds, 32);
  EXPECT_EQ(l.adcs, 4);
  EXPECT_EQ(l.shift_adds, 4);
  EXPECT_EQ(l.conversions, 80);
  EXPECT_REL(l.buffers, 4.0 / 96.0);
  EXPECT_REL(l.latency_us, 0.4);
  EXPECT_REL(l.energy_by_component_nj[0], 7.5e-3);
  EXPECT_REL(l.energy_by_component_nj[1], 133.6e-3);
  EXPECT_REL(l.energy_by_component_nj[2], 37.5e-3);
  EXPECT_REL(l.energy_by_component_nj[3], 0.078125e-3);
  EXPECT_REL(l.energy_by_component_nj[4], 80 * 0.05 / 1.2 * 1e-3);
  EXPECT_REL(l.energy_by_component_nj[5], 345e-3);
  EXPECT_REL(l.energy_nj, (7.5 + 133.6 + 37.5 + 0.078125 + 80 * 0.05 / 1.2 + 345) * 1e-3);
  EXPECT_REL(l.power_mw, l.energy_nj / 0.4);
  EXPECT_NEAR(l.power_mw, 1.317528646, 1e-8);
  EXPECT_REL(l.area_mm2, (1.5625 + 4800 + 5.3125 + 1.25 + 240 + 4.0 / 96.0 * 83000) * 1e-6);

  const ModelCost mc = model_cost({m}, x, c);
  EXPECT_EQ(mc.dense_total.crossbars, 6);
  EXPECT_EQ(mc.dense_total.conversions, 120);
  EXPECT_REL(mc.dense_total.energy_nj, 796.7671875e-3);
  EXPECT_REL(mc.dense_total.power_mw, 1.99191796875);
  EXPECT_REL(mc.dense_total.area_mm2, 12759.6875e-6);
  EXPECT_REL(mc.power_reduction, 1.0 - (527.0114583333333 / 0.4) / (796.7671875 / 0.4));
  EXPECT_REL(mc.area_reduction, 1.0 / 3.0);
}

// Paper A's accounting beside ours, on the same example.
// Static power, the hardware present at its active power (mW):
//   crossbars 4 x 0.3 / 64 = 0.01875; ADCs 4 x 1.67 pJ x 1.2 GS/s = 8.016; DACs 32 x 1 bit x
//   3.90625e-3 = 0.125; S&H 32 x 9.765625e-6 = 3.125e-4; S&A 4 x 0.05 = 0.2; buffers 4/96 x 20.7
//   = 0.8625; total 9.2225625. Dense: every count 3/2 of that, 13.83384375.
// A 9-bit dense baseline on 16-level cells (4 bits), differential: 8 magnitude bits = 2 cells per
// polarity, so the dense layer has 3 tiles x 2 slices x 2 = 12 crossbars, and every count doubles
// again: static power 27.6676875, static_power_reduction 2/3; the offset mapping keeps the sign in
// the cells: 9 bits = 3 cells.
TEST(CostModel, StaticPowerAndABitSlicedBaselineByHand) {
  const CrossbarConfig x = example_crossbar();
  CostConfig c;
  const LayerMapping m = sparse_mapping("fc", 10, 40, x, 1, {{0, 0}, {2, 0}});
  const LayerCost l = layer_cost(m, x, c);
  EXPECT_REL(l.static_power_mw, 0.01875 + 8.016 + 0.125 + 3.125e-4 + 0.2 + 0.8625);
  ModelCost mc = model_cost({m}, x, c);
  EXPECT_EQ(mc.dense_slices, 1);
  EXPECT_REL(mc.dense_total.static_power_mw, 13.83384375);
  EXPECT_REL(mc.static_power_reduction, 1.0 / 3.0);

  c.baseline_weight_bits = 9;
  EXPECT_EQ(dense_baseline_slices(x, c), 2);
  mc = model_cost({m}, x, c);
  EXPECT_EQ(mc.dense_slices, 2);
  EXPECT_EQ(mc.total.crossbars, 4) << "the compressed model is priced as mapped";
  EXPECT_EQ(mc.dense_total.crossbars, 12);
  EXPECT_EQ(mc.dense_total.adcs, 12);
  EXPECT_EQ(mc.dense_total.dacs, 96);
  EXPECT_REL(mc.dense_total.static_power_mw, 27.6676875);
  EXPECT_REL(mc.static_power_reduction, 2.0 / 3.0);
  EXPECT_REL(mc.area_reduction, 1.0 - l.area_mm2 / mc.dense_total.area_mm2);

  CrossbarConfig offset = x;
  offset.mapping = Mapping::Offset;
  EXPECT_EQ(dense_baseline_slices(offset, c), 3);
  CrossbarConfig continuous = x;
  continuous.levels = 0;
  EXPECT_EQ(dense_baseline_slices(continuous, c), 1) << "continuous cells hold any precision";
  c.baseline_cell_levels = 8;  // 3-bit cells named for the baseline: 8 magnitude bits = 3 cells
  EXPECT_EQ(dense_baseline_slices(continuous, c), 3);
  EXPECT_EQ(dense_baseline_slices(x, c), 3);
  // Simulated cells continuous, the baseline's named: the dense side is priced on those cells.
  const LayerMapping mapped = sparse_mapping("fc", 10, 40, continuous, 1, {{0, 0}, {2, 0}});
  mc = model_cost({mapped}, continuous, c);
  EXPECT_EQ(mc.dense_total.crossbars, 3 * 3 * 2);
  EXPECT_EQ(mc.total.crossbars, 4);
}

TEST(CostModel, TotalsAddLayersAndDenseMeansNoReduction) {
  const CrossbarConfig x = example_crossbar();
  const CostConfig c;
  const auto a = dense_mapping("conv", 6, 25, x, 784);
  const auto b = dense_mapping("fc", 10, 40, x, 1);
  const ModelCost mc = model_cost({a, b}, x, c);
  EXPECT_NEAR(mc.power_reduction, 0.0, 1e-12);
  EXPECT_NEAR(mc.area_reduction, 0.0, 1e-12);
  EXPECT_REL(mc.total.energy_nj, mc.layers[0].energy_nj + mc.layers[1].energy_nj);
  EXPECT_REL(mc.total.latency_us, mc.layers[0].latency_us + mc.layers[1].latency_us);
  EXPECT_REL(mc.total.power_mw, mc.total.energy_nj / mc.total.latency_us);
  EXPECT_EQ(mc.total.crossbars, mc.layers[0].crossbars + mc.layers[1].crossbars);
}

TEST(CostModel, AdcFiguresFollowIsaacTableAndOverrides) {
  CostConfig c;
  EXPECT_EQ(c.adc_energy_at(4), 0.79);
  EXPECT_EQ(c.adc_energy_at(8), 1.67);
  EXPECT_EQ(c.adc_area_at(10), 3002.0);
  EXPECT_EQ(c.adc_area_at(2), 361.0);  // below the table: priced as 4 bits
  EXPECT_THROW(c.adc_energy_at(12), CrossbarError);
  c.adc_energy_pj = 3.0;
  EXPECT_EQ(c.adc_energy_at(12), 3.0);
  // An ideal (0-bit) ADC in the simulation is priced at cost.adc_bits_if_ideal.
  CrossbarConfig x = example_crossbar();
  x.adc_bits = 0;
  CostConfig d;
  d.adc_bits_if_ideal = 5;
  const auto l = layer_cost(dense_mapping("fc", 10, 40, x, 1), x, d);
  EXPECT_REL(l.energy_by_component_nj[1], double(l.conversions) * 0.99e-3);
}

TEST(CostSchema, DefaultsMatchTheStructAndOverridesApply) {
  const config::Schema s = cost_schema();
  config::Params p;
  for (const auto& spec : s.specs()) {
    EXPECT_EQ(spec.path.rfind("cost.", 0), 0u) << spec.path;
    EXPECT_NE(spec.doc.find_first_of("0123456789"), std::string::npos)
        << spec.path << ": doc cites no figure";
    p.set(spec.path, spec.default_value);
  }
  const CostConfig from_schema = cost_config_from_params(p);
  const CostConfig def;
  EXPECT_EQ(from_schema.crossbar_power_mw, def.crossbar_power_mw);
  EXPECT_EQ(from_schema.columns_per_adc, def.columns_per_adc);
  EXPECT_EQ(from_schema.buffer_area_mm2, def.buffer_area_mm2);
  p.set("cost.columns_per_adc", std::int64_t{1});
  p.set("cost.read_cycle_ns", 10.0);
  const CostConfig o = cost_config_from_params(p);
  EXPECT_EQ(o.columns_per_adc, 1);
  EXPECT_EQ(o.read_cycle_ns, 10.0);
  p.set("cost.read_cycle_ns", -1.0);
  try {
    cost_config_from_params(p);
    FAIL() << "expected CrossbarError";
  } catch (const CrossbarError& e) {
    EXPECT_NE(std::string(e.what()).find("cost.read_cycle_ns"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace xbarsweep::crossbar
