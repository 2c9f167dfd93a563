#pragma once
/// \file
/// \brief Block-circulant linear layer (LibTorch) and the projection onto block-circulant
/// structure. Block convention: see block_layout.hpp (W[r][c] = w[(r - c) mod k] in a block).

#include <torch/nn/cloneable.h>
#include <torch/nn/module.h>
#include <torch/nn/pimpl.h>
#include <torch/types.h>

#include <cstdint>

#include "xbarsweep/circulant/block_layout.hpp"

namespace xbarsweep::circulant {

/// \brief Options of CirculantLinear.
struct CirculantLinearOptions {
  CirculantLinearOptions(std::int64_t in_features, std::int64_t out_features, std::int64_t block_size)
      : in_features_(in_features), out_features_(out_features), block_size_(block_size) {}
  TORCH_ARG(std::int64_t, in_features);
  TORCH_ARG(std::int64_t, out_features);
  /// k; k = 1 is a dense layer (stored as 1 x 1 blocks).
  TORCH_ARG(std::int64_t, block_size);
  TORCH_ARG(bool, bias) = true;
};

/// \brief y = W x + b with W block-circulant: parameters are the defining vectors, shape
/// (p, q, k), p = ceil(out/k), q = ceil(in/k). Forward by rfft/irfft, trained by autograd.
struct CirculantLinearImpl : torch::nn::Cloneable<CirculantLinearImpl> {
  /// \throws CirculantError when a size is not positive.
  explicit CirculantLinearImpl(const CirculantLinearOptions& options);
  CirculantLinearImpl(std::int64_t in_features, std::int64_t out_features, std::int64_t block_size)
      : CirculantLinearImpl(CirculantLinearOptions(in_features, out_features, block_size)) {}

  /// \brief Re-initialises like torch::nn::Linear: U(-1/sqrt(in), 1/sqrt(in)) for the defining
  /// vectors and the bias (so the dense matrix has the same entry distribution).
  void reset() override;

  /// \brief Applies the layer to x of shape (..., in_features) -> (..., out_features).
  /// \throws CirculantError when the last dimension is not in_features.
  torch::Tensor forward(const torch::Tensor& x);

  /// \brief The out x in dense matrix the layer stands for (differentiable in `weight`).
  torch::Tensor dense_weight() const;

  /// \brief Sets the defining vectors to the projection of a dense out x in matrix (see
  /// project_block_circulant); copies into the existing parameter, keeping its identity.
  void load_dense(const torch::Tensor& dense);

  const BlockLayout& layout() const { return layout_; }

  CirculantLinearOptions options;
  BlockLayout layout_;
  torch::Tensor weight;  ///< defining vectors (p, q, k)
  torch::Tensor bias;    ///< (out_features) or undefined
};
TORCH_MODULE(CirculantLinear);

/// \brief Dense out x in matrix of the block-circulant matrix with defining vectors `w` (p, q, k).
/// Differentiable: gradients of entries sharing a defining-vector element sum.
/// \throws CirculantError when w's shape does not match the layout.
torch::Tensor circulant_to_dense(const torch::Tensor& w, const BlockLayout& layout);

/// \brief Euclidean (Frobenius) projection of a dense out x in matrix onto block-circulant
/// matrices of the layout: each defining-vector element is the mean of the entries of its
/// wrapped diagonal that exist in the matrix (padding excluded). Returns defining vectors (p,q,k);
/// an element whose wrapped diagonal lies wholly in the padding is 0.
/// \throws CirculantError when dense is not 2-D of shape out x in.
torch::Tensor project_block_circulant(const torch::Tensor& dense, const BlockLayout& layout);

/// \brief circulant_to_dense(project_block_circulant(dense)): the nearest block-circulant matrix,
/// in dense form. Usable as a Z-step of ADMM (E-RNN).
torch::Tensor project_block_circulant_dense(const torch::Tensor& dense, const BlockLayout& layout);

}  // namespace xbarsweep::circulant
