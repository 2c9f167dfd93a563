// Hardware-aware training: weights mapped, perturbed and read back as the crossbar programs them.
#include "xbarsweep/analog/hwa.hpp"

#include <torch/torch.h>

#include <cmath>
#include <utility>

#include "xbarsweep/crossbar/random.hpp"
#include "xbarsweep/error.hpp"

namespace xbarsweep::analog {

using crossbar::CrossbarConfig;
using crossbar::Mapping;

const config::Section<HwaConfig>& hwa_section() {
  using H = HwaConfig;
  static const config::Section<H> section =
      config::Section<H>("hwa")
          .add("enabled", &H::enabled,
               "hardware-aware training: training forward passes use weights mapped onto the crossbar's "
               "levels and perturbed as its devices are (crossbar.sigma, prog_noise, stuck rates), drawn "
               "afresh per batch; gradients pass straight through (Joshi et al. 2020; aihwkit)")
          .added_later()
          .add("device_noise", &H::device_noise,
               "scale of crossbar.sigma and crossbar.prog_noise in the training draws (1 = the devices' own; "
               "aihwkit recipes train at about the inference noise or a little above)",
               {0.0, 100.0})
          .added_later()
          .add("quantize", &H::quantize,
               "training forward passes see the weights on the crossbar's conductance levels "
               "(straight-through "
               "gradient); false: unquantized, noise only")
          .added_later()
          .add("faults", &H::faults,
               "stuck-at faults (crossbar.stuck_min_rate, stuck_max_rate) drawn in training")
          .added_later()
          .add("weight_noise", &H::weight_noise,
               "extra additive Gaussian weight noise in training, std / max|W| of the layer (aihwkit's "
               "ADD_NORMAL "
               "weight modifier); 0 = none",
               {0.0, 10.0})
          .added_later();
  return section;
}

config::Schema hwa_schema() { return hwa_section().schema(); }

HwaConfig hwa_config_from_params(const config::Params& params) { return hwa_section().read(params); }

bool quantizes_onto_levels(const HwaConfig& hwa, const CrossbarConfig& crossbar) {
  return hwa.quantize && crossbar.levels > 0;
}

bool perturbs(const HwaConfig& hwa, const CrossbarConfig& c) {
  const bool noise = hwa.device_noise > 0.0 && (c.sigma > 0.0 || c.prog_noise > 0.0);
  const bool faults = hwa.faults && (c.stuck_min_rate > 0.0 || c.stuck_max_rate > 0.0);
  return quantizes_onto_levels(hwa, c) || noise || faults || hwa.weight_noise > 0.0;
}

const std::vector<std::string>& hardware_aware_device_paths() {
  static const std::vector<std::string> paths = {
      "crossbar.rows",       "crossbar.cols",           "crossbar.levels",        "crossbar.slices",
      "crossbar.g_min_us",   "crossbar.g_max_us",       "crossbar.mapping",       "crossbar.sigma",
      "crossbar.prog_noise", "crossbar.stuck_min_rate", "crossbar.stuck_max_rate"};
  return paths;
}

HardwareAwareTraining::HardwareAwareTraining(std::vector<at::Tensor> weights, const CrossbarConfig& crossbar,
                                             const HwaConfig& hwa, std::uint64_t seed)
    : weights_(std::move(weights)), crossbar_(crossbar), hwa_(hwa), seed_(seed) {
  crossbar_.validate();
  for (const auto& w : weights_)
    XBARSWEEP_THROW_IF(!w.defined() || (w.dim() != 2 && w.dim() != 4), ModelError,
                       "hardware-aware training perturbs 2-d (Linear) and 4-d (Conv2d) weights, got a "
                           << (w.defined() ? w.dim() : 0) << "-d tensor");
}

at::Tensor HardwareAwareTraining::perturbed(const at::Tensor& w, std::uint64_t key) const {
  torch::NoGradGuard no_grad;
  const CrossbarConfig& c = crossbar_;
  const auto m = w.detach().reshape({w.size(0), -1}).to(torch::kFloat);
  const std::int64_t out = m.size(0), in = m.size(1);
  const double wmax = m.abs().max().item<double>();
  if (wmax == 0.0) return w.detach().clone();
  auto gen = at::make_generator<at::CPUGeneratorImpl>(key);
  const auto opts = m.options();
  const auto normal = [&] { return torch::randn({out, in}, gen, opts); };

  // The mapping of ProgrammedLayer (crossbar::code_mapping). Without quantization (hwa.quantize
  // false) a weight is one cell of continuous conductance over the same range, as a layer of
  // unlimited levels maps it.
  CrossbarConfig mapped = c;
  if (!hwa_.quantize) {
    mapped.levels = 0;
    mapped.slices = 1;
  }
  const crossbar::CodeMapping map = crossbar::code_mapping(mapped);
  const bool quantized = map.quantized, differential = map.differential;
  const double L = double(map.levels);
  const int slices = quantized ? c.slices : 1;
  const double q_top = map.q_top, unit = map.unit, g_min = c.g_min_us, g_max = c.g_max_us;
  torch::Tensor code = (differential ? m.abs() : m) * (q_top / wmax);
  if (quantized) code = (code + 0.5).floor();  // the layer's rounding; backward never sees it
  if (!differential) code = code + q_top;

  const double sigma = c.sigma * hwa_.device_noise, prog = c.prog_noise * hwa_.device_noise;
  const bool faults = hwa_.faults && (c.stuck_min_rate > 0.0 || c.stuck_max_rate > 0.0);
  const auto program = [&](torch::Tensor g) {  // program_device's steps 1-3, fresh draws
    if (sigma > 0.0) g = g * (normal() * sigma - 0.5 * sigma * sigma).exp();
    if (prog > 0.0) g = (g + normal() * (prog * g_max)).clamp_min(0.0);
    if (faults) {
      const auto u = torch::rand({out, in}, gen, opts);
      g = torch::where(u < c.stuck_min_rate, torch::full_like(g, g_min),
                       torch::where(u < c.stuck_min_rate + c.stuck_max_rate, torch::full_like(g, g_max), g));
    }
    return g;
  };
  torch::Tensor read = torch::zeros({out, in}, opts);
  double factor = 1.0;
  const auto positive = m > 0, negative = m < 0;
  for (int s = 0; s < slices; ++s, factor *= L) {
    const torch::Tensor digit = quantized ? (code / factor).floor().remainder(L) : code;
    if (differential) {
      const auto plus = program(g_min + torch::where(positive, digit, torch::zeros_like(digit)) * unit);
      const auto minus = program(g_min + torch::where(negative, digit, torch::zeros_like(digit)) * unit);
      read = read + (plus - minus) * factor;
    } else {
      read = read + program(g_min + digit * unit) * factor;
    }
  }
  if (!differential) read = read - (g_min * map.factor_sum + q_top * unit);  // the digital reference
  torch::Tensor result = read * (wmax / (q_top * unit));
  if (hwa_.weight_noise > 0.0) result = result + normal() * (hwa_.weight_noise * wmax);

  // Tiles whose weights are all zero are not allocated: their outputs are exactly zero.
  const std::int64_t rows = c.rows, cols = c.cols;
  const std::int64_t nr = (in + rows - 1) / rows, nc = (out + cols - 1) / cols;
  if (nr * nc > 1) {
    const auto padded = torch::constant_pad_nd(m.abs(), {0, nr * rows - in, 0, nc * cols - out}, 0);
    const auto allocated = padded.view({nc, cols, nr, rows}).amax({1, 3}).gt(0).to(opts.dtype());
    result =
        result *
        allocated.repeat_interleave(cols, 0).repeat_interleave(rows, 1).narrow(0, 0, out).narrow(1, 0, in);
  }  // a single tile holds a nonzero weight: max|W| > 0 here
  return result.to(w.scalar_type()).view(w.sizes());
}

void HardwareAwareTraining::perturb(std::uint64_t batch_key) {
  torch::NoGradGuard no_grad;
  restore();
  clean_.clear();
  const std::uint64_t key = crossbar::hash_extend(crossbar::splitmix64(seed_), batch_key);
  for (std::size_t k = 0; k < weights_.size(); ++k) {
    at::Tensor& w = weights_[k];
    clean_.push_back(w.detach().clone());
    w.detach().copy_(perturbed(w, crossbar::hash_extend(key, k)));
  }
}

void HardwareAwareTraining::restore() {
  torch::NoGradGuard no_grad;
  for (std::size_t k = 0; k < clean_.size(); ++k) weights_[k].detach().copy_(clean_[k]);
  clean_.clear();
}

}  // namespace xbarsweep::analog
