#include "xbarsweep/circulant/fixed_point.hpp"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>
#include <random>

#include "xbarsweep/circulant/circulant_lstm.hpp"

namespace xc = xbarsweep::circulant;

TEST(FixedPoint, DefaultFormatIsQ5_10) {
  xc::FixedPointFormat f;
  EXPECT_EQ(f.total_bits(), 16);
  EXPECT_EQ(f.lsb(), 1.0 / 1024);
  EXPECT_EQ(f.min_value(), -32.0);
  EXPECT_EQ(f.max_value(), 32.0 - 1.0 / 1024);
  EXPECT_THROW(xc::FixedPointFormat::make(20, 20), xc::CirculantError);
  EXPECT_THROW(xc::FixedPointFormat::make(-1, 4), xc::CirculantError);
}

// Inside the range the error is at most half an LSB, 2^-(frac+1); outside it saturates.
TEST(FixedPoint, QuantizationErrorWithinHalfLsb) {
  std::mt19937 rng(31);
  for (auto f : {xc::FixedPointFormat{}, xc::FixedPointFormat::make(3, 12), xc::FixedPointFormat::make(7, 8),
                 xc::FixedPointFormat::make(0, 15)}) {
    std::uniform_real_distribution<double> u(f.min_value(), f.max_value());
    const double bound = std::ldexp(1.0, -(f.fraction_bits + 1));
    double worst = 0;
    for (int i = 0; i < 100000; ++i) {
      const double x = u(rng);
      worst = std::max(worst, std::abs(f.quantize(x) - x));
    }
    EXPECT_LE(worst, bound) << "format " << f.integer_bits << "." << f.fraction_bits;
    EXPECT_EQ(f.quantize(1e9), f.max_value());
    EXPECT_EQ(f.quantize(-1e9), f.min_value());
    // The tensor path agrees with the scalar path.
    auto t = torch::rand({1000}, torch::kDouble) * (f.max_value() - f.min_value()) + f.min_value();
    auto q = xc::quantize(t, f);
    EXPECT_LE((q - t).abs().max().item<double>(), bound);
    EXPECT_EQ(xc::quantize(torch::tensor({1e9, -1e9}, torch::kDouble), f)[0].item<double>(), f.max_value());
  }
}

TEST(FixedPoint, MultiplyRawRoundsAndSaturates) {
  xc::FixedPointFormat f;
  EXPECT_EQ(f.multiply_raw(f.to_raw(1.5), f.to_raw(2.0)), f.to_raw(3.0));
  EXPECT_EQ(f.multiply_raw(f.to_raw(-1.5), f.to_raw(2.0)), f.to_raw(-3.0));
  EXPECT_EQ(f.multiply_raw(f.to_raw(20.0), f.to_raw(20.0)), f.raw_max());
  EXPECT_LE(
      std::abs(f.from_raw(f.multiply_raw(f.to_raw(0.3), f.to_raw(0.7))) - f.quantize(0.3) * f.quantize(0.7)),
      f.lsb() / 2);
}

namespace {
double sigmoid(double x) { return 1.0 / (1.0 + std::exp(-x)); }

// Worst error of a table against f on a grid finer than (and offset from) its own sampling.
double measured_error(const xc::PiecewiseLinear& pwl, double (*f)(double)) {
  double worst = 0;
  for (double x = -12.0; x <= 12.0; x += 1.0 / 4099) worst = std::max(worst, std::abs(pwl(x) - f(x)));
  return worst;
}
double tanh_fn(double x) { return std::tanh(x); }
}  // namespace

// Default tables: 20 segments of width 0.5 on [-5, 5] plus two saturating = 22 segments.
TEST(PiecewiseLinear, ActivationsWithinStatedMaxError) {
  auto s = xc::PiecewiseLinear::sigmoid();
  auto t = xc::PiecewiseLinear::tanh();
  EXPECT_EQ(s.segments(), 20);
  EXPECT_DOUBLE_EQ(s.width(), 0.5);
  const double se = measured_error(s, sigmoid), te = measured_error(t, tanh_fn);
  EXPECT_LE(se, s.max_error());
  EXPECT_LE(te, t.max_error());
  // The stated bounds are tight (not inflated) and small.
  EXPECT_GE(se, 0.9 * s.max_error());
  EXPECT_GE(te, 0.9 * t.max_error());
  EXPECT_LT(s.max_error(), 4e-3) << s.max_error();
  EXPECT_LT(t.max_error(), 1.5e-2) << t.max_error();
  // More segments: smaller error.
  auto fine = xc::PiecewiseLinear::tanh(64, 6.0);
  EXPECT_LE(measured_error(fine, tanh_fn), fine.max_error());
  EXPECT_LT(fine.max_error(), t.max_error());
  // Tensor evaluation agrees with scalar evaluation.
  auto x = torch::linspace(-8, 8, 1001, torch::kDouble);
  auto y = xc::apply_pwl(x, t);
  for (int i = 0; i < 1001; i += 37) EXPECT_NEAR(y[i].item<double>(), t(x[i].item<double>()), 1e-12);
}

TEST(PiecewiseLinear, RejectsBadTables) {
  EXPECT_THROW(xc::PiecewiseLinear::sigmoid(0), xc::CirculantError);
  EXPECT_THROW(xc::PiecewiseLinear([](double v) { return v; }, 1.0, 1.0, 4, 0, 0), xc::CirculantError);
}
