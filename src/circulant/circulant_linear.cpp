#include "xbarsweep/circulant/circulant_linear.hpp"

#include <torch/torch.h>

#include <cmath>
#include <string>

namespace xbarsweep::circulant {

namespace {

std::string shape_of(const torch::Tensor& t) {
  std::string s = "(";
  for (int64_t d = 0; d < t.dim(); ++d) s += (d ? ", " : "") + std::to_string(t.size(d));
  return s + ")";
}

// idx[r][c] = (r - c) mod k: which defining-vector element sits at (r, c) of a block.
torch::Tensor circulant_index(std::int64_t k) {
  auto r = torch::arange(k, torch::kLong).unsqueeze(1);
  auto c = torch::arange(k, torch::kLong).unsqueeze(0);
  return torch::remainder(r - c, k);
}

}  // namespace

CirculantLinearImpl::CirculantLinearImpl(const CirculantLinearOptions& options_)
    : options(options_),
      layout_(BlockLayout::make(options_.in_features(), options_.out_features(), options_.block_size())) {
  reset();
}

void CirculantLinearImpl::reset() {
  weight = register_parameter("weight",
                              torch::empty({layout_.block_rows(), layout_.block_cols(), layout_.block_size}));
  if (options.bias()) {
    bias = register_parameter("bias", torch::empty({layout_.out_features}));
  } else {
    bias = register_parameter("bias", torch::Tensor(), /*requires_grad=*/false);
  }
  torch::NoGradGuard no_grad;
  const double bound = 1.0 / std::sqrt(static_cast<double>(layout_.in_features));
  weight.uniform_(-bound, bound);
  if (bias.defined()) bias.uniform_(-bound, bound);
}

torch::Tensor CirculantLinearImpl::forward(const torch::Tensor& x) {
  XBARSWEEP_THROW_IF(
      x.dim() < 1 || x.size(-1) != layout_.in_features, CirculantError,
      "CirculantLinear expects (..., " + std::to_string(layout_.in_features) + "), got " + shape_of(x));
  const auto k = layout_.block_size;
  const auto p = layout_.block_rows();
  const auto q = layout_.block_cols();
  auto lead = x.sizes().vec();
  lead.pop_back();
  auto xf = x.reshape({-1, layout_.in_features});
  const auto n = xf.size(0);
  const auto pad_in = q * k - layout_.in_features;
  if (pad_in > 0) xf = torch::nn::functional::pad(xf, torch::nn::functional::PadFuncOptions({0, pad_in}));
  // (n, q, k) -> bins (n, q, b); weights (p, q, b). Y[b] = Wf[b] (p x q) @ X[b] (q x n).
  auto X = torch::fft::rfft(xf.view({n, q, k}), k, -1).permute({2, 1, 0});
  auto Wf = torch::fft::rfft(weight.to(xf.scalar_type()), k, -1).permute({2, 0, 1});
  auto Y = torch::matmul(Wf, X).permute({2, 1, 0});  // (n, p, b)
  auto y = torch::fft::irfft(Y, k, -1).reshape({n, p * k});
  if (p * k != layout_.out_features) y = y.narrow(1, 0, layout_.out_features);
  if (bias.defined()) y = y + bias;
  lead.push_back(layout_.out_features);
  return y.reshape(lead);
}

torch::Tensor CirculantLinearImpl::dense_weight() const { return circulant_to_dense(weight, layout_); }

void CirculantLinearImpl::load_dense(const torch::Tensor& dense) {
  torch::NoGradGuard no_grad;
  weight.copy_(project_block_circulant(dense, layout_));
}

torch::Tensor circulant_to_dense(const torch::Tensor& w, const BlockLayout& layout) {
  const auto k = layout.block_size, p = layout.block_rows(), q = layout.block_cols();
  XBARSWEEP_THROW_IF(w.dim() != 3 || w.size(0) != p || w.size(1) != q || w.size(2) != k, CirculantError,
                     "defining vectors must be (" + std::to_string(p) + ", " + std::to_string(q) + ", " +
                         std::to_string(k) + "), got " + shape_of(w));
  auto idx = circulant_index(k).to(w.device()).flatten();
  auto blocks = w.index_select(2, idx).view({p, q, k, k});  // [i, j, r, c]
  auto dense = blocks.permute({0, 2, 1, 3}).reshape({p * k, q * k});
  return dense.narrow(0, 0, layout.out_features).narrow(1, 0, layout.in_features);
}

torch::Tensor project_block_circulant(const torch::Tensor& dense, const BlockLayout& layout) {
  XBARSWEEP_THROW_IF(
      dense.dim() != 2 || dense.size(0) != layout.out_features || dense.size(1) != layout.in_features,
      CirculantError,
      "dense matrix must be (" + std::to_string(layout.out_features) + ", " +
          std::to_string(layout.in_features) + "), got " + shape_of(dense));
  torch::NoGradGuard no_grad;
  const auto k = layout.block_size, p = layout.block_rows(), q = layout.block_cols();
  const auto pad_r = p * k - layout.out_features, pad_c = q * k - layout.in_features;
  namespace F = torch::nn::functional;
  auto padded = F::pad(dense, F::PadFuncOptions({0, pad_c, 0, pad_r}));
  auto exists = F::pad(torch::ones_like(dense), F::PadFuncOptions({0, pad_c, 0, pad_r}));
  // Sum entries over each wrapped diagonal d: scatter (r, c) into d = (r - c) mod k.
  auto idx = circulant_index(k).to(dense.device()).flatten().expand({p, q, k * k}).contiguous();
  auto to_blocks = [&](const torch::Tensor& m) {
    return m.view({p, k, q, k}).permute({0, 2, 1, 3}).reshape({p, q, k * k});
  };
  auto sums = torch::zeros({p, q, k}, dense.options()).scatter_add_(2, idx, to_blocks(padded));
  auto counts = torch::zeros({p, q, k}, dense.options()).scatter_add_(2, idx, to_blocks(exists));
  return sums / counts.clamp_min(1.0);
}

torch::Tensor project_block_circulant_dense(const torch::Tensor& dense, const BlockLayout& layout) {
  return circulant_to_dense(project_block_circulant(dense, layout), layout);
}

}  // namespace xbarsweep::circulant
