#pragma once
/// \file
/// \brief The compressible layers of any torch::nn::Module: the parameters whose name ends in
/// "weight" with 2 dimensions (Linear: out x in) or 4 (Conv2d: out x in x kh x kw, viewed as
/// its GEMM matrix out x in*kh*kw).

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace torch::nn {
class Module;
}

namespace xbarsweep::compress {

/// \brief One compressible weight; `weight` shares storage with the module's parameter.
struct CompressibleLayer {
  std::string name;   ///< as in named_parameters(), e.g. "features.0.weight"
  at::Tensor weight;  ///< the parameter itself, in its own shape

  std::int64_t rows() const { return weight.size(0); }
  std::int64_t cols() const { return weight.numel() / weight.size(0); }
  /// \brief The (rows x cols) GEMM view of the weight, sharing storage.
  at::Tensor matrix() const { return weight.view({rows(), cols()}); }
};

/// \brief A state as named tensors (the form nn::TensorState has): what ADMM, masks and the
/// pipeline save into a checkpoint and restore from it.
using TensorMap = std::map<std::string, at::Tensor>;

/// \brief The compressible layers of \p model, in named_parameters() order.
std::vector<CompressibleLayer> compressible_layers(torch::nn::Module& model);

}  // namespace xbarsweep::compress
