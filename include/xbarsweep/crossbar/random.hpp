#pragma once
/// \file
/// \brief Counter-based random numbers: a draw is a pure function of its address
/// (seed, layer, tile, cell, draw), so the same device comes out on any rank, in any tile
/// order and on any Kokkos backend. No state, no Kokkos::Random pools.

#include <Kokkos_Core.hpp>
#include <cstdint>

namespace xbarsweep::crossbar {

/// \brief splitmix64 finaliser (Steele, Lea, Flood 2014): a bijective 64-bit mix.
KOKKOS_INLINE_FUNCTION std::uint64_t splitmix64(std::uint64_t x) {
  x += 0x9E3779B97F4A7C15ULL;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
  return x ^ (x >> 31);
}

/// \brief Extends a hashed address \p h by one more coordinate \p v.
KOKKOS_INLINE_FUNCTION std::uint64_t hash_extend(std::uint64_t h, std::uint64_t v) {
  return splitmix64(h ^ (splitmix64(v) + 0x632BE59BD9B4E019ULL));
}

/// \brief Uniform in (0, 1) from 53 bits of \p h.
KOKKOS_INLINE_FUNCTION double uniform_open01(std::uint64_t h) {
  return (static_cast<double>(h >> 11) + 0.5) * (1.0 / 9007199254740992.0);
}

/// \brief Standard normal from the address \p h (Box-Muller in double; used when programming).
KOKKOS_INLINE_FUNCTION double normal_from_hash(std::uint64_t h) {
  const double u1 = uniform_open01(splitmix64(h ^ 0x1ULL));
  const double u2 = uniform_open01(splitmix64(h ^ 0x2ULL));
  return Kokkos::Experimental::sqrt(-2.0 * Kokkos::Experimental::log(u1)) *
         Kokkos::Experimental::cos(6.283185307179586 * u2);
}

/// \brief 32-bit integer mix ("lowbias32", C. Wellons): vectorises with 32-bit multiplies.
KOKKOS_INLINE_FUNCTION std::uint32_t mix32(std::uint32_t x) {
  x ^= x >> 16;
  x *= 0x7FEB352DU;
  x ^= x >> 15;
  x *= 0x846CA68BU;
  x ^= x >> 16;
  return x;
}

/// \brief Hash of element \p i of the stream keyed by (\p k1, \p k2): the read-noise hot path.
KOKKOS_INLINE_FUNCTION std::uint32_t stream_hash32(std::uint32_t k1, std::uint32_t k2, std::uint32_t i) {
  return mix32(mix32(i ^ k1) + k2);
}

namespace Impl {
union FloatBits {
  float f;
  std::int32_t i;
};

/// \brief Natural log of a positive normal float; Cephes logf polynomial, branch-free so that
/// loops over it vectorise (libm's logf does not). Relative error ~1e-7.
KOKKOS_INLINE_FUNCTION float log_positive(float a) {
  FloatBits b;
  b.f = a;
  float e = static_cast<float>(((b.i >> 23) & 0xFF) - 127);
  b.i = (b.i & 0x007FFFFF) | 0x3F800000;  // mantissa in [1, 2)
  float m = b.f;
  const bool big = m > 1.41421356f;
  m = big ? 0.5f * m : m;
  e = big ? e + 1.0f : e;
  const float x = m - 1.0f;
  const float z = x * x;
  float y = 7.0376836292E-2f;
  y = y * x - 1.1514610310E-1f;
  y = y * x + 1.1676998740E-1f;
  y = y * x - 1.2420140846E-1f;
  y = y * x + 1.4249322787E-1f;
  y = y * x - 1.6668057665E-1f;
  y = y * x + 2.0000714765E-1f;
  y = y * x - 2.4999993993E-1f;
  y = y * x + 3.3333331174E-1f;
  y = y * x * z;
  y += -2.12194440E-4f * e;
  y += -0.5f * z;
  return x + y + 0.693359375f * e;
}
}  // namespace Impl

namespace Impl {
/// \brief sin and cos of 2 pi t for t in [-0.5, 0.5]: reduction to a quarter turn, then Cephes'
/// sinf/cosf polynomials on [-pi/4, pi/4] (absolute error ~1e-7). Branch-free (selects only).
KOKKOS_INLINE_FUNCTION void sincos_turns(const float t, float& s, float& c) {
  const int q = static_cast<int>(4.0f * t + (t < 0.0f ? -0.5f : 0.5f));  // nearest quarter turn
  const float a = 6.28318530718f * (t - 0.25f * static_cast<float>(q));  // in [-pi/4, pi/4]
  const float a2 = a * a;
  float ps = -1.9515295891E-4f;
  ps = ps * a2 + 8.3321608736E-3f;
  ps = ps * a2 - 1.6666654611E-1f;
  const float sa = a + a * a2 * ps;
  float pc = 2.443315711809948E-5f;
  pc = pc * a2 - 1.388731625493765E-3f;
  pc = pc * a2 + 4.166664568298827E-2f;
  const float ca = 1.0f - 0.5f * a2 + a2 * a2 * pc;
  // Rotate by q quarter turns: (c, s) -> (c, s), (-s, c), (-c, -s), (s, -c) for q mod 4 = 0..3.
  const int qi = q & 3;
  const float cb = (qi & 1) != 0 ? sa : ca;
  const float sb = (qi & 1) != 0 ? ca : sa;
  c = ((qi + 1) & 2) != 0 ? -cb : cb;
  s = (qi & 2) != 0 ? -sb : sb;
}
}  // namespace Impl

/// \brief The parts of a Box-Muller pair from two 32-bit hashes: \p l = R^2 = -2 ln u1 and
/// (\p c, \p s) = (cos, sin) of theta = 2 pi u2, with u1, u2 from the top 24 bits of \p h1, \p h2;
/// the draws are sqrt(l) c and sqrt(l) s. A caller that scales a draw by the square root of a
/// variance v takes sqrt(v l) c: one square root per draw instead of two. Branch-free.
KOKKOS_INLINE_FUNCTION void box_muller_parts(const std::uint32_t h1, const std::uint32_t h2, float& l,
                                             float& s, float& c) {
  const float u1 = (static_cast<float>(h1 >> 8) + 0.5f) * (1.0f / 16777216.0f);
  const float t = (static_cast<float>(h2 >> 8) + 0.5f) * (1.0f / 16777216.0f) - 0.5f;
  l = -2.0f * Impl::log_positive(u1);
  Impl::sincos_turns(t, s, c);  // theta shifted by half a turn: still uniform
}

/// \brief Two independent standard normals from two 32-bit hashes by Box-Muller:
/// (z0, z1) = sqrt(-2 ln u1) (cos theta, sin theta) (see box_muller_parts). Exact in distribution
/// to float resolution (the tails end where u1 does, at |z| ~ 5.9, probability ~4e-9): one log,
/// one square root and one polynomial sin/cos for two draws, branch-free, so that it vectorises
/// on CPUs and does not diverge on GPUs.
KOKKOS_INLINE_FUNCTION void normal_pair_from_bits(const std::uint32_t h1, const std::uint32_t h2, float& z0,
                                                  float& z1) {
  float l, s, c;
  box_muller_parts(h1, h2, l, s, c);
  const float r = Kokkos::Experimental::sqrt(l);
  z0 = r * c;
  z1 = r * s;
}

/// \brief Where a device sits: the key of all its static random draws.
struct DeviceAddress {
  std::uint64_t seed = 0;      ///< experiment seed (+ crossbar.seed_offset)
  std::uint32_t layer = 0;     ///< layer index in the model
  std::uint32_t tile_row = 0;  ///< row-tile index (which block of inputs)
  std::uint32_t tile_col = 0;  ///< column-tile index (which block of outputs)
  std::uint32_t slice = 0;     ///< bit slice
  std::uint32_t polarity = 0;  ///< 0 = G+ (or the offset cell), 1 = G-
  std::uint32_t row = 0;       ///< cell row within the tile
  std::uint32_t col = 0;       ///< cell column within the tile
};

/// \brief What the keys of one tile's slice and polarity share: the address without its row and
/// column (device_key(group, row, col) finishes it).
KOKKOS_INLINE_FUNCTION std::uint64_t device_group_key(const DeviceAddress& a) {
  std::uint64_t h = splitmix64(a.seed);
  h = hash_extend(h, a.layer);
  h = hash_extend(h, (static_cast<std::uint64_t>(a.tile_row) << 32) | a.tile_col);
  return hash_extend(h, (static_cast<std::uint64_t>(a.slice) << 32) | a.polarity);
}

/// \brief The key of the device at \p row, \p col of the group \p group (device_group_key).
KOKKOS_INLINE_FUNCTION std::uint64_t device_key(const std::uint64_t group, const std::uint32_t row,
                                                const std::uint32_t col) {
  return hash_extend(group, (static_cast<std::uint64_t>(row) << 32) | col);
}

/// \brief The 64-bit key of a device address; draw d of the device is splitmix64(key + d).
KOKKOS_INLINE_FUNCTION std::uint64_t device_key(const DeviceAddress& a) {
  return device_key(device_group_key(a), a.row, a.col);
}

}  // namespace xbarsweep::crossbar
