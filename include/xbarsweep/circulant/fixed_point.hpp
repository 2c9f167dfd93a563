#pragma once
/// \file
/// \brief Fixed-point number formats and piecewise-linear (PWL) activations, as in the 16-bit
/// datapath of C-LSTM (Wang et al., FPGA 2018). Torch-free.

#include <cstdint>
#include <functional>
#include <vector>

namespace xbarsweep::circulant {

/// \brief A signed two's-complement fixed-point format: 1 sign bit, `integer_bits`, and
/// `fraction_bits`. The default 1 + 5 + 10 = 16 bits covers [-32, 32 - 2^-10] in steps of 2^-10.
struct FixedPointFormat {
  int integer_bits = 5;
  int fraction_bits = 10;

  /// \brief Validates: 0 <= integer_bits, 0 <= fraction_bits, total bits <= 32.
  /// \throws CirculantError otherwise.
  static FixedPointFormat make(int integer_bits, int fraction_bits);

  /// \brief Total width including the sign bit.
  int total_bits() const { return 1 + integer_bits + fraction_bits; }
  /// \brief One least significant bit, 2^-fraction_bits.
  double lsb() const;
  /// \brief Smallest raw integer, -2^(integer_bits + fraction_bits).
  std::int64_t raw_min() const;
  /// \brief Largest raw integer, 2^(integer_bits + fraction_bits) - 1.
  std::int64_t raw_max() const;
  /// \brief Smallest representable value, raw_min() * lsb().
  double min_value() const;
  /// \brief Largest representable value, raw_max() * lsb().
  double max_value() const;

  /// \brief Raw integer of x: round to nearest (ties away from zero), saturating at the range.
  std::int64_t to_raw(double x) const;
  /// \brief Value of a raw integer.
  double from_raw(std::int64_t raw) const;
  /// \brief from_raw(to_raw(x)): error <= lsb()/2 for x in [min_value(), max_value()].
  double quantize(double x) const;
  /// \brief Quantizes a buffer in place.
  void quantize_inplace(float* data, std::int64_t n) const;

  /// \brief Product of two raw values in the wider integer, rescaled with rounding and
  /// saturation: the fixed-point multiply of a hardware datapath.
  std::int64_t multiply_raw(std::int64_t a, std::int64_t b) const;
};

/// \brief A piecewise-linear approximation of a scalar function on [lo, hi] with `segments`
/// equal segments, constant beyond. Each segment keeps the chord's slope and is shifted by half
/// its extreme deviations, the minimax line of that slope (exactly minimax for a function that is
/// convex or concave on the segment); each outer constant is the midpoint of the function's
/// range there.
class PiecewiseLinear {
 public:
  /// \brief Builds the table; `saturation_lo`/`saturation_hi` are the limits of f at -inf/+inf.
  /// \throws CirculantError when segments < 1 or lo >= hi.
  PiecewiseLinear(std::function<double(double)> f, double lo, double hi, int segments, double saturation_lo,
                  double saturation_hi);

  /// \brief Hardware-style sigmoid: `segments` segments on [-range, range] (default 20 of
  /// width 0.5 on [-5, 5], 22 with the two saturating ones).
  static PiecewiseLinear sigmoid(int segments = 20, double range = 5.0);
  /// \brief Hardware-style tanh, same default table shape.
  static PiecewiseLinear tanh(int segments = 20, double range = 5.0);

  /// \brief The approximation at x.
  double operator()(double x) const;
  /// \brief Stated maximum absolute error over the whole real line, computed when the table is
  /// built (dense sampling of every segment plus the saturated tails' exact bound).
  double max_error() const { return max_error_; }
  int segments() const { return static_cast<int>(slope_.size()); }
  double lo() const { return lo_; }
  double hi() const { return hi_; }
  /// \brief Segment width, (hi - lo) / segments.
  double width() const { return width_; }
  /// \brief Per-segment slopes and intercepts: f(x) ~ slope[s] * x + intercept[s].
  const std::vector<double>& slopes() const { return slope_; }
  const std::vector<double>& intercepts() const { return intercept_; }
  /// \brief The constants used below lo and at or above hi.
  double below() const { return below_; }
  double above() const { return above_; }

 private:
  double lo_, hi_, width_;
  double below_, above_;
  std::vector<double> slope_, intercept_;
  double max_error_ = 0.0;
};

}  // namespace xbarsweep::circulant
