#pragma once
/// \file
/// \brief Image classifiers (MLP, LeNet-5, VGG-16, ResNet-18) and a factory by name.

#include <torch/nn/module.h>
#include <torch/nn/modules/batchnorm.h>
#include <torch/nn/modules/container/sequential.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/pimpl.h>

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace xbarsweep::nn {

/// \brief A module mapping a batch of inputs to class logits (N x num_classes).
struct Classifier : torch::nn::Module {
  virtual torch::Tensor forward(torch::Tensor x) = 0;
};

/// \brief What a model is built for.
struct ModelOptions {
  std::int64_t in_channels = 1;
  std::int64_t image_size = 28;  ///< square inputs: 28 (Fashion-MNIST) or 32 (padded)
  std::int64_t num_classes = 10;
  std::vector<std::int64_t> hidden = {128};  ///< MLP hidden layer widths
  double width = 1.0;                        ///< VGG/ResNet channel multiplier (0.25 = quarter width)
  std::uint64_t seed = 0;                    ///< parameter initialisation (see initialise_parameters)
  std::string path;                          ///< torchscript: the model file
  bool reinitialise =
      false;  ///< torchscript: initialise from `seed` as built-in models are, not the file's weights
};

/// \brief Fully connected: flatten, [Linear + ReLU] per hidden width, Linear to the classes.
struct MLPImpl : Classifier {
  explicit MLPImpl(const ModelOptions& options);
  torch::Tensor forward(torch::Tensor x) override;
  std::vector<torch::nn::Linear> layers;
};
TORCH_MODULE(MLP);

/// \brief LeNet-5 (LeCun et al. 1998) with ReLU and max pooling: conv 6@5x5, pool, conv 16@5x5,
/// pool, 400-120-84-classes. A 28x28 input gets padding 2 on the first convolution so that both
/// 28 and 32 reach the classic 16x5x5 feature map.
struct LeNet5Impl : Classifier {
  explicit LeNet5Impl(const ModelOptions& options);
  torch::Tensor forward(torch::Tensor x) override;
  torch::nn::Conv2d conv1{nullptr}, conv2{nullptr};
  torch::nn::Linear fc1{nullptr}, fc2{nullptr}, fc3{nullptr};
};
TORCH_MODULE(LeNet5);

/// \brief VGG-16 with batch normalisation, CIFAR style (Simonyan & Zisserman 2015; one Linear
/// after the 13 convolutions), channels scaled by ModelOptions::width. Needs image_size >= 32.
struct VGG16Impl : Classifier {
  explicit VGG16Impl(const ModelOptions& options);
  torch::Tensor forward(torch::Tensor x) override;
  torch::nn::Sequential features{nullptr};
  torch::nn::Linear classifier{nullptr};
};
TORCH_MODULE(VGG16);

/// \brief ResNet basic block: two 3x3 convolutions with batch norm and a projection shortcut when
/// the shape changes (He et al. 2016).
struct BasicBlockImpl : torch::nn::Module {
  BasicBlockImpl(std::int64_t in_planes, std::int64_t planes, std::int64_t stride);
  torch::Tensor forward(torch::Tensor x);
  torch::nn::Conv2d conv1{nullptr}, conv2{nullptr};
  torch::nn::BatchNorm2d bn1{nullptr}, bn2{nullptr};
  torch::nn::Sequential shortcut{nullptr};  ///< empty = identity
};
TORCH_MODULE(BasicBlock);

/// \brief ResNet-18, CIFAR style (3x3 stem, no max pool), channels scaled by ModelOptions::width.
struct ResNet18Impl : Classifier {
  explicit ResNet18Impl(const ModelOptions& options);
  torch::Tensor forward(torch::Tensor x) override;
  torch::nn::Conv2d stem{nullptr};
  torch::nn::BatchNorm2d stem_bn{nullptr};
  torch::nn::Sequential blocks{nullptr};
  torch::nn::Linear fc{nullptr};
};
TORCH_MODULE(ResNet18);

/// \brief The model names make_model knows: "mlp", "lenet5", "vgg16", "resnet18", "torchscript"
/// (a TorchScriptClassifierImpl from ModelOptions::path).
const std::vector<std::string>& model_names();

/// \brief Builds a model by name and initialises it from options.seed.
/// \throws ModelError for an unknown name or options the model cannot take.
std::shared_ptr<Classifier> make_model(const std::string& name, const ModelOptions& options);

/// \brief Resets every Linear/Conv weight and bias to U(-1/sqrt(fan_in), 1/sqrt(fan_in)) (PyTorch's
/// default distribution) and batch norms to identity, from a private generator seeded by \p seed:
/// the result does not depend on torch's global generator or on other threads.
void initialise_parameters(torch::nn::Module& model, std::uint64_t seed);

/// \brief The weight tensors of Linear and Conv layers (parameters named "*weight" with two or
/// more dimensions), by qualified name: what ADMM and crossbar mapping operate on.
std::vector<std::pair<std::string, torch::Tensor>> weight_tensors(const torch::nn::Module& model);

/// \brief Number of trainable scalars.
std::int64_t count_parameters(const torch::nn::Module& model);

/// \brief Approximate multiply-accumulates per input sample (Linear and Conv only), for cost hints.
double macs_per_sample(const std::string& name, const ModelOptions& options);

}  // namespace xbarsweep::nn
