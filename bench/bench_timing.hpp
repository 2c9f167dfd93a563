#pragma once
// Timing helpers shared by the benchmark programs in bench/*/.
#include <algorithm>
#include <chrono>
#include <functional>
#include <vector>

namespace xbarsweep::bench {

/// The median (mean of the middle two for an even count).
inline double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const std::size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

/// Wall seconds of \p body; \p sync (e.g. Kokkos::fence) runs before starting and before stopping
/// the clock, so that asynchronous work is inside the measurement.
inline double seconds(const std::function<void()>& body, const std::function<void()>& sync = {}) {
  if (sync) sync();
  const auto t0 = std::chrono::steady_clock::now();
  body();
  if (sync) sync();
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace xbarsweep::bench
