#include "xbarsweep/compress/admm.hpp"

#include <ATen/ATen.h>
#include <torch/nn/module.h>

#include <algorithm>
#include <cmath>

#include "xbarsweep/error.hpp"

namespace xbarsweep::compress {

std::string to_string(AdmmSet set) {
  switch (set) {
    case AdmmSet::prune:
      return "prune";
    case AdmmSet::quantize:
      return "quantize";
    case AdmmSet::joint:
      return "joint";
  }
  return "?";
}

namespace {

AdmmPair pair_for(AdmmSet set) {
  AdmmPair pair;
  pair.set = set;
  return pair;
}

// Projection of v (the weight's shape) onto the pair's set; `support` is the prune pair's
// current mask for a two-pair layer.
Projection project_pair(const AdmmLayer& l, const AdmmPair& pair, const at::Tensor& v,
                        const at::Tensor& support) {
  const auto rows = l.layer.rows();
  const auto cols = l.layer.cols();
  const auto m = v.reshape({rows, cols});
  const auto as_matrix = [&](const at::Tensor& t) { return t.reshape({rows, cols}); };
  Projection p;
  switch (pair.set) {
    case AdmmSet::prune:
      p = project_prune(l.fixed_mask.defined() ? m.masked_fill(as_matrix(l.fixed_mask).logical_not(), 0) : m,
                        l.spec.prune);
      if (l.fixed_mask.defined()) p.mask = p.mask.logical_and(as_matrix(l.fixed_mask));
      break;
    case AdmmSet::quantize:
      if (support.defined()) {
        p = project_levels_masked(m, as_matrix(support), *l.spec.levels);
      } else if (l.fixed_mask.defined()) {
        p = project_levels_masked(m, as_matrix(l.fixed_mask), *l.spec.levels);
      } else {
        p = project_levels(m, *l.spec.levels);
      }
      break;
    case AdmmSet::joint:
      p = project_pruned_levels(
          l.fixed_mask.defined() ? m.masked_fill(as_matrix(l.fixed_mask).logical_not(), 0) : m, l.spec.prune,
          *l.spec.levels);
      if (l.fixed_mask.defined()) {
        p.mask = p.mask.logical_and(as_matrix(l.fixed_mask));
        p.weight = p.weight.masked_fill(p.mask.logical_not(), 0);
      }
      break;
  }
  p.weight = p.weight.reshape(v.sizes()).contiguous();
  p.mask = p.mask.reshape(v.sizes()).contiguous();
  return p;
}

}  // namespace

AdmmState AdmmState::init(torch::nn::Module& model, const CompressionSpec& spec, const MaskSet* fixed,
                          bool rescale_dual) {
  at::NoGradGuard no_grad;
  AdmmState state;
  state.rescale_dual_ = rescale_dual;
  for (auto& layer : compressible_layers(model)) {
    const auto ls = spec.for_layer(layer.name);
    if (!ls.compresses()) continue;
    XBARSWEEP_THROW_IF(!(ls.rho.initial > 0.0) || !(ls.rho.growth >= 1.0) || !(ls.rho.cap >= ls.rho.initial),
                       CompressError, layer.name + ": rho needs initial > 0, growth >= 1, cap >= initial");
    AdmmLayer l;
    l.layer = layer;
    l.spec = ls;
    if (fixed != nullptr) {
      if (const auto* m = fixed->find(layer.name)) l.fixed_mask = m->mask;
    }
    const bool prune = ls.prune.kind != PruneKind::none;
    if (prune && ls.levels && ls.joint_exact) {
      l.pairs.push_back(pair_for(AdmmSet::joint));
    } else {
      if (prune) l.pairs.push_back(pair_for(AdmmSet::prune));
      if (ls.levels) l.pairs.push_back(pair_for(AdmmSet::quantize));
    }
    const auto w = layer.weight.detach();
    at::Tensor support;
    for (auto& pair : l.pairs) {
      const auto p = project_pair(l, pair, w, pair.set == AdmmSet::quantize ? support : at::Tensor{});
      pair.z = p.weight;
      pair.mask = p.mask;
      pair.scale = p.scale;
      pair.u = at::zeros_like(w);
      pair.rho = ls.rho.initial;
      if (pair.set == AdmmSet::prune) support = p.mask;
    }
    state.layers_.push_back(std::move(l));
  }
  state.refresh_offsets();
  return state;
}

void AdmmState::refresh_offsets() {
  for (auto& l : layers_) {
    l.rho_sum = 0.0;
    l.offset = at::zeros_like(l.layer.weight.detach());
    for (const auto& p : l.pairs) {
      l.rho_sum += p.rho;
      l.offset.add_(p.u - p.z, p.rho);
    }
  }
}

void AdmmState::add_penalty_gradients() {
  at::NoGradGuard no_grad;
  for (auto& l : layers_) {
    auto g = l.layer.weight.mutable_grad();
    XBARSWEEP_THROW_IF(!g.defined(), CompressError,
                       l.layer.name + ": no gradient; call after loss.backward()");
    // grad += sum rho (W - Z + U) = rho_sum W + sum rho (U - Z)
    g.add_(l.layer.weight, l.rho_sum).add_(l.offset);
  }
}

double AdmmState::penalty() const {
  at::NoGradGuard no_grad;
  double total = 0.0;
  for (const auto& l : layers_) {
    const auto w = l.layer.weight.detach();
    for (const auto& p : l.pairs) {
      total += 0.5 * p.rho * (w - p.z + p.u).to(at::kDouble).pow(2).sum().item<double>();
    }
  }
  return total;
}

std::vector<AdmmResidual> AdmmState::update() {
  at::NoGradGuard no_grad;
  std::vector<AdmmResidual> out;
  for (auto& l : layers_) {
    const auto w = l.layer.weight.detach();
    at::Tensor support;
    for (auto& pair : l.pairs) {
      const auto p =
          project_pair(l, pair, w + pair.u, pair.set == AdmmSet::quantize ? support : at::Tensor{});
      const double dual = pair.rho * (p.weight - pair.z).to(at::kDouble).norm().item<double>();
      pair.z = p.weight;
      pair.mask = p.mask;
      pair.scale = p.scale;
      if (pair.set == AdmmSet::prune) support = p.mask;
      pair.u.add_(w - pair.z);
      const double primal = (w - pair.z).to(at::kDouble).norm().item<double>();
      pair.primal.push_back(primal);
      pair.dual.push_back(dual);
      pair.rhos.push_back(pair.rho);
      out.push_back({l.layer.name, pair.set, primal, dual, pair.rho});
      const double next = std::min(pair.rho * l.spec.rho.growth, l.spec.rho.cap);
      if (rescale_dual_ && next != pair.rho) pair.u.mul_(pair.rho / next);
      pair.rho = next;
    }
  }
  ++iterations_;
  refresh_offsets();
  return out;
}

namespace {
at::Tensor curve(const std::vector<double>& v) {
  return at::tensor(c10::ArrayRef<double>(v), at::TensorOptions().dtype(at::kDouble)).clone();
}
std::vector<double> curve_of(const at::Tensor& t) {
  const auto d = t.to(at::kDouble).contiguous();
  return {d.data_ptr<double>(), d.data_ptr<double>() + d.numel()};
}
}  // namespace

void AdmmState::save(TensorMap& out, const std::string& prefix) const {
  out[prefix + "iterations"] = at::scalar_tensor(static_cast<double>(iterations_), at::kDouble);
  for (const auto& l : layers_) {
    for (std::size_t j = 0; j < l.pairs.size(); ++j) {
      const AdmmPair& p = l.pairs[j];
      const std::string key = prefix + l.layer.name + "." + std::to_string(j) + ".";
      out[key + "z"] = p.z;
      out[key + "u"] = p.u;
      out[key + "mask"] = p.mask;
      out[key + "rho"] = at::scalar_tensor(p.rho, at::kDouble);
      out[key + "scale"] = at::scalar_tensor(p.scale, at::kDouble);
      out[key + "primal"] = curve(p.primal);
      out[key + "dual"] = curve(p.dual);
      out[key + "rhos"] = curve(p.rhos);
    }
  }
}

void AdmmState::restore(const TensorMap& in, const std::string& prefix) {
  const auto get = [&](const std::string& key) -> const at::Tensor& {
    const auto found = in.find(key);
    XBARSWEEP_THROW_IF(found == in.end(), CompressError, "saved ADMM state has no '" << key << "'");
    return found->second;
  };
  iterations_ = static_cast<std::int64_t>(get(prefix + "iterations").item<double>());
  for (auto& l : layers_) {
    for (std::size_t j = 0; j < l.pairs.size(); ++j) {
      AdmmPair& p = l.pairs[j];
      const std::string key = prefix + l.layer.name + "." + std::to_string(j) + ".";
      for (const char* name : {"z", "u", "mask"}) {
        XBARSWEEP_THROW_IF(get(key + name).sizes() != p.z.sizes(), CompressError,
                           "saved ADMM state '" << key << name << "' has another shape than the layer");
      }
      p.z = get(key + "z").clone();
      p.u = get(key + "u").clone();
      p.mask = get(key + "mask").clone();
      p.rho = get(key + "rho").item<double>();
      p.scale = get(key + "scale").item<double>();
      p.primal = curve_of(get(key + "primal"));
      p.dual = curve_of(get(key + "dual"));
      p.rhos = curve_of(get(key + "rhos"));
    }
  }
  refresh_offsets();
}

std::vector<std::vector<AdmmResidual>> AdmmState::residual_history() const {
  std::vector<std::vector<AdmmResidual>> out(static_cast<std::size_t>(iterations_));
  for (std::size_t t = 0; t < out.size(); ++t) {
    for (const auto& l : layers_) {
      for (const auto& p : l.pairs)
        out[t].push_back({l.layer.name, p.set, p.primal[t], p.dual[t], p.rhos[t]});
    }
  }
  return out;
}

double AdmmState::max_relative_residual() const {
  at::NoGradGuard no_grad;
  double worst = 0.0;
  for (const auto& l : layers_) {
    const auto w = l.layer.weight.detach().to(at::kDouble);
    const double norm = std::max(w.norm().item<double>(), 1e-30);
    for (const auto& p : l.pairs) {
      worst = std::max(worst, (w - p.z.to(at::kDouble)).norm().item<double>() / norm);
    }
  }
  return worst;
}

}  // namespace xbarsweep::compress
