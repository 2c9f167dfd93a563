// Conductance drift: the power law over many devices, no change up to t0, global compensation,
// read noise that grows with log time.
#include <gtest/gtest.h>

#include <cmath>
#include <tuple>
#include <vector>

#include "test_helpers.hpp"
#include "xbarsweep/crossbar/device.hpp"
#include "xbarsweep/crossbar/layer.hpp"
#include "xbarsweep/crossbar/random.hpp"

namespace xbarsweep::crossbar {
namespace {

using test::Matrix;
using test::random_matrix;
using test::to_host;
using test::to_view;

DeviceAddress address(std::uint32_t i) {
  DeviceAddress a;
  a.seed = 77;
  a.layer = 3;
  a.tile_row = i % 11;
  a.row = (i / 11) % 128;
  a.col = i / (11 * 128);
  return a;
}

// E[(t/t0)^(-nu)] for nu = max(0, N(mu, s)), by the midpoint rule over +-8 s (the clipped mass
// at nu = 0 contributes factor 1).
double expected_factor(double mu, double s, double log_t) {
  if (s == 0.0) return std::exp(-std::max(0.0, mu) * log_t);
  const int n = 20000;
  const double lo = mu - 8 * s, h = 16 * s / n;
  double e = 0.0, mass = 0.0;
  for (int k = 0; k < n; ++k) {
    const double nu = lo + (k + 0.5) * h;
    const double p = std::exp(-0.5 * (nu - mu) * (nu - mu) / (s * s)) / (s * std::sqrt(2 * M_PI)) * h;
    e += p * std::exp(-std::max(0.0, nu) * log_t);
    mass += p;
  }
  return e / mass;
}

// Over many devices, G(t) / G(t0) averages E[(t / t0)^(-nu)]; with nu_std 0 every device follows
// the power law exactly, so log G is linear in log t with slope -nu.
TEST(Drift, MeanConductanceFollowsThePowerLawOverManyDevices) {
  CrossbarConfig c;
  c.drift = Drift::PowerLaw;
  c.sigma = 0.1;  // variation and drift together: the drift factor is per device, on top
  c.drift_nu_mean = 0.06;
  c.drift_nu_std = 0.02;
  const int n = 200000;
  for (const double t : {3600.0, 86400.0, 3.15e7}) {
    const DeviceModel at0 = DeviceModel::from(c), at_t = DeviceModel::at_time(c, t);
    double sum = 0.0, sum2 = 0.0;
    for (int i = 0; i < n; ++i) {
      const auto key = device_key(address(i));
      const double f = program_device(at_t, 0.5, key) / program_device(at0, 0.5, key);
      sum += f;
      sum2 += f * f;
    }
    const double mean = sum / n, sd = std::sqrt(sum2 / n - mean * mean);
    const double expect = expected_factor(c.drift_nu_mean, c.drift_nu_std, std::log(t / c.drift_t0));
    EXPECT_NEAR(mean, expect, 5 * sd / std::sqrt(n)) << "t = " << t << " s";
  }
  c.drift_nu_std = 0.0;
  const DeviceModel at0 = DeviceModel::from(c);
  for (int i = 0; i < 1000; ++i) {
    const auto key = device_key(address(i));
    const double g0 = program_device(at0, 0.7, key);
    const double g1 = program_device(DeviceModel::at_time(c, 200.0), 0.7, key);
    const double g2 = program_device(DeviceModel::at_time(c, 2000.0), 0.7, key);
    // slope of log G over log t, per decade: -nu
    EXPECT_NEAR(std::log(g1 / g0) / std::log(10.0), -0.06, 1e-12);
    EXPECT_NEAR(std::log(g2 / g1) / std::log(10.0), -0.06, 1e-12);
  }
}

// drift: pcm takes nu's mean and spread from aihwkit's fit against G / g_max: at g_max 0.049 and
// 0.008 (both clamped), at 0.1 g_max 0.0601 and 0.0229; measured as -ln(G(t) / G(t0)) / ln(t / t0).
TEST(Drift, PcmFitExponentsDependOnConductance) {
  CrossbarConfig c;
  c.drift = Drift::Pcm;
  c.g_max_us = 25.0;
  const double t = 86400.0, lt = std::log(t / c.drift_t0);
  const DeviceModel at0 = DeviceModel::from(c), at_t = DeviceModel::at_time(c, t);
  const double ln01 = std::log(0.1);
  for (const auto& [g, mean, sd] :
       {std::tuple{25.0, 0.049, 0.008}, std::tuple{2.5, -0.0155 * ln01 + 0.0244, -0.0125 * ln01 - 0.0059}}) {
    const int n = 100000;
    double s = 0.0, s2 = 0.0;
    for (int i = 0; i < n; ++i) {
      const auto key = device_key(address(i));
      const double nu = -std::log(program_device(at_t, g, key) / program_device(at0, g, key)) / lt;
      s += nu;
      s2 += nu * nu;
    }
    const double m = s / n, v = s2 / n - m * m;
    EXPECT_NEAR(m, mean, 5 * sd / std::sqrt(n)) << "G = " << g << " uS";
    EXPECT_NEAR(std::sqrt(v), sd, 0.02 * sd) << "G = " << g << " uS";
  }
}

// A stuck device stays where it is stuck.
TEST(Drift, StuckDevicesDoNotDrift) {
  CrossbarConfig c;
  c.drift = Drift::PowerLaw;
  c.g_min_us = 0.1;
  c.stuck_min_rate = 0.2;
  c.stuck_max_rate = 0.2;
  const DeviceModel at0 = DeviceModel::from(c), late = DeviceModel::at_time(c, 3.15e7);
  int stuck = 0, drifted = 0, free = 0;
  for (int i = 0; i < 5000; ++i) {
    const auto key = device_key(address(i));
    const double g0 = program_device(at0, 0.5, key), g = program_device(late, 0.5, key);
    if (g0 == c.g_min_us || g0 == c.g_max_us) {
      EXPECT_EQ(g, g0);
      ++stuck;
    } else {
      EXPECT_LE(g, g0);  // nu clipped at 0 (P ~ 0.1%) keeps a device where it is
      drifted += g < g0;
      ++free;
    }
  }
  EXPECT_GT(stuck, 1500);
  EXPECT_GT(drifted, 0.99 * free);
}

CrossbarConfig drifting_layer_config() {
  CrossbarConfig c;
  c.rows = 64;
  c.cols = 32;
  c.levels = 16;
  c.g_min_us = 0.1;
  c.sigma = 0.05;
  c.read_noise = 0.01;
  c.dac_bits = 8;
  c.adc_bits = 8;
  c.drift = Drift::PowerLaw;
  return c;
}

// Reads at t <= t0 are the programmed devices: the same conductances and the same outputs, bit
// for bit, as a layer never drifted.
TEST(Drift, AtOrBeforeT0ChangesNothing) {
  const int out = 40, in = 150, batch = 64;
  const auto w = random_matrix(out, in, 5);
  const auto xv = random_matrix(batch, in, 6);
  const Matrix x = to_view(xv, batch, in);
  for (const Mapping mapping : {Mapping::Differential, Mapping::Offset}) {
    CrossbarConfig c = drifting_layer_config();
    c.mapping = mapping;
    ProgrammedLayer<> plain(w.data(), out, in, c, DeviceSeed{9, 1});
    plain.calibrate(x);
    Matrix y0("y0", batch, out);
    plain.mvm(x, y0);
    for (const double t : {0.0, 1.0, c.drift_t0}) {
      ProgrammedLayer<> read(w.data(), out, in, c, DeviceSeed{9, 1});
      read.calibrate(x);
      read.drift_to(w.data(), t);
      EXPECT_EQ(read.drift_compensation(), 1.0f);
      EXPECT_EQ(read.tile_conductance(1, 0), plain.tile_conductance(1, 0)) << "t = " << t;
      Matrix y("y", batch, out);
      read.mvm(x, y);
      EXPECT_EQ(to_host(y), to_host(y0)) << "t = " << t << " s";
    }
  }
}

double mean_abs(const std::vector<float>& v) {
  double s = 0.0;
  for (const float a : v) s += std::fabs(a);
  return s / static_cast<double>(v.size());
}

double relative_error(const std::vector<float>& a, const std::vector<float>& b) {
  double num = 0.0, den = 0.0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    num += (double(a[i]) - b[i]) * (double(a[i]) - b[i]);
    den += double(b[i]) * b[i];
  }
  return std::sqrt(num / den);
}

// After a year of drift, outputs shrink by about the mean drift factor; global compensation
// brings their mean magnitude back to that of the programmed devices' outputs, and the outputs
// themselves much closer. With one exponent for every device (nu_std 0) compensation is exact:
// every conductance is scaled alike, so the outputs equal the programmed ones to float rounding.
// (With a spread of exponents the compensated magnitude sits above 1 by sqrt(1 + cv^2) of the
// factors, so that part uses a small spread.) Read noise and the ADC are off: only drift differs.
TEST(Drift, GlobalCompensationRestoresTheMeanOutput) {
  const int out = 96, in = 256, batch = 256;
  const auto w = random_matrix(out, in, 11);
  const auto xv = random_matrix(batch, in, 12);
  const Matrix x = to_view(xv, batch, in);
  const double year = 3.15e7;
  for (const double nu_std : {0.005, 0.0}) {
    CrossbarConfig c;
    c.rows = c.cols = 64;
    c.levels = 16;
    c.g_min_us = 0.1;
    c.drift = Drift::PowerLaw;
    c.drift_nu_std = nu_std;
    const double expect = expected_factor(c.drift_nu_mean, c.drift_nu_std, std::log(year / c.drift_t0));
    ProgrammedLayer<> fresh(w.data(), out, in, c, DeviceSeed{4, 0});
    Matrix y0("y0", batch, out);
    fresh.mvm(x, y0);
    const auto h0 = to_host(y0);
    std::vector<float> uncompensated, compensated;
    for (const DriftCompensation mode : {DriftCompensation::None, DriftCompensation::Global}) {
      c.drift_compensation = mode;
      ProgrammedLayer<> aged(w.data(), out, in, c, DeviceSeed{4, 0});
      aged.drift_to(w.data(), year);
      EXPECT_EQ(aged.read_time(), year);
      Matrix y("y", batch, out);
      aged.mvm(x, y);
      (mode == DriftCompensation::None ? uncompensated : compensated) = to_host(y);
    }
    const double shrink = mean_abs(uncompensated) / mean_abs(h0);
    const double restored = mean_abs(compensated) / mean_abs(h0);
    EXPECT_NEAR(shrink, expect, 0.01) << "nu_std " << nu_std << ": outputs shrink by the mean drift factor";
    EXPECT_NEAR(restored, 1.0, 0.01) << "nu_std " << nu_std << ": compensated outputs keep their magnitude";
    const double e_none = relative_error(uncompensated, h0), e_global = relative_error(compensated, h0);
    EXPECT_LT(e_global, 0.25 * e_none) << "compensated " << e_global << ", uncompensated " << e_none;
    if (nu_std == 0.0) {
      EXPECT_LT(e_global, 1e-5) << "one exponent: compensation is exact";
    }
  }
}

// Read noise grows as 1 + growth ln(t / t0): with drift exponents of 0 only the noise changes.
TEST(Drift, ReadNoiseGrowsWithLogTime) {
  CrossbarConfig c;
  c.rows = c.cols = 64;
  c.read_noise = 0.02;
  c.drift = Drift::PowerLaw;
  c.drift_nu_mean = 0.0;
  c.drift_nu_std = 0.0;
  c.drift_read_noise_growth = 0.25;
  const double t = 86400.0, gain = 1.0 + 0.25 * std::log(t / c.drift_t0);
  EXPECT_DOUBLE_EQ(c.read_noise_gain(t), gain);
  EXPECT_DOUBLE_EQ(c.read_noise_gain(c.drift_t0), 1.0);
  const int out = 64, in = 64, batch = 512;
  const auto w = random_matrix(out, in, 21);
  const Matrix x = to_view(random_matrix(batch, in, 22), batch, in);
  const auto noise_rms = [&](double at) {
    CrossbarConfig ideal = c;
    ideal.read_noise = 0.0;
    ProgrammedLayer<> clean(w.data(), out, in, ideal, DeviceSeed{1, 0});
    ProgrammedLayer<> noisy(w.data(), out, in, c, DeviceSeed{1, 0});
    clean.calibrate(x);
    noisy.calibrate(x);
    noisy.drift_to(w.data(), at);
    Matrix a("a", batch, out), b("b", batch, out);
    clean.mvm(x, a);
    noisy.mvm(x, b);
    const auto ha = to_host(a), hb = to_host(b);
    double ss = 0.0;
    for (std::size_t i = 0; i < ha.size(); ++i) ss += (double(hb[i]) - ha[i]) * (double(hb[i]) - ha[i]);
    return std::sqrt(ss / ha.size());
  };
  const double ratio = noise_rms(t) / noise_rms(1.0);
  EXPECT_NEAR(ratio, gain, 0.03 * gain);  // 32768 draws each: se of an rms ~0.4%
}

// Without drift, drift_to changes nothing at any time.
TEST(Drift, NoneIgnoresTheTime) {
  CrossbarConfig c = drifting_layer_config();
  c.drift = Drift::None;
  const auto w = random_matrix(8, 16, 1);
  ProgrammedLayer<> layer(w.data(), 8, 16, c, DeviceSeed{2, 0});
  const auto before = layer.tile_conductance(0, 0);
  layer.drift_to(w.data(), 3.15e7);
  EXPECT_EQ(layer.tile_conductance(0, 0), before);
  EXPECT_EQ(layer.drift_compensation(), 1.0f);
  EXPECT_THROW(layer.drift_to(w.data(), -1.0), CrossbarError);
}

}  // namespace
}  // namespace xbarsweep::crossbar
