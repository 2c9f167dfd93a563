// The classifiers of include/xbarsweep/nn/models.hpp.
#include "xbarsweep/nn/models.hpp"

#include <ATen/CPUGeneratorImpl.h>
#include <torch/nn/functional/activation.h>
#include <torch/nn/functional/pooling.h>
#include <torch/nn/modules/activation.h>
#include <torch/nn/modules/pooling.h>
#include <torch/utils.h>

#include <cmath>
#include <map>
#include <memory>
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

// The Linear and Conv2d modules under \p m, pre-order in registration order (the order of the
// parameters), with their dotted paths.
void collect_weight_modules(torch::nn::Module& m, const std::string& prefix,
                            std::vector<std::pair<std::string, torch::nn::Module*>>& out) {
  for (const auto& child : m.named_children()) {
    const std::string path = prefix.empty() ? child.key() : prefix + "." + child.key();
    torch::nn::Module* c = child.value().get();
    if (dynamic_cast<torch::nn::LinearImpl*>(c) != nullptr ||
        dynamic_cast<torch::nn::Conv2dImpl*>(c) != nullptr)
      out.emplace_back(path, c);
    collect_weight_modules(*c, path, out);
  }
}

// A module's own forward pass: the router of a plain forward.
at::Tensor own_forward(torch::nn::Module& m, const at::Tensor& x) {
  if (auto* l = dynamic_cast<torch::nn::LinearImpl*>(&m)) return l->forward(x);
  if (auto* c = dynamic_cast<torch::nn::Conv2dImpl*>(&m)) return c->forward(x);
  throw ModelError("module " + m.name() + " is not a Linear or Conv2d layer");
}

using Router = std::function<at::Tensor(torch::nn::Module&, const at::Tensor&)>;

// A Sequential's children in order, its Linear, Conv2d and BasicBlock modules through route.
torch::Tensor sequential_with(torch::nn::Sequential& seq, const Router& route, torch::Tensor x) {
  for (auto& child : *seq) {
    torch::nn::Module* m = child.ptr().get();
    if (dynamic_cast<torch::nn::LinearImpl*>(m) != nullptr ||
        dynamic_cast<torch::nn::Conv2dImpl*>(m) != nullptr) {
      x = route(*m, x);
    } else if (auto* block = dynamic_cast<BasicBlockImpl*>(m)) {
      x = block->forward_with(route, x);
    } else {
      x = child.forward(x);
    }
  }
  return x;
}

void check_common(const ModelOptions& o) {
  if (o.in_channels < 1 || o.image_size < 1 || o.num_classes < 2) {
    throw ModelError("model options: need in_channels >= 1, image_size >= 1, num_classes >= 2");
  }
}

}  // namespace

at::Tensor weight_layer_forward(const WeightLayer& l, const at::Tensor& input) {
  if (!l.conv) return at::linear(input, l.weight, l.bias);
  return at::conv2d(input, l.weight, l.bias, {l.stride[0], l.stride[1]}, {l.padding[0], l.padding[1]},
                    {l.dilation[0], l.dilation[1]}, l.groups);
}

torch::Tensor Classifier::forward_with(const WeightLayerFn&, torch::Tensor) {
  throw ModelError("model " + name() +
                   " cannot route its layers (forward_with): only image classifiers "
                   "built from Linear and Conv2d layers can");
}

std::vector<WeightLayer> Classifier::weight_layers() {
  throw ModelError("model " + name() + " has no routable weight layers");
}

std::vector<WeightLayer> BuiltinClassifier::weight_layers() {
  std::vector<std::pair<std::string, torch::nn::Module*>> modules;
  collect_weight_modules(*this, "", modules);
  std::vector<WeightLayer> layers;
  for (const auto& [path, m] : modules) {
    WeightLayer l;
    l.module = path;
    l.parameter = path + ".weight";
    if (auto* lin = dynamic_cast<torch::nn::LinearImpl*>(m)) {
      l.type = "Linear";
      l.weight = lin->weight;
      l.bias = lin->bias;
    } else {
      auto* c = dynamic_cast<torch::nn::Conv2dImpl*>(m);
      const auto& o = c->options;
      const auto* pad = c10::get_if<torch::ExpandingArray<2>>(&o.padding());
      if (pad == nullptr || !c10::holds_alternative<torch::enumtype::kZeros>(o.padding_mode()))
        throw ModelError(path + ": only explicit zero padding of a Conv2d can be routed");
      l.type = "Conv2d";
      l.conv = true;
      for (int d = 0; d < 2; ++d) {
        l.stride[d] = (*o.stride())[d];
        l.padding[d] = (**pad)[d];
        l.dilation[d] = (*o.dilation())[d];
      }
      l.groups = o.groups();
      l.weight = c->weight;
      l.bias = c->bias;
    }
    layers.push_back(std::move(l));
  }
  return layers;
}

BuiltinClassifier::Router BuiltinClassifier::router(const WeightLayerFn& layer) {
  if (!layer) return own_forward;
  std::vector<std::pair<std::string, torch::nn::Module*>> modules;
  collect_weight_modules(*this, "", modules);
  auto index = std::make_shared<std::map<const torch::nn::Module*, std::size_t>>();
  for (std::size_t k = 0; k < modules.size(); ++k) (*index)[modules[k].second] = k;
  return [index, layer](torch::nn::Module& m, const at::Tensor& x) {
    const auto it = index->find(&m);
    if (it == index->end()) throw ModelError("module " + m.name() + " is not a weight layer of the model");
    return layer(it->second, x);
  };
}

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

torch::Tensor MLPImpl::forward(torch::Tensor x) { return forward_with({}, std::move(x)); }

torch::Tensor MLPImpl::forward_with(const WeightLayerFn& layer, torch::Tensor x) {
  const Router route = router(layer);
  x = x.flatten(1);
  for (std::size_t i = 0; i + 1 < layers.size(); ++i) x = torch::relu(route(*layers[i], x));
  return route(*layers.back(), x);
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

torch::Tensor LeNet5Impl::forward(torch::Tensor x) { return forward_with({}, std::move(x)); }

torch::Tensor LeNet5Impl::forward_with(const WeightLayerFn& layer, torch::Tensor x) {
  const Router route = router(layer);
  x = torch::max_pool2d(torch::relu(route(*conv1, x)), 2);
  x = torch::max_pool2d(torch::relu(route(*conv2, x)), 2);
  x = torch::relu(route(*fc1, x.flatten(1)));
  x = torch::relu(route(*fc2, x));
  return route(*fc3, x);
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

torch::Tensor VGG16Impl::forward(torch::Tensor x) { return forward_with({}, std::move(x)); }

torch::Tensor VGG16Impl::forward_with(const WeightLayerFn& layer, torch::Tensor x) {
  const Router route = router(layer);
  x = layer ? sequential_with(features, route, x) : features->forward(x);
  x = F::adaptive_avg_pool2d(x, F::AdaptiveAvgPool2dFuncOptions(1)).flatten(1);
  return route(*classifier, x);
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

torch::Tensor BasicBlockImpl::forward(torch::Tensor x) { return forward_with(own_forward, std::move(x)); }

torch::Tensor BasicBlockImpl::forward_with(
    const std::function<at::Tensor(torch::nn::Module&, const at::Tensor&)>& conv, torch::Tensor x) {
  auto out = torch::relu(bn1->forward(conv(*conv1, x)));
  out = bn2->forward(conv(*conv2, out));
  return torch::relu(out + (shortcut->is_empty() ? x : sequential_with(shortcut, conv, x)));
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

torch::Tensor ResNet18Impl::forward(torch::Tensor x) { return forward_with({}, std::move(x)); }

torch::Tensor ResNet18Impl::forward_with(const WeightLayerFn& layer, torch::Tensor x) {
  const Router route = router(layer);
  x = torch::relu(stem_bn->forward(route(*stem, x)));
  x = sequential_with(blocks, route, x);
  x = F::adaptive_avg_pool2d(x, F::AdaptiveAvgPool2dFuncOptions(1)).flatten(1);
  return route(*fc, x);
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
