// Everything that touches torch::nn::Module or an optimiser: layer discovery, specs, masks.
#include <ATen/ATen.h>
#include <torch/nn/module.h>
#include <torch/optim/adam.h>
#include <torch/optim/adamw.h>
#include <torch/optim/optimizer.h>
#include <torch/optim/sgd.h>

#include <algorithm>

#include "xbarsweep/compress/accounting.hpp"
#include "xbarsweep/compress/layers.hpp"
#include "xbarsweep/compress/masks.hpp"
#include "xbarsweep/compress/spec.hpp"
#include "xbarsweep/error.hpp"

namespace xbarsweep::compress {

namespace {
bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

void mask_in_place(at::Tensor& t, const at::Tensor& keep) {
  if (t.defined() && t.sizes() == keep.sizes()) t.masked_fill_(keep.logical_not(), 0);
}
}  // namespace

LayerSpec CompressionSpec::for_layer(const std::string& name) const {
  if (std::find(skip.begin(), skip.end(), name) != skip.end()) return LayerSpec{};
  const auto it = layers.find(name);
  return it != layers.end() ? it->second : defaults;
}

std::vector<CompressibleLayer> compressible_layers(torch::nn::Module& model) {
  std::vector<CompressibleLayer> out;
  for (const auto& item : model.named_parameters(/*recurse=*/true)) {
    const auto& p = item.value();
    if (!ends_with(item.key(), "weight") || (p.dim() != 2 && p.dim() != 4)) continue;
    out.push_back({item.key(), p});
  }
  return out;
}

MaskSet MaskSet::hard_project(torch::nn::Module& model, const CompressionSpec& spec,
                              const MaskSet* previous) {
  at::NoGradGuard no_grad;
  MaskSet set;
  for (auto& layer : compressible_layers(model)) {
    const auto ls = spec.for_layer(layer.name);
    const LayerMask* before = previous ? previous->find(layer.name) : nullptr;
    if (!ls.compresses() && before == nullptr) continue;
    auto w = layer.matrix();
    at::Tensor restrict_to;
    if (before != nullptr) restrict_to = before->mask.view({layer.rows(), layer.cols()});
    Projection p;
    if (ls.levels && (ls.prune.kind != PruneKind::none)) {
      const auto src = restrict_to.defined() ? w.masked_fill(restrict_to.logical_not(), 0) : w;
      p = ls.joint_exact ? project_pruned_levels(src, ls.prune, *ls.levels)
                         : prune_then_quantize(src, ls.prune, *ls.levels);
      if (restrict_to.defined()) p.mask = p.mask.logical_and(restrict_to);
      p.weight = p.weight.masked_fill(p.mask.logical_not(), 0);
    } else if (ls.levels) {
      p = restrict_to.defined() ? project_levels_masked(w, restrict_to, *ls.levels)
                                : project_levels(w, *ls.levels);
    } else {
      p = project_prune(w, ls.prune);
      if (restrict_to.defined()) {
        p.mask = p.mask.logical_and(restrict_to);
        p.weight = p.weight.masked_fill(p.mask.logical_not(), 0);
      }
    }
    w.copy_(p.weight);
    LayerMask m{layer, ls, p.mask.view(layer.weight.sizes()).contiguous(), ls.levels, p.scale};
    if (!ls.levels && before != nullptr && before->levels) {
      m.levels = before->levels;  // an earlier quantization stage stays in force
      m.scale = before->scale;
    }
    set.layers_.push_back(std::move(m));
  }
  set.enforce_weights();
  return set;
}

void MaskSet::save(TensorMap& out, const std::string& prefix) const {
  for (const auto& m : layers_) {
    out[prefix + m.layer.name + ".mask"] = m.mask;
    out[prefix + m.layer.name + ".scale"] = at::scalar_tensor(m.scale, at::kDouble);
  }
}

MaskSet MaskSet::restore(torch::nn::Module& model, const CompressionSpec& spec, const MaskSet* previous,
                         const TensorMap& in, const std::string& prefix) {
  const auto get = [&](const std::string& key) -> const at::Tensor& {
    const auto found = in.find(key);
    XBARSWEEP_THROW_IF(found == in.end(), CompressError, "saved masks have no '" << key << "'");
    return found->second;
  };
  MaskSet set;
  for (auto& layer : compressible_layers(model)) {
    const auto ls = spec.for_layer(layer.name);
    const LayerMask* before = previous ? previous->find(layer.name) : nullptr;
    if (!ls.compresses() && before == nullptr) continue;  // as hard_project chooses
    const at::Tensor& mask = get(prefix + layer.name + ".mask");
    XBARSWEEP_THROW_IF(mask.sizes() != layer.weight.sizes() || mask.scalar_type() != at::kBool, CompressError,
                       "saved mask of " << layer.name << " is not a bool tensor of the weight's shape");
    LayerMask m{layer, ls, mask.clone(), ls.levels, get(prefix + layer.name + ".scale").item<double>()};
    if (!ls.levels && before != nullptr && before->levels) m.levels = before->levels;
    set.layers_.push_back(std::move(m));
  }
  return set;
}

void MaskSet::apply_masks_to_grads() const {
  at::NoGradGuard no_grad;
  for (const auto& m : layers_) {
    auto g = m.layer.weight.mutable_grad();
    mask_in_place(g, m.mask);
  }
}

void MaskSet::enforce_weights() const {
  at::NoGradGuard no_grad;
  for (const auto& m : layers_) {
    auto w = m.layer.weight;
    if (m.levels) w.copy_(quantize_to_levels(w, *m.levels, m.scale));
    w.masked_fill_(m.mask.logical_not(), 0);
  }
}

void MaskSet::mask_optimizer_state(torch::optim::Optimizer& optimizer) const {
  at::NoGradGuard no_grad;
  auto& state = optimizer.state();
  for (const auto& m : layers_) {
    const auto it = state.find(c10::guts::to_string(m.layer.weight.unsafeGetTensorImpl()));
    if (it == state.end() || !it->second) continue;
    auto* base = it->second.get();
    if (auto* sgd = dynamic_cast<torch::optim::SGDParamState*>(base)) {
      auto buf = sgd->momentum_buffer();
      mask_in_place(buf, m.mask);
    } else if (auto* adam = dynamic_cast<torch::optim::AdamParamState*>(base)) {
      for (auto t : {adam->exp_avg(), adam->exp_avg_sq(), adam->max_exp_avg_sq()}) mask_in_place(t, m.mask);
    } else if (auto* adamw = dynamic_cast<torch::optim::AdamWParamState*>(base)) {
      for (auto t : {adamw->exp_avg(), adamw->exp_avg_sq(), adamw->max_exp_avg_sq()}) {
        mask_in_place(t, m.mask);
      }
    } else {
      XBARSWEEP_THROW_IF(true, CompressError,
                         "mask_optimizer_state: unsupported optimiser state for " + m.layer.name +
                             " (SGD, Adam and AdamW are supported)");
    }
  }
}

void MaskSet::after_step(torch::optim::Optimizer& optimizer) const {
  enforce_weights();
  mask_optimizer_state(optimizer);
}

void MaskSet::enforce_masks() const {
  at::NoGradGuard no_grad;
  for (const auto& m : layers_) {
    auto w = m.layer.weight;
    w.masked_fill_(m.mask.logical_not(), 0);
    // Latent weights stay within the top level (QAT's clipping): beyond it, the final projection
    // would clip them anyway, and a forward pass that maps max|W| to the top code (the crossbar's)
    // would lose the resolution of every other weight to one that grew (weights before batch norm
    // are scale-free and grow).
    if (m.levels && !m.levels->shape.empty()) {
      const double top = m.scale * m.levels->shape.back();
      w.clamp_(-top, top);
    }
  }
}

void MaskSet::after_step_straight_through(torch::optim::Optimizer& optimizer) const {
  enforce_masks();
  mask_optimizer_state(optimizer);
}

bool MaskSet::holds(std::string* why) const {
  at::NoGradGuard no_grad;
  for (const auto& m : layers_) {
    const auto w = m.layer.weight;
    if (!(w.masked_select(m.mask.logical_not()) == 0).all().item<bool>()) {
      if (why) *why = m.layer.name + ": a pruned weight is not exactly 0";
      return false;
    }
    if (m.levels) {
      const auto kept = w.masked_select(m.mask);
      if (!quantize_to_levels(kept, *m.levels, m.scale).equal(kept)) {
        if (why) *why = m.layer.name + ": a kept weight is off its level";
        return false;
      }
    }
  }
  return true;
}

const LayerMask* MaskSet::find(const std::string& name) const {
  for (const auto& m : layers_) {
    if (m.layer.name == name) return &m;
  }
  return nullptr;
}

CompressionAccount account_model(torch::nn::Module& model, const CompressionSpec& spec,
                                 const AccountingOptions& options) {
  at::NoGradGuard no_grad;
  std::vector<LayerAccount> layers;
  for (const auto& layer : compressible_layers(model)) {
    layers.push_back(account_layer(layer.name, layer.matrix(), spec.for_layer(layer.name), options));
  }
  return total(std::move(layers));
}

}  // namespace xbarsweep::compress
