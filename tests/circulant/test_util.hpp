#pragma once
// Numerical comparison with explicit rtol/atol that reports the worst mismatch.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <sstream>
#include <string>

namespace xbarsweep::circulant::test {

inline ::testing::AssertionResult all_close(const torch::Tensor& actual, const torch::Tensor& expected,
                                            double rtol, double atol) {
  if (actual.sizes() != expected.sizes()) {
    std::ostringstream s;
    s << "shape " << actual.sizes() << " != " << expected.sizes();
    return ::testing::AssertionFailure() << s.str();
  }
  auto a = actual.detach().to(torch::kDouble), e = expected.detach().to(torch::kDouble);
  auto excess = (a - e).abs() - (atol + rtol * e.abs());
  auto worst = excess.flatten().argmax().item<int64_t>();
  if (excess.flatten()[worst].item<double>() <= 0) return ::testing::AssertionSuccess();
  std::ostringstream s;
  s << "worst mismatch at flat index " << worst << ": " << a.flatten()[worst].item<double>() << " vs "
    << e.flatten()[worst].item<double>() << " (rtol " << rtol << ", atol " << atol << ", max |diff| "
    << (a - e).abs().max().item<double>() << ")";
  return ::testing::AssertionFailure() << s.str();
}

}  // namespace xbarsweep::circulant::test
