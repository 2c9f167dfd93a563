// The torch bridge of the crossbar simulator: a classifier's forward pass with its Linear and
// Conv2d layers replaced by simulated MVMs (convolutions read as patches of their padded input).
#include "xbarsweep/analog/model_eval.hpp"

#include <torch/torch.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <map>

#include "mapped_layer.hpp"
#include "xbarsweep/crossbar/layer.hpp"
#include "xbarsweep/crossbar/random.hpp"
#include "xbarsweep/error.hpp"
#include "xbarsweep/nn/models.hpp"
#include "xbarsweep/nn/torchscript.hpp"
#include "xbarsweep/nn/training.hpp"

namespace xbarsweep::analog {

using namespace ::xbarsweep::crossbar;

namespace {

using detail::Layer;
using detail::MappedLayer;

struct ScopedRegion {  // a Kokkos profiling region around each public entry point
  explicit ScopedRegion(const char* name) { Kokkos::Profiling::pushRegion(name); }
  ~ScopedRegion() { Kokkos::Profiling::popRegion(); }
  ScopedRegion(const ScopedRegion&) = delete;
  ScopedRegion& operator=(const ScopedRegion&) = delete;
};

}  // namespace

struct HardwareModel::State {
  nn::Classifier* model = nullptr;
  std::int64_t max_rows = 16384;
  bool calibrating = false;
  std::vector<MappedLayer> layers;
  std::vector<nn::WeightLayer> weight_layers;    // the model's, in its order
  std::vector<std::vector<std::size_t>> mapped;  // its weight layer k -> layers (one per group)

  // A convolution on crossbars: the rows of its GEMM ((N Ho Wo) x (C kh kw), feature order
  // (c, kh, kw) = the order of weight.view(out, -1)) read from the padded input by the DAC (gathered
  // for calibration), one simulated MVM per output position, bias added digitally.
  torch::Tensor conv(MappedLayer& m, const torch::Tensor& x, std::array<std::int64_t, 2> k,
                     std::array<std::int64_t, 2> s, std::array<std::int64_t, 2> pad,
                     std::array<std::int64_t, 2> d) {
    const auto started = std::chrono::steady_clock::now();
    const double simulated_before = m.simulate_s;
    torch::Tensor y;
    if (calibrating || m.layer.needs_calibration()) {  // on unfolded rows, those it takes only
      const torch::Tensor rows = detail::calibration_patches(x, k, s, pad, d, max_rows).contiguous();
      m.layer.calibrate(detail::layer_input(rows.data_ptr<float>(), rows.size(0), rows.size(1)));
    }
    y = detail::simulate_patches(m, x, k, s, pad, d, max_rows);
    m.layer.release_scratch();  // one layer's scratch at a time
    m.mvms = y.size(2) * y.size(3);
    m.unfold_s += detail::seconds_since(started) - (m.simulate_s - simulated_before);
    if (m.bias.defined()) y.add_(m.bias.view({1, -1, 1, 1}));  // y is this call's own tensor
    return y;
  }

  // Weight layer k of the model: a Linear on any leading shape, or a Conv2d whose groups are
  // mapped one weight matrix each.
  torch::Tensor weight_layer(std::size_t k, const torch::Tensor& x) {
    const nn::WeightLayer& l = weight_layers.at(k);
    const std::vector<std::size_t>& groups = mapped.at(k);
    if (!l.conv) {
      MappedLayer& m = layers[groups.front()];
      const auto leading = x.sizes().vec();
      auto y = detail::simulate(m, x.reshape({-1, x.size(-1)}), calibrating, max_rows);
      m.layer.release_scratch();  // one layer's scratch at a time
      if (m.bias.defined()) y = y + m.bias;
      auto shape = leading;
      shape.back() = y.size(1);
      return y.view(shape);
    }
    const std::array<std::int64_t, 2> kernel = {l.weight.size(2), l.weight.size(3)};
    const auto group_in = x.size(1) / l.groups;
    std::vector<torch::Tensor> outputs;
    for (std::size_t g = 0; g < groups.size(); ++g)
      outputs.push_back(
          conv(layers[groups[g]], x.narrow(1, static_cast<std::int64_t>(g) * group_in, group_in), kernel,
               {l.stride[0], l.stride[1]}, {l.padding[0], l.padding[1]}, {l.dilation[0], l.dilation[1]}));
    return outputs.size() == 1 ? outputs.front() : torch::cat(outputs, 1);
  }

  torch::Tensor forward(torch::Tensor x) {
    torch::NoGradGuard no_grad;
    model->eval();
    return model->forward_with([this](std::size_t k, const torch::Tensor& in) { return weight_layer(k, in); },
                               std::move(x));
  }
};

HardwareModel::HardwareModel(nn::Classifier& model, const CrossbarConfig& config, std::uint64_t device_seed,
                             std::int64_t max_rows_per_mvm)
    : state_(std::make_unique<State>()) {
  ScopedRegion region("xbarsweep::crossbar::HardwareModel");
  XBARSWEEP_THROW_IF(max_rows_per_mvm < 1, CrossbarError,
                     "max_rows_per_mvm must be >= 1, got " << max_rows_per_mvm);
  config.validate();
  state_->model = &model;
  state_->max_rows = max_rows_per_mvm;
  model.eval();
  std::uint32_t k = 0;
  const auto add_layer = [&](const std::string& name, bool is_conv, const torch::Tensor& w,
                             const torch::Tensor& b) {
    const auto wm = w.detach().to(torch::kFloat).reshape({w.size(0), -1}).contiguous();
    MappedLayer m;
    m.name = name;
    m.conv = is_conv;
    if (b.defined()) m.bias = b.detach().to(torch::kFloat).clone();
    const auto started = std::chrono::steady_clock::now();
    m.layer = Layer(wm.data_ptr<float>(), static_cast<int>(wm.size(0)), static_cast<int>(wm.size(1)), config,
                    DeviceSeed{device_seed, k++});
    m.program_s = detail::seconds_since(started);
    if (config.drift != Drift::None) m.weight = wm;
    state_->layers.push_back(std::move(m));
    return state_->layers.size() - 1;
  };
  if (auto* script = dynamic_cast<nn::TorchScriptClassifierImpl*>(&model)) script->require_mappable();
  state_->weight_layers = model.weight_layers();
  for (const nn::WeightLayer& l : state_->weight_layers) {
    std::vector<std::size_t> groups;
    const std::int64_t out = l.weight.size(0) / l.groups;
    for (std::int64_t g = 0; g < l.groups; ++g) {
      const std::string name = l.groups == 1 ? l.module : l.module + "[group " + std::to_string(g) + "]";
      groups.push_back(add_layer(name, l.conv, l.weight.narrow(0, g * out, out),
                                 l.bias.defined() ? l.bias.narrow(0, g * out, out) : torch::Tensor()));
    }
    state_->mapped.push_back(std::move(groups));
  }
  XBARSWEEP_THROW_IF(state_->layers.empty(), CrossbarError,
                     "model " << model.name() << " has no Linear or Conv2d layer");
}

HardwareModel::~HardwareModel() = default;
HardwareModel::HardwareModel(HardwareModel&&) noexcept = default;
HardwareModel& HardwareModel::operator=(HardwareModel&&) noexcept = default;

void HardwareModel::calibrate(const at::Tensor& images) {
  ScopedRegion region("xbarsweep::crossbar::HardwareModel::calibrate");
  state_->calibrating = true;
  try {
    state_->forward(images);
  } catch (...) {
    state_->calibrating = false;
    throw;
  }
  state_->calibrating = false;
}

void HardwareModel::drift_to(double t) {
  ScopedRegion region("xbarsweep::crossbar::HardwareModel::drift_to");
  detail::drift_to(state_->layers, t);
}

at::Tensor HardwareModel::forward(const at::Tensor& images) {
  ScopedRegion region("xbarsweep::crossbar::HardwareModel::forward");
  return state_->forward(images);
}

std::vector<LayerMapping> HardwareModel::mappings() const { return detail::mappings_of(state_->layers); }

std::int64_t HardwareModel::crossbars() const { return detail::crossbars_of(state_->layers); }

std::vector<LayerProfile> HardwareModel::profile() const {
  std::vector<LayerProfile> out;
  for (const auto& m : state_->layers)
    out.push_back({m.name, m.program_s, m.unfold_s, m.simulate_s, m.rows, m.layer.allocated_tiles()});
  return out;
}

void HardwareModel::reset_profile() {
  for (auto& m : state_->layers) {
    m.unfold_s = m.simulate_s = 0;
    m.rows = 0;
  }
}

std::uint64_t device_sample_seed(std::uint64_t seed, int sample) {
  return hash_extend(splitmix64(seed ^ 0xC5055BA5ULL), static_cast<std::uint64_t>(sample));
}

std::vector<double> mean_accuracy_at_times(const HardwareEvaluation& r) {
  std::vector<double> out;
  for (const auto& at : r.accuracy_at_times) {
    double sum = 0.0;
    for (const double a : at) sum += a;
    out.push_back(at.empty() ? 0.0 : sum / static_cast<double>(at.size()));
  }
  return out;
}

void summarize_samples(HardwareEvaluation& r) {
  XBARSWEEP_THROW_IF(r.hw_accuracy.empty(), CrossbarError, "no hardware accuracy samples to summarize");
  double sum = 0.0;
  for (double a : r.hw_accuracy) sum += a;
  r.hw_accuracy_mean = sum / r.hw_accuracy.size();
  double ss = 0.0;
  for (double a : r.hw_accuracy) ss += (a - r.hw_accuracy_mean) * (a - r.hw_accuracy_mean);
  const auto [lo, hi] = std::minmax_element(r.hw_accuracy.begin(), r.hw_accuracy.end());
  r.hw_accuracy_min = *lo;
  // Identical samples (no random effect) give exactly 0, not the rounding residue of the mean.
  r.hw_accuracy_std =
      r.hw_accuracy.size() > 1 && *lo != *hi ? std::sqrt(ss / (r.hw_accuracy.size() - 1)) : 0.0;
  if (*lo == *hi) r.hw_accuracy_mean = *lo;
}

HardwareEvaluation evaluate_on_crossbars(nn::Classifier& model, const data::Split& test,
                                         const data::Split& calibration, const CrossbarConfig& config,
                                         const HardwareEvalOptions& o) {
  const auto started = std::chrono::steady_clock::now();
  XBARSWEEP_THROW_IF(o.samples < 1, CrossbarError, "crossbar_eval.samples must be >= 1, got " << o.samples);
  XBARSWEEP_THROW_IF(o.batch_size < 1, CrossbarError, "batch size must be >= 1, got " << o.batch_size);
  XBARSWEEP_THROW_IF(test.size() == 0, CrossbarError, "empty test split");
  const auto check = [&o] {
    if (o.check_cancelled) o.check_cancelled();
  };
  HardwareEvaluation r;
  r.accuracy = nn::evaluate(model, test, o.batch_size).accuracy;
  const std::int64_t n = test.size();
  const std::int64_t ncal = std::min(o.calibration_items, calibration.size());
  for (int s = 0; s < o.samples; ++s) {
    check();
    HardwareModel hw(model, config, device_sample_seed(o.seed, s), o.max_rows_per_mvm);
    if (ncal > 0) hw.calibrate(calibration.images.narrow(0, 0, ncal));
    detail::read_sample_over_time(r, config, hw, [&] {
      std::int64_t correct = 0;
      for (std::int64_t begin = 0; begin < n; begin += o.batch_size) {
        check();
        const auto m = std::min(o.batch_size, n - begin);
        const auto logits = hw.forward(test.images.narrow(0, begin, m));
        correct += logits.argmax(1).eq(test.labels.narrow(0, begin, m)).sum().item<std::int64_t>();
      }
      return static_cast<double>(correct) / static_cast<double>(n);
    });
    if (s == 0) r.mappings = hw.mappings();
  }
  summarize_samples(r);
  r.wall_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  return r;
}

}  // namespace xbarsweep::analog
