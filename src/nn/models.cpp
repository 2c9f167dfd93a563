// The classifiers of include/xbarsweep/nn/models.hpp.
#include "xbarsweep/nn/models.hpp"

#include <ATen/CPUGeneratorImpl.h>
#include <torch/nn/functional/activation.h>
#include <torch/nn/functional/pooling.h>
#include <torch/nn/modules/activation.h>
#include <torch/nn/modules/pooling.h>
#include <torch/utils.h>

#include <cmath>
#include <stdexcept>

#include "xbarsweep/error.hpp"
#include "xbarsweep/nn/torchscript.hpp"

namespace xbarsweep::nn {
namespace F = torch::nn::functional;
namespace {

// VGG-16's 13 convolutions; 0 = 2x2 max pool.
constexpr std::int64_t kVggPlan[] = {64, 64,  0,   128, 128, 0,   256, 256, 256,
                                     0,  512, 512, 512, 0,   512, 512, 512, 0};
constexpr std::int64_t kResNetPlanes[] = {64, 128, 256, 512};

std::int64_t scaled(std::int64_t channels, double width) {
  if (!(width > 0.0)) throw ModelError("model width must be > 0");
  return std::max<std::int64_t>(1, std::llround(static_cast<double>(channels) * width));
}

torch::nn::Conv2d conv(std::int64_t in, std::int64_t out, std::int64_t k, std::int64_t stride,
                       std::int64_t pad, bool bias) {
  return torch::nn::Conv2d(torch::nn::Conv2dOptions(in, out, k).stride(stride).padding(pad).bias(bias));
}

void check_common(const ModelOptions& o) {
  if (o.in_channels < 1 || o.image_size < 1 || o.num_classes < 2) {
    throw ModelError("model options: need in_channels >= 1, image_size >= 1, num_classes >= 2");
  }
}

}  // namespace

MLPImpl::MLPImpl(const ModelOptions& o) {
  check_common(o);
  std::int64_t in = o.in_channels * o.image_size * o.image_size;
  for (std::size_t i = 0; i <= o.hidden.size(); ++i) {
    const std::int64_t out = i < o.hidden.size() ? o.hidden[i] : o.num_classes;
    if (out < 1) throw ModelError("MLP hidden widths must be >= 1");
    layers.push_back(register_module("fc" + std::to_string(i + 1), torch::nn::Linear(in, out)));
    in = out;
  }
}

torch::Tensor MLPImpl::forward(torch::Tensor x) {
  x = x.flatten(1);
  for (std::size_t i = 0; i + 1 < layers.size(); ++i) x = torch::relu(layers[i]->forward(x));
  return layers.back()->forward(x);
}

LeNet5Impl::LeNet5Impl(const ModelOptions& o) {
  check_common(o);
  if (o.image_size != 28 && o.image_size != 32) {
    throw ModelError("LeNet-5 takes 28x28 or 32x32 images, got " + std::to_string(o.image_size));
  }
  conv1 = register_module("conv1", conv(o.in_channels, 6, 5, 1, o.image_size == 28 ? 2 : 0, true));
  conv2 = register_module("conv2", conv(6, 16, 5, 1, 0, true));
  fc1 = register_module("fc1", torch::nn::Linear(16 * 5 * 5, 120));
  fc2 = register_module("fc2", torch::nn::Linear(120, 84));
  fc3 = register_module("fc3", torch::nn::Linear(84, o.num_classes));
}

torch::Tensor LeNet5Impl::forward(torch::Tensor x) {
  x = torch::max_pool2d(torch::relu(conv1->forward(x)), 2);
  x = torch::max_pool2d(torch::relu(conv2->forward(x)), 2);
  x = torch::relu(fc1->forward(x.flatten(1)));
  x = torch::relu(fc2->forward(x));
  return fc3->forward(x);
}

VGG16Impl::VGG16Impl(const ModelOptions& o) {
  check_common(o);
  if (o.image_size < 32) {
    throw ModelError("VGG-16 needs images of at least 32x32 (pad Fashion-MNIST: data.pad)");
  }
  features = torch::nn::Sequential();
  std::int64_t in = o.in_channels;
  for (auto c : kVggPlan) {
    if (c == 0) {
      features->push_back(torch::nn::MaxPool2d(torch::nn::MaxPool2dOptions(2)));
      continue;
    }
    const auto out = scaled(c, o.width);
    features->push_back(conv(in, out, 3, 1, 1, false));
    features->push_back(torch::nn::BatchNorm2d(out));
    features->push_back(torch::nn::ReLU(torch::nn::ReLUOptions(true)));
    in = out;
  }
  register_module("features", features);
  classifier = register_module("classifier", torch::nn::Linear(in, o.num_classes));
}

torch::Tensor VGG16Impl::forward(torch::Tensor x) {
  x = features->forward(x);
  x = F::adaptive_avg_pool2d(x, F::AdaptiveAvgPool2dFuncOptions(1)).flatten(1);
  return classifier->forward(x);
}

BasicBlockImpl::BasicBlockImpl(std::int64_t in_planes, std::int64_t planes, std::int64_t stride) {
  conv1 = register_module("conv1", conv(in_planes, planes, 3, stride, 1, false));
  bn1 = register_module("bn1", torch::nn::BatchNorm2d(planes));
  conv2 = register_module("conv2", conv(planes, planes, 3, 1, 1, false));
  bn2 = register_module("bn2", torch::nn::BatchNorm2d(planes));
  shortcut = torch::nn::Sequential();
  if (stride != 1 || in_planes != planes) {
    shortcut->push_back(conv(in_planes, planes, 1, stride, 0, false));
    shortcut->push_back(torch::nn::BatchNorm2d(planes));
  }
  register_module("shortcut", shortcut);
}

torch::Tensor BasicBlockImpl::forward(torch::Tensor x) {
  auto out = torch::relu(bn1->forward(conv1->forward(x)));
  out = bn2->forward(conv2->forward(out));
  return torch::relu(out + (shortcut->is_empty() ? x : shortcut->forward(x)));
}

ResNet18Impl::ResNet18Impl(const ModelOptions& o) {
  check_common(o);
  std::int64_t in = scaled(64, o.width);
  stem = register_module("stem", conv(o.in_channels, in, 3, 1, 1, false));
  stem_bn = register_module("stem_bn", torch::nn::BatchNorm2d(in));
  blocks = torch::nn::Sequential();
  for (int stage = 0; stage < 4; ++stage) {
    const auto planes = scaled(kResNetPlanes[stage], o.width);
    blocks->push_back(BasicBlock(in, planes, stage == 0 ? 1 : 2));
    blocks->push_back(BasicBlock(planes, planes, 1));
    in = planes;
  }
  register_module("blocks", blocks);
  fc = register_module("fc", torch::nn::Linear(in, o.num_classes));
}

torch::Tensor ResNet18Impl::forward(torch::Tensor x) {
  x = torch::relu(stem_bn->forward(stem->forward(x)));
  x = blocks->forward(x);
  x = F::adaptive_avg_pool2d(x, F::AdaptiveAvgPool2dFuncOptions(1)).flatten(1);
  return fc->forward(x);
}

const std::vector<std::string>& model_names() {
  static const std::vector<std::string> names = {"mlp", "lenet5", "vgg16", "resnet18", "torchscript"};
  return names;
}

std::shared_ptr<Classifier> make_model(const std::string& name, const ModelOptions& options) {
  std::shared_ptr<Classifier> model;
  if (name == "mlp") {
    model = MLP(options).ptr();
  } else if (name == "lenet5") {
    model = LeNet5(options).ptr();
  } else if (name == "vgg16") {
    model = VGG16(options).ptr();
  } else if (name == "resnet18") {
    model = ResNet18(options).ptr();
  } else if (name == "torchscript") {
    model = std::make_shared<TorchScriptClassifierImpl>(options.path);
    if (!options.reinitialise) return model;  // the file's own weights
  } else {
    throw ModelError("unknown model \"" + name + "\", expected mlp, lenet5, vgg16, resnet18 or torchscript");
  }
  initialise_parameters(*model, options.seed);
  return model;
}

void initialise_parameters(torch::nn::Module& model, std::uint64_t seed) {
  torch::NoGradGuard no_grad;
  auto gen = at::make_generator<at::CPUGeneratorImpl>(seed);
  // Modules in registration order, so the draws are reproducible. (modules(true) would need
  // the model to be held by a shared_ptr.)
  std::vector<torch::nn::Module*> all = {&model};
  for (const auto& m : model.modules(/*include_self=*/false)) all.push_back(m.get());
  for (auto* module : all) {
    const auto own = module->named_parameters(/*recurse=*/false);
    auto* weight = own.find("weight");
    auto* bias = own.find("bias");
    if (weight == nullptr) continue;
    if (weight->dim() >= 2) {
      const double fan_in = static_cast<double>(weight->numel() / weight->size(0));
      const double bound = 1.0 / std::sqrt(fan_in);
      weight->uniform_(-bound, bound, gen);
      if (bias != nullptr) bias->uniform_(-bound, bound, gen);
    } else {  // a normalisation layer
      weight->fill_(1.0);
      if (bias != nullptr) bias->zero_();
    }
  }
}

std::vector<std::pair<std::string, torch::Tensor>> weight_tensors(const torch::nn::Module& model) {
  std::vector<std::pair<std::string, torch::Tensor>> out;
  for (const auto& item : model.named_parameters()) {
    const auto& key = item.key();
    const bool is_weight =
        key == "weight" || (key.size() > 7 && key.compare(key.size() - 7, 7, ".weight") == 0);
    if (is_weight && item.value().dim() >= 2) out.emplace_back(key, item.value());
  }
  return out;
}

std::int64_t count_parameters(const torch::nn::Module& model) {
  std::int64_t n = 0;
  for (const auto& p : model.parameters()) n += p.numel();
  return n;
}

double macs_per_sample(const std::string& name, const ModelOptions& o) {
  const double classes = static_cast<double>(o.num_classes);
  double s = static_cast<double>(o.image_size);
  double in = static_cast<double>(o.in_channels);
  if (name == "mlp") {
    double macs = 0, width = in * s * s;
    for (auto h : o.hidden) {
      macs += width * static_cast<double>(h);
      width = static_cast<double>(h);
    }
    return macs + width * classes;
  }
  if (name == "lenet5") {
    return 28.0 * 28.0 * 6.0 * in * 25.0 + 10.0 * 10.0 * 16.0 * 150.0 + 400.0 * 120.0 + 120.0 * 84.0 +
           84.0 * classes;
  }
  if (name == "vgg16") {
    double macs = 0;
    for (auto c : kVggPlan) {
      if (c == 0) {
        s = std::floor(s / 2.0);
        continue;
      }
      const double out = static_cast<double>(scaled(c, o.width));
      macs += s * s * in * out * 9.0;
      in = out;
    }
    return macs + in * classes;
  }
  if (name == "resnet18") {
    double c = static_cast<double>(scaled(64, o.width));
    double macs = s * s * in * c * 9.0;
    in = c;
    for (int stage = 0; stage < 4; ++stage) {
      const double planes = static_cast<double>(scaled(kResNetPlanes[stage], o.width));
      if (stage > 0) s = std::ceil(s / 2.0);
      macs += s * s * (in * planes * 9.0 + planes * planes * 9.0 * 3.0);  // 4 convolutions
      if (stage > 0) macs += s * s * in * planes;                         // projection
      in = planes;
    }
    return macs + in * classes;
  }
  if (name == "torchscript") {
    TorchScriptClassifierImpl model(o.path);
    return model.macs_per_sample(o.in_channels, o.image_size, o.image_size);
  }
  throw ModelError("unknown model \"" + name + "\"");
}

}  // namespace xbarsweep::nn
