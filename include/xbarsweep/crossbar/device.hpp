#pragma once
/// \file
/// \brief The device model: what one programmed memristor's conductance is. Pure functions of
/// the nominal level and the device's address, callable in kernels and on the host.

#include <Kokkos_Core.hpp>

#include "xbarsweep/crossbar/config.hpp"
#include "xbarsweep/crossbar/random.hpp"

namespace xbarsweep::crossbar {

/// \brief The static non-idealities of a device, as plain numbers a kernel can capture.
struct DeviceModel {
  double g_min = 0.0;           ///< uS
  double g_max = 1.0;           ///< uS
  double sigma = 0.0;           ///< lognormal sigma of log G
  double prog_noise = 0.0;      ///< std of programming noise / g_max
  double stuck_min_rate = 0.0;  ///< P(stuck at g_min)
  double stuck_max_rate = 0.0;  ///< P(stuck at g_max)
  double nu_mean = 0.0;         ///< drift exponent: mean
  double nu_std = 0.0;          ///< drift exponent: device-to-device std
  double log_time = 0.0;        ///< ln(t / t0) of the read; 0 = as programmed (no drift)
  bool pcm_fit = false;         ///< nu's mean and std from aihwkit's PCM fit against G / g_max

  /// \brief The devices as programmed (read at t0: no drift).
  static DeviceModel from(const CrossbarConfig& c) {
    return {c.g_min_us,       c.g_max_us,      c.sigma,        c.prog_noise, c.stuck_min_rate,
            c.stuck_max_rate, c.drift_nu_mean, c.drift_nu_std, 0.0,          c.drift == Drift::Pcm};
  }
  /// \brief The same devices read \p t seconds after programming (CrossbarConfig::drift).
  static DeviceModel at_time(const CrossbarConfig& c, double t) {
    DeviceModel m = from(c);
    m.log_time = c.drift_log_time(t);
    return m;
  }
};

/// \brief The mean and std of the drift exponent of a device programmed to \p g_nominal: the
/// model's own, or (pcm_fit) aihwkit's PCMLikeNoiseModel fit (Nandakumar et al., ICECS 2019) with
/// g = G / g_max: mean = clamp(-0.0155 ln g + 0.0244, 0.049, 0.1), std = clamp(-0.0125 ln g -
/// 0.0059, 0.008, 0.045).
KOKKOS_INLINE_FUNCTION void drift_exponent(const DeviceModel& m, double g_nominal, double& mean, double& sd) {
  mean = m.nu_mean;
  sd = m.nu_std;
  if (!m.pcm_fit) return;
  double g = m.g_max > 0.0 ? g_nominal / m.g_max : 1.0;
  g = g < 1e-7 ? 1e-7 : g;
  const double lg = Kokkos::Experimental::log(g);
  mean = -0.0155 * lg + 0.0244;
  mean = mean < 0.049 ? 0.049 : (mean > 0.1 ? 0.1 : mean);
  sd = -0.0125 * lg - 0.0059;
  sd = sd < 0.008 ? 0.008 : (sd > 0.045 ? 0.045 : sd);
}

/// \brief The drift factor (t / t0)^(-nu) = exp(-nu ln(t / t0)) of the device keyed \p key and
/// programmed to \p g_nominal, nu = max(0, mean + std z) with z its draw 4 (drift_exponent): a
/// device's nu is the same at every time.
KOKKOS_INLINE_FUNCTION double drift_factor(const DeviceModel& m, double g_nominal, std::uint64_t key) {
  if (m.log_time == 0.0) return 1.0;
  double mean = 0.0, sd = 0.0;
  drift_exponent(m, g_nominal, mean, sd);
  double nu = mean;
  if (sd > 0.0) nu += sd * normal_from_hash(splitmix64(key + 4));
  nu = nu < 0.0 ? 0.0 : nu;
  return Kokkos::Experimental::exp(-nu * m.log_time);
}

/// \brief Conductance (uS) of a device programmed to \p g_nominal, applying once, in order:
///  1. lognormal device-to-device variation, G = G_nom exp(sigma z - sigma^2/2), z ~ N(0,1):
///     mean-preserving, so the nominal levels are the means of the device states (Paper A);
///  2. programming noise, G += prog_noise g_max z', clipped at 0;
///  3. stuck-at faults: with probability stuck_min_rate G = g_min, else with stuck_max_rate
///     G = g_max (one uniform draw, so the two are exclusive); a stuck device does not drift;
///  4. drift to the time of the read: G *= drift_factor (none at log_time 0).
/// Draws 1, 2, 3, 4 of the device are splitmix64(key + d), key = device_key(address).
KOKKOS_INLINE_FUNCTION double program_device(const DeviceModel& m, double g_nominal, std::uint64_t key) {
  double g = g_nominal;
  if (m.sigma > 0.0) {
    const double z = normal_from_hash(splitmix64(key + 1));
    g *= Kokkos::Experimental::exp(m.sigma * z - 0.5 * m.sigma * m.sigma);
  }
  if (m.prog_noise > 0.0) {
    g += m.prog_noise * m.g_max * normal_from_hash(splitmix64(key + 2));
    g = g < 0.0 ? 0.0 : g;
  }
  if (m.stuck_min_rate > 0.0 || m.stuck_max_rate > 0.0) {
    const double u = uniform_open01(splitmix64(key + 3));
    if (u < m.stuck_min_rate) return m.g_min;
    if (u < m.stuck_min_rate + m.stuck_max_rate) return m.g_max;
  }
  return g * drift_factor(m, g_nominal, key);
}

/// \brief Wire segments between cell (\p row, \p col) of a \p rows-row tile and its periphery:
/// word lines are driven from column -1 (left), bit lines are sensed below row rows-1, so the
/// cell's current crosses col + 1 word-line and rows - row bit-line segments.
KOKKOS_INLINE_FUNCTION int wire_segments(int rows, int row, int col) { return (col + 1) + (rows - row); }

/// \brief First-order IR drop: the cell in series with its wire path,
/// G_eff = G / (1 + G R_wire n_segments) (G in uS, R in Ohm). It ignores the currents other
/// cells share on the same wires (the second-order effect aihwkit and CrossSim solve for).
KOKKOS_INLINE_FUNCTION double ir_drop(double g_us, double wire_ohm, int segments) {
  return g_us / (1.0 + g_us * 1e-6 * wire_ohm * segments);
}

}  // namespace xbarsweep::crossbar
