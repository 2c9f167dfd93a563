#pragma once
/// \file
/// \brief A classifier from a TorchScript file (`torch.jit.script` or `torch.jit.trace` in
/// Python, saved with `.save(path)`): the user's own network through training, compression and
/// the crossbar simulator.
///
/// The script module's parameters and buffers are mirrored, tensor for tensor, into a tree of
/// torch::nn::Module with the same dotted names ("features.3.weight"), so that the optimisers,
/// checkpoints, ADMM and masks of the built-in models work on it unchanged. The forward pass is
/// the script's own. Its Linear and Conv2d calls (aten::linear, aten::conv2d, aten::_convolution,
/// aten::_convolution_mode in the inlined forward graph) are the model's mapped layers: forward_with
/// runs the forward graph with each of them replaced by a call of the caller's function, which is
/// how the crossbar simulator (analog::HardwareModel) takes them over. Everything else stays as
/// the script computes it.

#include <torch/nn/module.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "xbarsweep/nn/models.hpp"

namespace torch::jit {
struct Module;
}

namespace xbarsweep::nn {

/// \brief What TorchScriptClassifierImpl found in the file that it cannot map onto crossbars:
/// a weight (a parameter with two or more dimensions) used by another operation.
struct UnmappedWeight {
  std::string module;     ///< module path
  std::string type;       ///< the module's class
  std::string operation;  ///< "aten::conv_transpose2d"
};

/// \brief A TorchScript classifier (see the file comment). Not copyable; not thread-safe.
class TorchScriptClassifierImpl : public Classifier {
 public:
  /// \brief Loads \p path (on the CPU) and analyses its forward graph.
  /// \throws ModelError naming the file when it cannot be loaded, has no forward method taking
  ///   one tensor, or has no Linear or Conv2d call.
  explicit TorchScriptClassifierImpl(const std::string& path);
  ~TorchScriptClassifierImpl() override;

  /// \brief The script's forward pass: logits N x classes.
  torch::Tensor forward(torch::Tensor x) override;
  /// \brief The script's forward pass with every mapped layer computed by \p layer.
  torch::Tensor forward_with(const WeightLayerFn& layer, torch::Tensor x) override;
  /// \brief Training mode for the script module and the mirror alike.
  void train(bool on = true) override;

  /// \brief The mapped layers (the script's Linear and Conv2d calls), in the order of the
  /// model's parameters, as the built-in models give theirs.
  std::vector<WeightLayer> weight_layers() override;
  /// \brief Weights used by operations other than Linear and Conv2d (empty when every weight
  /// can be mapped).
  const std::vector<UnmappedWeight>& unmapped_weights() const;
  /// \brief \throws ModelError naming the file, the module and the operation for the first
  /// unmapped weight.
  void require_mappable() const;

  /// \brief Multiply-accumulates of the mapped layers for one input of shape C x H x W (from a
  /// forward pass of one zero image).
  double macs_per_sample(std::int64_t channels, std::int64_t height, std::int64_t width);

  const std::string& path() const;
  torch::jit::Module& script();

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace xbarsweep::nn
