// The device model: lognormal statistics, stuck-at rates, the normal generator.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "xbarsweep/crossbar/device.hpp"
#include "xbarsweep/crossbar/random.hpp"

namespace xbarsweep::crossbar {
namespace {

DeviceAddress address(std::uint32_t i) {
  DeviceAddress a;
  a.seed = 2024;
  a.layer = 1;
  a.tile_row = i % 7;
  a.tile_col = (i / 7) % 5;
  a.row = (i / 35) % 128;
  a.col = i / (35 * 128);
  return a;
}

// log(G / G_nom) ~ N(-sigma^2/2, sigma^2): mean-preserving lognormal.
TEST(Lognormal, LogHasTheConfiguredMeanAndVariance) {
  for (const double sigma : {0.05, 0.1, 0.3}) {
    DeviceModel m;
    m.sigma = sigma;
    const int n = 200000;
    double s = 0.0, s2 = 0.0, g_sum = 0.0;
    for (int i = 0; i < n; ++i) {
      const double g = program_device(m, 0.5, device_key(address(i)));
      const double l = std::log(g / 0.5);
      s += l;
      s2 += l * l;
      g_sum += g;
    }
    const double mean = s / n, var = s2 / n - mean * mean;
    // se(mean) = sigma/sqrt(n); se(var) = sigma^2 sqrt(2/n); 5-sigma tolerances
    EXPECT_NEAR(mean, -0.5 * sigma * sigma, 5 * sigma / std::sqrt(n)) << "sigma " << sigma;
    EXPECT_NEAR(var, sigma * sigma, 5 * sigma * sigma * std::sqrt(2.0 / n)) << "sigma " << sigma;
    // the level is the mean of the device states
    const double sd_g = 0.5 * std::sqrt(std::exp(sigma * sigma) - 1.0);
    EXPECT_NEAR(g_sum / n, 0.5, 5 * sd_g / std::sqrt(n)) << "sigma " << sigma;
  }
}

// Stuck-at counts follow Binomial(n, rate).
TEST(StuckAt, CountsMatchTheRates) {
  DeviceModel m;
  m.g_min = 0.1;
  m.g_max = 1.0;
  m.stuck_min_rate = 0.01;
  m.stuck_max_rate = 0.05;
  const int n = 300000;
  int at_min = 0, at_max = 0;
  for (int i = 0; i < n; ++i) {
    const double g = program_device(m, 0.55, device_key(address(i)));
    at_min += g == m.g_min;
    at_max += g == m.g_max;
  }
  for (const auto& [count, p] : {std::pair{at_min, m.stuck_min_rate}, std::pair{at_max, m.stuck_max_rate}}) {
    const double expect = n * p, sd = std::sqrt(n * p * (1 - p));
    EXPECT_NEAR(count, expect, 5 * sd) << "rate " << p;
  }
}

TEST(ProgrammingNoise, AdditiveWithTheConfiguredStd) {
  DeviceModel m;
  m.g_max = 2.0;
  m.prog_noise = 0.03;
  const int n = 100000;
  double s = 0.0, s2 = 0.0;
  for (int i = 0; i < n; ++i) {
    const double d = program_device(m, 1.0, device_key(address(i))) - 1.0;
    s += d;
    s2 += d * d;
  }
  const double sd = 0.06, mean = s / n, var = s2 / n - mean * mean;
  EXPECT_NEAR(mean, 0.0, 5 * sd / std::sqrt(n));
  EXPECT_NEAR(std::sqrt(var), sd, 5 * sd / std::sqrt(2.0 * n));
}

// The branch-free log under the read-noise normals matches libm.
TEST(FastNormal, LogMatchesLibm) {
  for (float a : {1e-7f, 0.01f, 0.5f, 0.9999f, 1.0f})
    EXPECT_NEAR(Impl::log_positive(a), std::log(a), 2e-7 * std::fabs(std::log(a)) + 1e-7) << a;
}

// The paired (Box-Muller) normal of the read-noise hot path: moments and tail probabilities of
// N(0, 1) for both draws of a pair, no correlation between them, and the sin/cos it rests on.
TEST(FastNormal, BoxMullerPairsAreIndependentStandardNormals) {
  const int n = 1000000;
  double s[2] = {0, 0}, s2[2] = {0, 0}, s4[2] = {0, 0}, cross = 0;
  int beyond2[2] = {0, 0}, beyond3[2] = {0, 0};
  for (int i = 0; i < n; ++i) {
    float z[2];
    normal_pair_from_bits(stream_hash32(0x1234567u, 0x9abcdefu, static_cast<std::uint32_t>(i)),
                          stream_hash32(0x1234567u, 0x9abcdefu, static_cast<std::uint32_t>(i + n)), z[0],
                          z[1]);
    for (int k = 0; k < 2; ++k) {
      s[k] += z[k];
      s2[k] += double(z[k]) * z[k];
      s4[k] += double(z[k]) * z[k] * z[k] * z[k];
      beyond2[k] += std::fabs(z[k]) > 2.0f;
      beyond3[k] += std::fabs(z[k]) > 3.0f;
    }
    cross += double(z[0]) * z[1];
  }
  for (int k = 0; k < 2; ++k) {
    EXPECT_NEAR(s[k] / n, 0.0, 5 / std::sqrt(double(n))) << k;
    EXPECT_NEAR(s2[k] / n, 1.0, 5 * std::sqrt(2.0 / n)) << k;
    EXPECT_NEAR(s4[k] / n, 3.0, 5 * std::sqrt(96.0 / n)) << k;
    for (const auto& [count, p] :
         {std::pair{beyond2[k], 0.04550026390}, std::pair{beyond3[k], 0.00269979606}})
      EXPECT_NEAR(count, n * p, 5 * std::sqrt(n * p * (1 - p))) << "draw " << k << ": P(|z| > k) = " << p;
  }
  EXPECT_NEAR(cross / n, 0.0, 5 / std::sqrt(double(n)));
  for (int i = -500; i <= 500; ++i) {
    const float t = 0.001f * static_cast<float>(i);
    float sv = 0, cv = 0;
    Impl::sincos_turns(t, sv, cv);
    EXPECT_NEAR(sv, std::sin(2.0 * M_PI * t), 3e-7) << t;
    EXPECT_NEAR(cv, std::cos(2.0 * M_PI * t), 3e-7) << t;
  }
}

}  // namespace
}  // namespace xbarsweep::crossbar
