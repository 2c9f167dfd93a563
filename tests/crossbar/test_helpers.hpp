#pragma once
// Small helpers shared by the crossbar tests.
#include <Kokkos_Core.hpp>
#include <cmath>
#include <cstdint>
#include <sstream>
#include <string>
#include <vector>

#include "xbarsweep/crossbar/random.hpp"

namespace xbarsweep::crossbar::test {

using Matrix = Kokkos::View<float**, Kokkos::LayoutRight>;

/// Deterministic values in [-1, 1) from (seed, index).
inline std::vector<float> random_matrix(int n, int m, std::uint64_t seed) {
  std::vector<float> v(static_cast<std::size_t>(n) * m);
  for (std::size_t i = 0; i < v.size(); ++i)
    v[i] = static_cast<float>(2.0 * uniform_open01(hash_extend(splitmix64(seed), i)) - 1.0);
  return v;
}

inline Matrix to_view(const std::vector<float>& v, int n, int m) {
  Matrix d("m", n, m);
  auto h = Kokkos::create_mirror_view(d);
  for (int i = 0; i < n; ++i)
    for (int j = 0; j < m; ++j) h(i, j) = v[static_cast<std::size_t>(i) * m + j];
  Kokkos::deep_copy(d, h);
  return d;
}

inline std::vector<float> to_host(const Matrix& d) {
  auto h = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), d);
  std::vector<float> v(d.extent(0) * d.extent(1));
  for (std::size_t i = 0; i < d.extent(0); ++i)
    for (std::size_t j = 0; j < d.extent(1); ++j) v[i * d.extent(1) + j] = h(i, j);
  return v;
}

/// y = x W^T in double: x batch x in, w out x in.
inline std::vector<double> matmul_reference(const std::vector<float>& x, const std::vector<float>& w,
                                            int batch, int in, int out) {
  std::vector<double> y(static_cast<std::size_t>(batch) * out, 0.0);
  for (int b = 0; b < batch; ++b)
    for (int o = 0; o < out; ++o) {
      double s = 0.0;
      for (int i = 0; i < in; ++i)
        s += double(x[std::size_t(b) * in + i]) * double(w[std::size_t(o) * in + i]);
      y[std::size_t(b) * out + o] = s;
    }
  return y;
}

/// Empty string when every |a - b| <= atol + rtol |b|; else the worst mismatch described.
inline std::string compare(const std::vector<float>& a, const std::vector<double>& b, double rtol,
                           double atol, int cols) {
  double worst = 0.0;
  std::size_t at = 0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    const double excess = std::fabs(double(a[i]) - b[i]) - (atol + rtol * std::fabs(b[i]));
    if (excess > worst) {
      worst = excess;
      at = i;
    }
  }
  if (worst <= 0.0) return {};
  std::ostringstream s;
  s << "worst mismatch at (" << at / cols << ", " << at % cols << "): got " << a[at] << ", expected " << b[at]
    << " (|diff| " << std::fabs(double(a[at]) - b[at]) << ", rtol " << rtol << ", atol " << atol << ")";
  return s.str();
}

}  // namespace xbarsweep::crossbar::test
