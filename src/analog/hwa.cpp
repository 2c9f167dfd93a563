// Hardware-aware training: weights mapped, perturbed and read back as the crossbar programs them.
#include "xbarsweep/analog/hwa.hpp"

#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "xbarsweep/crossbar/random.hpp"
#include "xbarsweep/error.hpp"
#include "xbarsweep/nn/models.hpp"

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
          .added_later()
          .add("read_noise", &H::read_noise,
               "scale of crossbar.read_noise (additive) on each tile's outputs in the training forward pass "
               "(the simulator's read noise: std read_noise g_max max|x| per column current); 0 = none. "
               "aihwkit trains with output noise (IOParameters.out_noise 0.06 of full scale)",
               {0.0, 100.0})
          .added_later()
          .add("dac", &H::dac,
               "training forward passes see the inputs of every layer through the crossbar's DAC "
               "(crossbar.input_bits, or dac_bits, over [0, max|x|] of the batch; straight-through)")
          .added_later()
          .add("adc", &H::adc,
               "training forward passes read each row tile's outputs through a crossbar.adc_bits ADC, "
               "ranged to each output's [min, max] on the batch widened by crossbar.adc_headroom "
               "(straight-through)")
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
  return quantizes_onto_levels(hwa, c) || noise || faults || hwa.weight_noise > 0.0 ||
         (hwa.transforms_forward() && !forward_options_problem(hwa, c));
}

std::vector<std::string> hardware_aware_device_paths(const HwaConfig& hwa) {
  std::vector<std::string> paths = {
      "crossbar.rows",       "crossbar.cols",           "crossbar.levels",        "crossbar.slices",
      "crossbar.g_min_us",   "crossbar.g_max_us",       "crossbar.mapping",       "crossbar.sigma",
      "crossbar.prog_noise", "crossbar.stuck_min_rate", "crossbar.stuck_max_rate"};
  if (hwa.dac) paths.insert(paths.end(), {"crossbar.dac_bits", "crossbar.input_bits"});
  if (hwa.adc) paths.insert(paths.end(), {"crossbar.adc_bits", "crossbar.adc_headroom"});
  if (hwa.read_noise > 0.0) paths.insert(paths.end(), {"crossbar.read_noise", "crossbar.read_noise_mode"});
  return paths;
}

std::optional<config::Problem> forward_options_problem(const HwaConfig& hwa, const CrossbarConfig& c) {
  if (hwa.dac && c.effective_input_bits() == 0)
    return config::Problem{"hwa.dac",
                           "is true but crossbar.dac_bits is 0 (ideal inputs); expected a DAC, or "
                           "hwa.dac false"};
  if (hwa.adc && c.adc_bits == 0)
    return config::Problem{"hwa.adc",
                           "is true but crossbar.adc_bits is 0 (ideal readout); expected an ADC, "
                           "or hwa.adc false"};
  if (hwa.read_noise > 0.0 && c.read_noise == 0.0)
    return config::Problem{"hwa.read_noise", "is " + std::to_string(hwa.read_noise) +
                                                 " but crossbar.read_noise is 0; expected read noise to "
                                                 "scale, or hwa.read_noise 0"};
  if (hwa.read_noise > 0.0 && c.read_noise_mode != crossbar::ReadNoiseMode::Additive)
    return config::Problem{"hwa.read_noise",
                           "the training forward pass draws additive read noise only; "
                           "expected crossbar.read_noise_mode additive, or hwa.read_noise 0"};
  return std::nullopt;
}

namespace {

// Which tiles of W (out x in) hold a nonzero weight, as ProgrammedLayer allocates them:
// nc x nr, column tile c covering outputs [c cols, ...) and row tile r inputs [r rows, ...).
at::Tensor allocated_tiles(const at::Tensor& w, std::int64_t rows, std::int64_t cols) {
  const std::int64_t out = w.size(0), in = w.size(1);
  const std::int64_t nr = (in + rows - 1) / rows, nc = (out + cols - 1) / cols;
  return torch::constant_pad_nd(w.detach().abs(), {0, nr * rows - in, 0, nc * cols - out}, 0)
      .view({nc, cols, nr, rows})
      .amax({1, 3})
      .gt(0);
}

}  // namespace

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
  if (in > rows || out > cols) {  // else the one tile holds a nonzero weight: max|W| > 0 here
    const auto allocated = allocated_tiles(m, rows, cols).to(opts.dtype());
    result =
        result *
        allocated.repeat_interleave(cols, 0).repeat_interleave(rows, 1).narrow(0, 0, out).narrow(1, 0, in);
  }
  return result.to(w.scalar_type()).view(w.sizes());
}

void HardwareAwareTraining::perturb(std::uint64_t batch_key) {
  torch::NoGradGuard no_grad;
  restore();
  batch_ = batch_key;
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

at::Tensor HardwareAwareTraining::forward(nn::Classifier& model, const at::Tensor& x) const {
  if (!hwa_.transforms_forward()) return model.forward(x);
  const std::vector<nn::WeightLayer> layers = model.weight_layers();
  const std::uint64_t key = crossbar::hash_extend(crossbar::hash_extend(crossbar::splitmix64(seed_), batch_),
                                                  0xF0A3D000ULL);  // apart from perturb()'s draws
  return model.forward_with(
      [&](std::size_t k, const at::Tensor& in) {
        return layer_forward(layers.at(k), in, crossbar::hash_extend(key, k));
      },
      x);
}

at::Tensor HardwareAwareTraining::layer_forward(const nn::WeightLayer& l, const at::Tensor& input,
                                                std::uint64_t key) const {
  if (l.groups > 1) {  // each group is a weight matrix of its own, mapped apart
    const std::int64_t out = l.weight.size(0) / l.groups, in = input.size(1) / l.groups;
    std::vector<at::Tensor> outputs;
    for (std::int64_t g = 0; g < l.groups; ++g) {
      nn::WeightLayer one = l;
      one.groups = 1;
      one.weight = l.weight.narrow(0, g * out, out);
      one.bias = l.bias.defined() ? l.bias.narrow(0, g * out, out) : at::Tensor();
      outputs.push_back(layer_forward(one, input.narrow(1, g * in, in),
                                      crossbar::hash_extend(key, static_cast<std::uint64_t>(g))));
    }
    return torch::cat(outputs, 1);
  }
  const CrossbarConfig& c = crossbar_;
  at::Tensor x = input;
  const double x_fs = x.detach().abs().max().item<double>();
  const int bits = c.effective_input_bits();
  // The DAC: |x| to 2^bits - 1 steps over [0, x_fs], the sign by the drive's polarity.
  if (hwa_.dac && bits > 0 && x_fs > 0.0) {
    const double top = static_cast<double>((std::int64_t(1) << bits) - 1);
    const auto d = x.detach();
    const auto q = (d.abs() * (top / x_fs)).round().clamp_max(top) * (x_fs / top) * d.sign();
    x = x + (q - d);  // straight-through: q - d is a constant for autograd
  }
  const bool noise = hwa_.read_noise > 0.0 && c.read_noise > 0.0;
  const bool adc = hwa_.adc && c.adc_bits > 0;
  if (!noise && !adc) return nn::weight_layer_forward(l, x);

  // The layer's GEMM: (M x in) inputs against W (out x in); a convolution's inputs are its
  // patches, feature order (c, kh, kw) = that of weight.view(out, -1).
  const at::Tensor w = l.weight.reshape({l.weight.size(0), -1});
  const std::int64_t out = w.size(0), in = w.size(1);
  at::Tensor patches;  // N x in x L (conv) or M x in (linear)
  std::vector<std::int64_t> out_shape;
  if (l.conv) {
    const std::int64_t kh = l.weight.size(2), kw = l.weight.size(3);
    patches = at::im2col(x, {kh, kw}, {l.dilation[0], l.dilation[1]}, {l.padding[0], l.padding[1]},
                         {l.stride[0], l.stride[1]});
    const auto size = [&](int d, std::int64_t k) {
      return (x.size(2 + d) + 2 * l.padding[d] - l.dilation[d] * (k - 1) - 1) / l.stride[d] + 1;
    };
    out_shape = {x.size(0), out, size(0, kh), size(1, kw)};
  } else {
    patches = x.reshape({-1, in});
    out_shape = x.sizes().vec();
    out_shape.back() = out;
  }
  const double wmax = l.weight.detach().abs().max().item<double>();
  const crossbar::CodeMapping map = crossbar::code_mapping(c);
  // Read noise in weight units: std read_noise g_max x_fs per column current (the simulator's
  // additive read noise), one column per slice recombined by levels^s, over the mapping's
  // current per unit weight (q_top unit / max|W|).
  double slice_gain = 0.0, factor = 1.0;
  for (int s = 0; s < (map.quantized ? c.slices : 1); ++s, factor *= static_cast<double>(map.levels))
    slice_gain += factor * factor;
  const double sigma = hwa_.read_noise * c.read_noise * c.g_max_us * x_fs * std::sqrt(slice_gain) *
                       (wmax > 0.0 ? wmax / (map.q_top * map.unit) : 0.0);
  auto gen = at::make_generator<at::CPUGeneratorImpl>(key);
  const std::int64_t rows = c.rows, cols = c.cols;
  const at::Tensor tiles = allocated_tiles(w, rows, cols);  // nc x nr
  const double top = adc ? static_cast<double>((std::int64_t(1) << c.adc_bits) - 1) : 0.0;
  at::Tensor y;
  for (std::int64_t r = 0; r < tiles.size(1); ++r) {
    // The outputs of the tiles of row tile r that hold a weight (the others are not there).
    const at::Tensor allocated = tiles.select(1, r).repeat_interleave(cols).narrow(0, 0, out);
    if (!allocated.any().item<bool>()) continue;
    const std::int64_t r0 = r * rows, width = std::min(rows, in - r0);
    const at::Tensor wr = w.narrow(1, r0, width);
    at::Tensor part = l.conv ? at::matmul(wr, patches.narrow(1, r0, width))       // N x out x L
                             : at::matmul(patches.narrow(1, r0, width), wr.t());  // M x out
    const std::int64_t channel_dim = l.conv ? 1 : part.dim() - 1;
    std::vector<std::int64_t> channel_shape(part.dim(), 1);
    channel_shape[channel_dim] = out;
    const at::Tensor present = allocated.to(part.scalar_type()).view(channel_shape);
    const at::Tensor clean = part.detach();  // what is added to it is a constant: straight-through
    at::Tensor read = clean;
    if (noise && sigma > 0.0) read = read + torch::randn(read.sizes(), gen, read.options()) * sigma * present;
    if (adc) {  // per output, [min, max] over the batch (and positions), widened about the centre
      std::vector<std::int64_t> over;
      for (std::int64_t d = 0; d < read.dim(); ++d)
        if (d != channel_dim) over.push_back(d);
      const auto lo0 = read.amin(over, true), hi0 = read.amax(over, true);
      const auto centre = (lo0 + hi0) * 0.5, half = (hi0 - lo0) * (0.5 * c.adc_headroom);
      const auto lo = centre - half, step = half * (2.0 / top);
      const auto codes = ((read - lo) / step.clamp_min(1e-30)).round().clamp(0.0, top);
      read = torch::where(step > 0, lo + codes * step, read);
    }
    part = part + (read - clean);
    y = y.defined() ? y + part : part;
  }
  if (!y.defined())
    y = l.conv ? torch::zeros({patches.size(0), out, patches.size(2)}, x.options())
               : torch::zeros({patches.size(0), out}, x.options());
  y = y.reshape(out_shape);
  if (l.bias.defined()) y = l.conv ? y + l.bias.view({1, -1, 1, 1}) : y + l.bias;
  return y;
}

}  // namespace xbarsweep::analog
