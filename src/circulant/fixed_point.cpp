#include "xbarsweep/circulant/fixed_point.hpp"

#include <algorithm>
#include <cmath>
#include <string>
#include <utility>

#include "xbarsweep/error.hpp"

namespace xbarsweep::circulant {

FixedPointFormat FixedPointFormat::make(int integer_bits, int fraction_bits) {
  XBARSWEEP_THROW_IF(integer_bits < 0 || fraction_bits < 0, CirculantError,
                     "fixed-point bit counts must be >= 0, got integer_bits=" + std::to_string(integer_bits) +
                         " fraction_bits=" + std::to_string(fraction_bits));
  XBARSWEEP_THROW_IF(1 + integer_bits + fraction_bits > 32, CirculantError,
                     "fixed-point format wider than 32 bits: 1 + " + std::to_string(integer_bits) + " + " +
                         std::to_string(fraction_bits));
  return FixedPointFormat{integer_bits, fraction_bits};
}

double FixedPointFormat::lsb() const { return std::ldexp(1.0, -fraction_bits); }
std::int64_t FixedPointFormat::raw_min() const {
  return -(std::int64_t{1} << (integer_bits + fraction_bits));
}
std::int64_t FixedPointFormat::raw_max() const {
  return (std::int64_t{1} << (integer_bits + fraction_bits)) - 1;
}
double FixedPointFormat::min_value() const { return static_cast<double>(raw_min()) * lsb(); }
double FixedPointFormat::max_value() const { return static_cast<double>(raw_max()) * lsb(); }

std::int64_t FixedPointFormat::to_raw(double x) const {
  if (std::isnan(x)) return 0;
  const double scaled = std::round(std::ldexp(x, fraction_bits));
  if (scaled <= static_cast<double>(raw_min())) return raw_min();
  if (scaled >= static_cast<double>(raw_max())) return raw_max();
  return static_cast<std::int64_t>(scaled);
}

double FixedPointFormat::from_raw(std::int64_t raw) const {
  return std::ldexp(static_cast<double>(raw), -fraction_bits);
}

double FixedPointFormat::quantize(double x) const { return from_raw(to_raw(x)); }

void FixedPointFormat::quantize_inplace(float* data, std::int64_t n) const {
  for (std::int64_t i = 0; i < n; ++i) data[i] = static_cast<float>(quantize(data[i]));
}

std::int64_t FixedPointFormat::multiply_raw(std::int64_t a, std::int64_t b) const {
  // a, b < 2^31 in magnitude: the product fits 62 bits. Round half away from zero.
  const std::int64_t prod = a * b;
  if (fraction_bits == 0) return std::clamp(prod, raw_min(), raw_max());
  const std::int64_t half = std::int64_t{1} << (fraction_bits - 1);
  const std::int64_t mag = prod < 0 ? -prod : prod;
  std::int64_t r = (mag + half) >> fraction_bits;
  r = prod < 0 ? -r : r;
  return std::clamp(r, raw_min(), raw_max());
}

PiecewiseLinear::PiecewiseLinear(std::function<double(double)> f, double lo, double hi, int segments,
                                 double saturation_lo, double saturation_hi)
    : lo_(lo), hi_(hi) {
  XBARSWEEP_THROW_IF(segments < 1, CirculantError,
                     "a PWL table needs at least one segment, got " + std::to_string(segments));
  XBARSWEEP_THROW_IF(!(lo < hi), CirculantError, "a PWL table needs lo < hi");
  width_ = (hi - lo) / segments;
  constexpr int samples = 2048;
  for (int s = 0; s < segments; ++s) {
    const double a = lo + s * width_, b = a + width_;
    const double fa = f(a), slope = (f(b) - fa) / width_;
    double emin = 0.0, emax = 0.0;
    for (int i = 0; i <= samples; ++i) {
      const double x = a + width_ * i / samples;
      const double e = f(x) - (fa + slope * (x - a));
      emin = std::min(emin, e);
      emax = std::max(emax, e);
    }
    slope_.push_back(slope);
    intercept_.push_back(fa - slope * a + 0.5 * (emax + emin));
    max_error_ = std::max(max_error_, 0.5 * (emax - emin));
  }
  // Tails: f runs monotonically from f(hi) to its limit; the midpoint halves the gap.
  below_ = 0.5 * (f(lo) + saturation_lo);
  above_ = 0.5 * (f(hi) + saturation_hi);
  max_error_ =
      std::max({max_error_, 0.5 * std::abs(f(lo) - saturation_lo), 0.5 * std::abs(f(hi) - saturation_hi)});
  // Dense sampling misses the true peak by O((width/samples)^2 f''): a small allowance.
  max_error_ += 1e-9;
}

PiecewiseLinear PiecewiseLinear::sigmoid(int segments, double range) {
  return PiecewiseLinear([](double x) { return 1.0 / (1.0 + std::exp(-x)); }, -range, range, segments, 0.0,
                         1.0);
}

PiecewiseLinear PiecewiseLinear::tanh(int segments, double range) {
  return PiecewiseLinear([](double x) { return std::tanh(x); }, -range, range, segments, -1.0, 1.0);
}

double PiecewiseLinear::operator()(double x) const {
  if (x < lo_) return below_;
  if (x >= hi_) return above_;
  auto s = static_cast<std::size_t>((x - lo_) / width_);
  s = std::min(s, slope_.size() - 1);
  return slope_[s] * x + intercept_[s];
}

}  // namespace xbarsweep::circulant
