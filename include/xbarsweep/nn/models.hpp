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
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace xbarsweep::nn {

/// \brief One Linear or Conv2d call of a classifier's forward pass: a layer the crossbar
/// simulator maps and hardware-aware training computes in place of the digital one.
struct WeightLayer {
  std::string module;     ///< module path, "features.3" ("" for a parameter of the top module)
  std::string type;       ///< the module's class, "Conv2d"
  std::string parameter;  ///< the weight's full name, "features.3.weight"
  bool conv = false;      ///< Conv2d (else Linear)
  std::int64_t stride[2] = {1, 1};
  std::int64_t padding[2] = {0, 0};  ///< zeros on each side (rows, columns)
  std::int64_t dilation[2] = {1, 1};
  std::int64_t groups = 1;
  at::Tensor weight;  ///< the parameter itself (out x in, or out x in/groups x kh x kw)
  at::Tensor bias;    ///< the parameter itself, or undefined
};

/// \brief Computes weight layer \p layer (an index into Classifier::weight_layers()) of
/// \p input, bias included, in place of the model's own call.
using WeightLayerFn = std::function<at::Tensor(std::size_t layer, const at::Tensor& input)>;

/// \brief Weight layer \p layer computed digitally (at::linear / at::conv2d with its own
/// weight, bias and geometry): what the model's own forward pass computes.
at::Tensor weight_layer_forward(const WeightLayer& layer, const at::Tensor& input);

/// \brief A module mapping a batch of inputs to class logits (N x num_classes).
struct Classifier : torch::nn::Module {
  virtual torch::Tensor forward(torch::Tensor x) = 0;
  /// \brief The forward pass with every weight layer computed by \p layer (autograd flows
  /// through whatever it computes). \throws ModelError for a model or module that cannot be
  /// routed (the default: a sequence model's LSTM has no weight layers to route).
  virtual torch::Tensor forward_with(const WeightLayerFn& layer, torch::Tensor x);
  /// \brief The Linear and Conv2d layers, in the order of the model's parameters (the order
  /// of weight_tensors). \throws ModelError for a layer WeightLayer cannot describe, or a model
  /// without routing (the default).
  virtual std::vector<WeightLayer> weight_layers();
};

/// \brief The built-in models' routing of forward_with: their Linear and Conv2d modules,
/// indexed in registration order.
struct BuiltinClassifier : Classifier {
  std::vector<WeightLayer> weight_layers() override;

 protected:
  /// Computes \p module (a LinearImpl or Conv2dImpl of this model) of \p x: by its own
  /// forward without \p layer, else by layer(its index, x).
  using Router = std::function<at::Tensor(torch::nn::Module& module, const at::Tensor& x)>;
  /// \brief The router of one forward_with call (the modules indexed now, so that a clone or
  /// a replaced module is routed as it is).
  Router router(const WeightLayerFn& layer);
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
struct MLPImpl : BuiltinClassifier {
  explicit MLPImpl(const ModelOptions& options);
  torch::Tensor forward(torch::Tensor x) override;
  torch::Tensor forward_with(const WeightLayerFn& layer, torch::Tensor x) override;
  std::vector<torch::nn::Linear> layers;
};
TORCH_MODULE(MLP);

/// \brief LeNet-5 (LeCun et al. 1998) with ReLU and max pooling: conv 6@5x5, pool, conv 16@5x5,
/// pool, 400-120-84-classes. A 28x28 input gets padding 2 on the first convolution so that both
/// 28 and 32 reach the classic 16x5x5 feature map.
struct LeNet5Impl : BuiltinClassifier {
  explicit LeNet5Impl(const ModelOptions& options);
  torch::Tensor forward(torch::Tensor x) override;
  torch::Tensor forward_with(const WeightLayerFn& layer, torch::Tensor x) override;
  torch::nn::Conv2d conv1{nullptr}, conv2{nullptr};
  torch::nn::Linear fc1{nullptr}, fc2{nullptr}, fc3{nullptr};
};
TORCH_MODULE(LeNet5);

/// \brief VGG-16 with batch normalisation, CIFAR style (Simonyan & Zisserman 2015; one Linear
/// after the 13 convolutions), channels scaled by ModelOptions::width. Needs image_size >= 32.
struct VGG16Impl : BuiltinClassifier {
  explicit VGG16Impl(const ModelOptions& options);
  torch::Tensor forward(torch::Tensor x) override;
  torch::Tensor forward_with(const WeightLayerFn& layer, torch::Tensor x) override;
  torch::nn::Sequential features{nullptr};
  torch::nn::Linear classifier{nullptr};
};
TORCH_MODULE(VGG16);

/// \brief ResNet basic block: two 3x3 convolutions with batch norm and a projection shortcut when
/// the shape changes (He et al. 2016).
struct BasicBlockImpl : torch::nn::Module {
  BasicBlockImpl(std::int64_t in_planes, std::int64_t planes, std::int64_t stride);
  torch::Tensor forward(torch::Tensor x);
  /// \brief The block with its convolutions computed by \p conv (its own module and input).
  torch::Tensor forward_with(const std::function<at::Tensor(torch::nn::Module&, const at::Tensor&)>& conv,
                             torch::Tensor x);
  torch::nn::Conv2d conv1{nullptr}, conv2{nullptr};
  torch::nn::BatchNorm2d bn1{nullptr}, bn2{nullptr};
  torch::nn::Sequential shortcut{nullptr};  ///< empty = identity
};
TORCH_MODULE(BasicBlock);

/// \brief ResNet-18, CIFAR style (3x3 stem, no max pool), channels scaled by ModelOptions::width.
struct ResNet18Impl : BuiltinClassifier {
  explicit ResNet18Impl(const ModelOptions& options);
  torch::Tensor forward(torch::Tensor x) override;
  torch::Tensor forward_with(const WeightLayerFn& layer, torch::Tensor x) override;
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
