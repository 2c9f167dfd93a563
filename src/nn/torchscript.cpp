// A classifier from a TorchScript file: parameters mirrored into torch::nn::Module, the forward
// graph analysed for its Linear and Conv2d calls, and a second forward graph in which each of
// those calls is the operator xbarsweep::mapped_layer, which calls back into C++.
#include "xbarsweep/nn/torchscript.hpp"

#include <torch/csrc/jit/api/function_impl.h>
#include <torch/csrc/jit/ir/constants.h>
#include <torch/csrc/jit/ir/ir.h>
#include <torch/csrc/jit/passes/constant_propagation.h>
#include <torch/csrc/jit/passes/dead_code_elimination.h>
#include <torch/csrc/jit/passes/inliner.h>
#include <torch/csrc/jit/runtime/graph_executor.h>
#include <torch/script.h>

#include <algorithm>
#include <map>
#include <optional>
#include <sstream>

#include "xbarsweep/error.hpp"

namespace xbarsweep::nn {

namespace jit = torch::jit;

namespace {

// The function forward_with runs the mapped layers through, for the operator's kernel. The
// interpreter runs the graph on the calling thread, so a thread-local is enough.
thread_local const WeightLayerFn* current_layer_fn = nullptr;

at::Tensor mapped_layer_kernel(at::Tensor input, std::int64_t layer) {
  XBARSWEEP_THROW_IF(current_layer_fn == nullptr, InternalError,
                     "xbarsweep::mapped_layer ran outside TorchScriptClassifierImpl::forward_with");
  return (*current_layer_fn)(static_cast<std::size_t>(layer), input);
}

// Registered on first use (a static library's registration object would be dropped by the
// linker). Conservative aliasing: the call draws read noise, so two calls are never merged.
c10::Symbol mapped_layer_symbol() {
  static const torch::RegisterOperators registry =
      torch::RegisterOperators().op(torch::RegisterOperators::options()
                                        .schema("xbarsweep::mapped_layer(Tensor input, int layer) -> Tensor")
                                        .catchAllKernel<decltype(mapped_layer_kernel), &mapped_layer_kernel>()
                                        .aliasAnalysis(c10::AliasAnalysisKind::CONSERVATIVE));
  static const c10::Symbol symbol = c10::Symbol::fromQualString("xbarsweep::mapped_layer");
  return symbol;
}

// "features.3.weight" for a chain of prim::GetAttr from the graph's `self`, else nothing.
std::optional<std::string> attribute_path(jit::Value* value, const jit::Value* self) {
  std::vector<std::string> names;
  while (value != self) {
    const jit::Node* node = value->node();
    if (node->kind() != c10::prim::GetAttr) return std::nullopt;
    names.push_back(node->s(c10::attr::name));
    value = node->input(0);
  }
  std::string path;
  for (auto it = names.rbegin(); it != names.rend(); ++it) path += (path.empty() ? "" : ".") + *it;
  return path;
}

std::string parent_of(const std::string& parameter) {
  const auto dot = parameter.rfind('.');
  return dot == std::string::npos ? std::string() : parameter.substr(0, dot);
}

std::string class_name(const jit::Module& m) { return m.type()->name() ? m.type()->name()->name() : "?"; }

// Operations that only read a weight's metadata.
bool reads_metadata_only(c10::Symbol kind) {
  return kind == c10::aten::size || kind == c10::aten::dim || kind == c10::prim::device ||
         kind == c10::prim::dtype || kind == c10::aten::__is__ || kind == c10::aten::__isnot__;
}

bool is_two(const std::vector<std::int64_t>& v) { return v.size() == 2 || v.size() == 1; }

void copy_pair(const std::vector<std::int64_t>& from, std::int64_t (&to)[2]) {
  to[0] = from.at(0);
  to[1] = from.size() > 1 ? from[1] : from[0];
}

}  // namespace

struct TorchScriptClassifierImpl::State {
  std::string path;
  jit::Module script;
  std::vector<WeightLayer> layers;
  std::vector<UnmappedWeight> unmapped;
  std::shared_ptr<jit::Graph> mapped_graph;  // forward with xbarsweep::mapped_layer calls
  std::unique_ptr<jit::GraphFunction> mapped_forward;
  std::map<std::string, std::string> types;  // module path -> class name

  [[noreturn]] void fail(const std::string& what) const {
    throw ModelError("model file '" + path + "': " + what);
  }

  // Geometry of a convolution call, or a reason it cannot be mapped.
  std::optional<std::string> read_conv(const jit::Node* node, WeightLayer& layer) const {
    const auto constant = [&](std::size_t i) { return jit::toIValue(node->input(i)); };
    const c10::Symbol kind = node->kind();
    std::size_t stride_at = 3, padding_at = 4, dilation_at = 5, groups_at = 6;
    if (kind == c10::aten::_convolution) {
      const auto transposed = constant(6);
      if (!transposed || !transposed->isBool()) return "a convolution whose 'transposed' is not a constant";
      if (transposed->toBool()) return "a transposed convolution";
      groups_at = 8;
    }
    if (layer.weight.dim() != 4)
      return "a convolution of " + std::to_string(layer.weight.dim() - 2) + " dimensions";
    const auto stride = constant(stride_at), padding = constant(padding_at), dilation = constant(dilation_at),
               groups = constant(groups_at);
    if (!stride || !padding || !dilation || !groups || !stride->isIntList() || !dilation->isIntList() ||
        !groups->isInt())
      return "a convolution whose stride, padding, dilation or groups are not constants";
    const auto s = stride->toIntVector(), d = dilation->toIntVector();
    if (!is_two(s) || !is_two(d)) return "a convolution whose stride or dilation is not two numbers";
    copy_pair(s, layer.stride);
    copy_pair(d, layer.dilation);
    layer.groups = groups->toInt();
    if (padding->isIntList()) {
      const auto p = padding->toIntVector();
      if (!is_two(p)) return "a convolution whose padding is not two numbers";
      copy_pair(p, layer.padding);
    } else if (padding->isString() && padding->toStringRef() == "valid") {
      layer.padding[0] = layer.padding[1] = 0;
    } else if (padding->isString() && padding->toStringRef() == "same") {
      for (int axis = 0; axis < 2; ++axis) {
        const std::int64_t total = layer.dilation[axis] * (layer.weight.size(2 + axis) - 1);
        if (total % 2 != 0) return "a convolution with padding='same' that pads one side more than the other";
        layer.padding[axis] = total / 2;
      }
    } else {
      return "a convolution with an unknown padding";
    }
    return std::nullopt;
  }

  void analyse() {
    auto graph = script.get_method("forward").graph()->copy();
    if (graph->inputs().size() != 2)
      fail("forward takes " + std::to_string(graph->inputs().size() - 1) +
           " arguments; expected one tensor (a batch of images)");
    if (graph->outputs().size() != 1 || !graph->outputs()[0]->type()->cast<c10::TensorType>())
      fail("forward returns " + graph->outputs()[0]->type()->repr_str() + "; expected one tensor of logits");
    jit::Inline(*graph);
    jit::ConstantPropagation(graph);
    jit::EliminateDeadCode(graph);

    std::map<std::string, at::Tensor> parameters;  // the mirror's names and tensors
    std::vector<std::string> order;
    for (const auto& p : script.named_parameters(/*recurse=*/true)) {
      parameters[p.name] = p.value;
      order.push_back(p.name);
    }
    for (const auto& m : script.named_modules()) types[m.name] = class_name(m.value);
    const jit::Value* self = graph->inputs()[0];

    // Each call of a Linear/Conv2d weight, with the layer it becomes.
    std::map<std::string, WeightLayer> found;
    std::vector<std::pair<jit::Node*, std::string>> calls;
    std::vector<jit::Block*> blocks = {graph->block()};
    while (!blocks.empty()) {
      jit::Block* block = blocks.back();
      blocks.pop_back();
      for (jit::Node* node : block->nodes()) {
        for (jit::Block* inner : node->blocks()) blocks.push_back(inner);
        for (std::size_t i = 0; i < node->inputs().size(); ++i) {
          const auto name = attribute_path(node->input(i), self);
          if (!name) continue;
          const auto param = parameters.find(*name);
          if (param == parameters.end() || param->second.dim() < 2) continue;
          const c10::Symbol kind = node->kind();
          if (reads_metadata_only(kind)) continue;
          WeightLayer layer;
          layer.parameter = *name;
          layer.module = parent_of(*name);
          layer.type = types.count(layer.module) ? types[layer.module] : "?";
          layer.weight = param->second;
          const bool linear = kind == c10::aten::linear && i == 1;
          const bool conv = (kind == c10::aten::conv2d || kind == c10::aten::_convolution ||
                             kind == c10::aten::_convolution_mode) &&
                            i == 1;
          std::optional<std::string> why;
          if (!linear && !conv) why = "";
          if (conv) {
            layer.conv = true;
            why = read_conv(node, layer);
          }
          if (!why && node->inputs().size() > 2) {  // the bias: none, or a parameter
            const auto bias_name = attribute_path(node->input(2), self);
            const auto bias = bias_name ? parameters.find(*bias_name) : parameters.end();
            if (bias != parameters.end()) {
              layer.bias = bias->second;
            } else if (!node->input(2)->type()->cast<c10::NoneType>() && !bias_name) {
              why = "a bias that is computed, not a parameter";
            }
          }
          if (!why && found.count(*name) &&
              (found[*name].conv != layer.conv ||
               !std::equal(layer.stride, layer.stride + 2, found[*name].stride) ||
               !std::equal(layer.padding, layer.padding + 2, found[*name].padding)))
            why = "one weight used by two layers of different geometry";
          if (why) {
            std::string op = kind.toQualString();
            if (!why->empty()) op += " (" + *why + ")";
            unmapped.push_back({layer.module, layer.type, op});
            continue;
          }
          found.emplace(*name, layer);
          calls.emplace_back(node, *name);
        }
      }
    }
    for (const std::string& name : order)
      if (found.count(name)) layers.push_back(found[name]);
    if (layers.empty())
      fail(
          "has no Linear or Conv2d layer whose weight is a parameter (aten::linear / aten::conv2d in its "
          "forward graph); expected a classifier with at least one (a frozen module keeps its weights as "
          "constants: save the module before torch.jit.freeze)");

    // The mapped forward: each call becomes xbarsweep::mapped_layer(input, layer index).
    std::map<std::string, std::int64_t> index;
    for (std::size_t k = 0; k < layers.size(); ++k) index[layers[k].parameter] = static_cast<std::int64_t>(k);
    const c10::Symbol op = mapped_layer_symbol();
    for (auto& [node, name] : calls) {
      jit::WithInsertPoint at(node);
      jit::Value* layer = graph->insertConstant(index.at(name));
      jit::Value* out = graph->insert(op, {node->input(0), layer});
      node->output()->replaceAllUsesWith(out);
      node->destroy();
    }
    jit::EliminateDeadCode(graph);
    mapped_graph = graph;
    mapped_forward = std::make_unique<jit::GraphFunction>("xbarsweep_mapped_forward", mapped_graph, nullptr);
  }
};

namespace {

// The mirror: a torch::nn::Module per script module, holding the same tensors.
void mirror(torch::nn::Module& into, const jit::Module& from) {
  for (const auto& p : from.named_parameters(/*recurse=*/false))
    into.register_parameter(p.name, p.value, p.value.requires_grad());
  for (const auto& b : from.named_buffers(/*recurse=*/false)) into.register_buffer(b.name, b.value);
  for (const auto& child : from.named_children()) {
    auto module = std::make_shared<torch::nn::Module>(class_name(child.value));
    mirror(*module, child.value);
    into.register_module(child.name, module);
  }
}

}  // namespace

TorchScriptClassifierImpl::TorchScriptClassifierImpl(const std::string& path)
    : state_(std::make_unique<State>()) {
  state_->path = path;
  try {
    state_->script = jit::load(path, c10::Device(c10::kCPU));
  } catch (const c10::Error& e) {
    std::string what = e.what_without_backtrace();
    what = what.substr(0, what.find('\n'));
    state_->fail("cannot be loaded as TorchScript (" + what +
                 "); expected a module saved with torch.jit.script(model).save(path) or torch.jit.trace");
  }
  if (!state_->script.find_method("forward")) state_->fail("has no forward method");
  try {
    state_->analyse();
  } catch (const c10::Error& e) {
    std::string what = e.what_without_backtrace();
    state_->fail("its forward graph cannot be analysed: " + what.substr(0, what.find('\n')));
  }
  mirror(*this, state_->script);
}

TorchScriptClassifierImpl::~TorchScriptClassifierImpl() = default;

torch::Tensor TorchScriptClassifierImpl::forward(torch::Tensor x) {
  // The plain interpreter with eager autograd: the profiling executor's differentiable subgraphs
  // made a LeNet-5 training epoch 10% slower than the built-in model's (bench_torchscript).
  const jit::GraphOptimizerEnabledGuard plain(false);
  return state_->script.forward({std::move(x)}).toTensor();
}

torch::Tensor TorchScriptClassifierImpl::forward_with(const WeightLayerFn& layer, torch::Tensor x) {
  struct Current {  // restores the caller's function (none) even when the forward throws
    const WeightLayerFn* saved;
    explicit Current(const WeightLayerFn* fn) : saved(current_layer_fn) { current_layer_fn = fn; }
    ~Current() { current_layer_fn = saved; }
  } current(&layer);
  const jit::GraphOptimizerEnabledGuard plain(false);
  jit::Stack stack{state_->script._ivalue(), std::move(x)};
  state_->mapped_forward->run(stack);
  return stack.back().toTensor();
}

void TorchScriptClassifierImpl::train(bool on) {
  torch::nn::Module::train(on);
  state_->script.train(on);
}

std::vector<WeightLayer> TorchScriptClassifierImpl::weight_layers() { return state_->layers; }

const std::vector<UnmappedWeight>& TorchScriptClassifierImpl::unmapped_weights() const {
  return state_->unmapped;
}

void TorchScriptClassifierImpl::require_mappable() const {
  if (state_->unmapped.empty()) return;
  const UnmappedWeight& u = state_->unmapped.front();
  state_->fail("module '" + u.module + "' (" + u.type + ") uses its weight in " + u.operation +
               ", which xbarsweep cannot map onto crossbars; expected Linear (aten::linear) and Conv2d "
               "(aten::conv2d) layers, with everything else free of weights");
}

double TorchScriptClassifierImpl::macs_per_sample(std::int64_t channels, std::int64_t height,
                                                  std::int64_t width) {
  torch::NoGradGuard no_grad;
  const bool was_training = is_training();
  train(false);
  double macs = 0.0;
  forward_with(
      [&](std::size_t k, const at::Tensor& input) {
        const WeightLayer& l = state_->layers[k];
        at::Tensor out = weight_layer_forward(l, input);
        macs += static_cast<double>(out.numel()) * static_cast<double>(l.weight.numel() / l.weight.size(0));
        return out;
      },
      torch::zeros({1, channels, height, width}));
  train(was_training);
  return macs;
}

const std::string& TorchScriptClassifierImpl::path() const { return state_->path; }

jit::Module& TorchScriptClassifierImpl::script() { return state_->script; }

}  // namespace xbarsweep::nn
