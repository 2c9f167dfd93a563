// The LSTM bridge of the crossbar simulator: a CirculantLSTM run through its GateProduct hook,
// each gate matrix's product simulated on crossbars.
#include "xbarsweep/analog/lstm_eval.hpp"

#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <map>

#include "mapped_layer.hpp"
#include "xbarsweep/circulant/circulant_lstm.hpp"
#include "xbarsweep/error.hpp"

namespace xbarsweep::analog {

using namespace ::xbarsweep::crossbar;

namespace xc = xbarsweep::circulant;
using detail::Layer;
using detail::MappedLayer;

struct HardwareLSTM::State {
  xc::CirculantLSTMImpl* lstm = nullptr;
  std::int64_t max_rows = 16384;
  std::vector<MappedLayer> layers;
  std::vector<std::int64_t> rows_seen;  // rows through each matrix in the current forward
  std::map<const xc::GateMatrixImpl*, std::size_t> index;

  std::size_t lookup(const xc::GateMatrixImpl& m) const {
    const auto it = index.find(&m);
    XBARSWEEP_THROW_IF(it == index.end(), CrossbarError, "a gate matrix of the LSTM was not mapped");
    return it->second;
  }

  // Runs the LSTM with \p product; afterwards each matrix's mvms = its rows per sequence.
  at::Tensor run(const at::Tensor& x, const xc::GateProduct& product) {
    torch::NoGradGuard no_grad;
    lstm->eval();
    std::fill(rows_seen.begin(), rows_seen.end(), 0);
    auto out = std::get<0>(lstm->forward(x, product));
    const std::int64_t sequences = x.size(lstm->options.batch_first() ? 0 : 1);
    for (std::size_t k = 0; k < layers.size(); ++k) {
      if (rows_seen[k] > 0 && sequences > 0) layers[k].mvms = rows_seen[k] / sequences;
    }
    return out;
  }
};

HardwareLSTM::HardwareLSTM(xc::CirculantLSTMImpl& lstm, const CrossbarConfig& config,
                           std::uint64_t device_seed, std::int64_t max_rows_per_mvm)
    : state_(std::make_unique<State>()) {
  XBARSWEEP_THROW_IF(max_rows_per_mvm < 1, CrossbarError,
                     "max_rows_per_mvm must be >= 1, got " << max_rows_per_mvm);
  config.validate();
  state_->lstm = &lstm;
  state_->max_rows = max_rows_per_mvm;
  lstm.eval();
  torch::NoGradGuard no_grad;
  std::uint32_t k = 0;
  for (const auto& item : lstm.named_modules()) {
    const auto* g = dynamic_cast<const xc::GateMatrixImpl*>(item.value().get());
    if (g == nullptr) continue;
    const auto w = g->dense_weight().detach().to(torch::kFloat).contiguous();
    MappedLayer m;
    m.name = item.key();
    if (const auto b = g->dense_bias(); b.defined()) m.bias = b.detach().to(torch::kFloat).clone();
    m.layer = Layer(w.data_ptr<float>(), static_cast<int>(w.size(0)), static_cast<int>(w.size(1)), config,
                    DeviceSeed{device_seed, k++});
    if (config.drift != crossbar::Drift::None) m.weight = w;
    state_->index[g] = state_->layers.size();
    state_->layers.push_back(std::move(m));
  }
  XBARSWEEP_THROW_IF(state_->layers.empty(), CrossbarError, "the LSTM has no gate matrix");
  state_->rows_seen.assign(state_->layers.size(), 0);
}

HardwareLSTM::~HardwareLSTM() = default;
HardwareLSTM::HardwareLSTM(HardwareLSTM&&) noexcept = default;
HardwareLSTM& HardwareLSTM::operator=(HardwareLSTM&&) noexcept = default;

void HardwareLSTM::calibrate(const at::Tensor& x) {
  // A software pass that records what each matrix receives at every step, then one calibration
  // per matrix over all of it (the state-to-gates matrix sees r = 0 at the first step only).
  std::vector<std::vector<torch::Tensor>> seen(state_->layers.size());
  state_->run(x, [&](xc::GateMatrixImpl& m, const torch::Tensor& rows) {
    const auto k = state_->lookup(m);
    seen[k].push_back(rows.detach().to(torch::kFloat));
    state_->rows_seen[k] += rows.size(0);
    return m.forward(rows);
  });
  for (std::size_t k = 0; k < seen.size(); ++k) {
    if (!seen[k].empty()) detail::calibrate(state_->layers[k], torch::cat(seen[k], 0), state_->max_rows);
  }
}

void HardwareLSTM::drift_to(double t) { detail::drift_to(state_->layers, t); }

at::Tensor HardwareLSTM::forward(const at::Tensor& x) {
  return state_->run(x, [&](xc::GateMatrixImpl& m, const torch::Tensor& rows) {
    const auto k = state_->lookup(m);
    auto& layer = state_->layers[k];
    state_->rows_seen[k] += rows.size(0);
    auto y = detail::simulate(layer, rows, false, state_->max_rows);
    return layer.bias.defined() ? y + layer.bias : y;
  });
}

std::vector<LayerMapping> HardwareLSTM::mappings() const { return detail::mappings_of(state_->layers); }

std::int64_t HardwareLSTM::crossbars() const { return detail::crossbars_of(state_->layers); }

HardwareEvaluation evaluate_lstm_on_crossbars(xc::CirculantLSTMImpl& lstm, const SequenceHead& head,
                                              const data::Split& test, const data::Split& calibration,
                                              const CrossbarConfig& config, const HardwareEvalOptions& o) {
  const auto started = std::chrono::steady_clock::now();
  XBARSWEEP_THROW_IF(o.samples < 1, CrossbarError, "hardware samples must be >= 1, got " << o.samples);
  XBARSWEEP_THROW_IF(o.batch_size < 1, CrossbarError, "batch size must be >= 1, got " << o.batch_size);
  XBARSWEEP_THROW_IF(test.size() == 0, CrossbarError, "empty test split");
  const auto check = [&o] {
    if (o.check_cancelled) o.check_cancelled();
  };
  const auto accuracy_of = [&](const std::function<at::Tensor(const at::Tensor&)>& forward) {
    std::int64_t correct = 0;
    for (std::int64_t begin = 0; begin < test.size(); begin += o.batch_size) {
      check();
      const auto m = std::min(o.batch_size, test.size() - begin);
      const auto logits = head(forward(test.images.narrow(0, begin, m)));
      correct += logits.argmax(1).eq(test.labels.narrow(0, begin, m)).sum().item<std::int64_t>();
    }
    return static_cast<double>(correct) / static_cast<double>(test.size());
  };
  HardwareEvaluation r;
  {
    torch::NoGradGuard no_grad;
    lstm.eval();
    r.accuracy = accuracy_of([&](const at::Tensor& x) { return std::get<0>(lstm.forward(x)); });
  }
  const std::int64_t ncal = std::min(o.calibration_items, calibration.size());
  for (int s = 0; s < o.samples; ++s) {
    check();
    HardwareLSTM hw(lstm, config, device_sample_seed(o.seed, s), o.max_rows_per_mvm);
    if (ncal > 0) hw.calibrate(calibration.images.narrow(0, 0, ncal));
    detail::read_sample_over_time(
        r, config, hw, [&] { return accuracy_of([&](const at::Tensor& x) { return hw.forward(x); }); });
    if (s == 0) r.mappings = hw.mappings();
  }
  summarize_samples(r);
  r.wall_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  return r;
}

}  // namespace xbarsweep::analog
