#pragma once
/// \file
/// \brief The small, stable hash functions behind point ids and counter-based random draws.
/// Their outputs are part of the results format (point ids) and of every seeded draw: never change
/// them.

#include <cstdint>
#include <string_view>

namespace xbarsweep::config {

/// \brief splitmix64 finaliser (Steele, Lea, Flood, "Fast splittable pseudorandom number
/// generators", OOPSLA 2014): a bijective mix, so distinct counters give independent-looking words.
constexpr std::uint64_t splitmix64(std::uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

/// \brief 64-bit FNV-1a (Fowler, Noll, Vo; offset basis and prime of the reference definition).
constexpr std::uint64_t fnv1a64(std::string_view text) {
  std::uint64_t hash = 14695981039346656037ull;
  for (const char c : text) {
    hash ^= static_cast<unsigned char>(c);
    hash *= 1099511628211ull;
  }
  return hash;
}

/// \brief The top 53 bits of \p bits as a double in [0, 1).
constexpr double unit_interval(std::uint64_t bits) { return static_cast<double>(bits >> 11) * 0x1.0p-53; }

}  // namespace xbarsweep::config
