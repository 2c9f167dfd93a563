#pragma once
// Internal to src/crossbar: a torch layer's weight matrix programmed onto crossbars, and the
// simulated product of a batch of rows through it. Shared by the classifier bridge
// (model_eval.cpp) and the LSTM gate bridge (lstm_eval.cpp).
#include <torch/torch.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <string>
#include <utility>
#include <vector>

#include "xbarsweep/analog/model_eval.hpp"
#include "xbarsweep/crossbar/cost.hpp"
#include "xbarsweep/crossbar/layer.hpp"

namespace xbarsweep::analog::detail {

using namespace ::xbarsweep::crossbar;

using Layer = ProgrammedLayer<Kokkos::DefaultExecutionSpace>;

struct MappedLayer {
  std::string name;
  bool conv = false;
  torch::Tensor bias;    // undefined when none
  torch::Tensor weight;  // out x in as programmed, kept with drift on (drift_to reprograms from it)
  Layer layer;
  std::int64_t mvms = 1;   // per inference: conv output positions, LSTM time steps
  std::int64_t chunk = 0;  // rows per MVM call, fixed at the first call (scratch sized once)
  // Where the time goes (HardwareModel::profile).
  double program_s = 0, unfold_s = 0, simulate_s = 0;
  std::int64_t rows = 0;
};

// Seconds since \p start.
inline double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

inline constexpr bool kHostAccessible =
    Kokkos::SpaceAccessibility<Kokkos::HostSpace, Layer::memory_space>::accessible;
using HostConst =
    Kokkos::View<const float**, Kokkos::LayoutRight, Kokkos::HostSpace, Kokkos::MemoryUnmanaged>;
using HostOut = Kokkos::View<float**, Kokkos::LayoutRight, Kokkos::HostSpace, Kokkos::MemoryUnmanaged>;

// Host row-major x (n x in) as the layer's input: wrapped where the layer's memory is host
// accessible, else copied.
inline Layer::ConstMatrix layer_input(const float* x, std::int64_t n, std::int64_t in) {
  if constexpr (kHostAccessible) {
    return Layer::ConstMatrix(x, n, in);
  } else {
    Layer::Matrix d("xbarsweep::analog::model_input", n, in);
    Kokkos::deep_copy(d, HostConst(x, n, in));
    return d;
  }
}

inline void layer_mvm(Layer& layer, const float* x, float* y, std::int64_t n) {
  const std::int64_t in = layer.in_features(), out = layer.out_features();
  if constexpr (kHostAccessible) {
    layer.mvm(Layer::ConstMatrix(x, n, in), Layer::Matrix(y, n, out));
  } else {
    Layer::Matrix d("xbarsweep::analog::model_output", n, out);
    layer.mvm(layer_input(x, n, in), d);
    Kokkos::deep_copy(HostOut(y, n, out), d);
  }
}

// Y = simulated W X for X (rows x in, any float CPU tensor) in chunks of a fixed size. With
// \p calibrating, the layer first calibrates on at most \p max_rows of the rows, spread evenly
// (conv: over images and positions alike), so that the ranges see every kind of input.
inline void calibrate(MappedLayer& m, torch::Tensor x, std::int64_t max_rows) {
  x = x.to(torch::kFloat).contiguous();
  const std::int64_t rows = x.size(0);
  if (rows > max_rows)
    x = x.index_select(0, torch::linspace(0, rows - 1, max_rows).to(torch::kLong)).contiguous();
  m.layer.calibrate(layer_input(x.data_ptr<float>(), x.size(0), x.size(1)));
}

inline torch::Tensor simulate(MappedLayer& m, torch::Tensor x, bool calibrating, std::int64_t max_rows) {
  const auto started = std::chrono::steady_clock::now();
  x = x.to(torch::kFloat).contiguous();
  const std::int64_t rows = x.size(0), in = x.size(1), out = m.layer.out_features();
  if (calibrating) calibrate(m, x, max_rows);
  if (m.chunk == 0) m.chunk = std::max<std::int64_t>(1, std::min(rows, max_rows));
  torch::Tensor y = torch::empty({rows, out}, torch::kFloat);
  torch::Tensor xpad, ypad;
  for (std::int64_t begin = 0; begin < rows; begin += m.chunk) {
    const std::int64_t n = std::min(m.chunk, rows - begin);
    if (n == m.chunk) {
      layer_mvm(m.layer, x.data_ptr<float>() + begin * in, y.data_ptr<float>() + begin * out, n);
      continue;
    }
    // A short last chunk is zero-padded to the chunk size: the simulator keeps its scratch.
    if (!xpad.defined()) {
      xpad = torch::zeros({m.chunk, in}, torch::kFloat);
      ypad = torch::empty({m.chunk, out}, torch::kFloat);
    }
    xpad.narrow(0, 0, n).copy_(x.narrow(0, begin, n));
    xpad.narrow(0, n, m.chunk - n).zero_();
    layer_mvm(m.layer, xpad.data_ptr<float>(), ypad.data_ptr<float>(), m.chunk);
    y.narrow(0, begin, n).copy_(ypad.narrow(0, 0, n));
  }
  m.simulate_s += seconds_since(started);
  m.rows += rows;
  return y;
}

// The convolution's patches as a view of the padded input, (N, Ho, Wo, C, kh, kw), no copy:
// features in the order of weight.view(out, -1), rows in (image, output row, output column)
// order. Zero padding as F::unfold pads.
inline torch::Tensor patch_view(const torch::Tensor& x, std::array<std::int64_t, 2> k,
                                std::array<std::int64_t, 2> s, std::array<std::int64_t, 2> pad,
                                std::array<std::int64_t, 2> d, std::int64_t& ho, std::int64_t& wo) {
  const std::int64_t n = x.size(0), c = x.size(1);
  ho = (x.size(2) + 2 * pad[0] - d[0] * (k[0] - 1) - 1) / s[0] + 1;
  wo = (x.size(3) + 2 * pad[1] - d[1] * (k[1] - 1) - 1) / s[1] + 1;
  const torch::Tensor xp =
      (pad[0] > 0 || pad[1] > 0 ? torch::constant_pad_nd(x, {pad[1], pad[1], pad[0], pad[0]}, 0) : x)
          .contiguous();
  const auto st = xp.strides();
  return xp.as_strided({n, ho, wo, c, k[0], k[1]},
                       {st[0], st[2] * s[0], st[3] * s[1], st[1], st[2] * d[0], st[3] * d[1]});
}

// The rows calibrate() takes from a convolution's unfolded input: at most \p max_rows of them,
// spread evenly (conv: over images and positions alike, the rows torch::linspace picks),
// gathered from the padded input without unfolding the rest: the same rows, in the same order,
// as the unfolded matrix's index_select.
inline torch::Tensor calibration_patches(const torch::Tensor& x, std::array<std::int64_t, 2> k,
                                         std::array<std::int64_t, 2> s, std::array<std::int64_t, 2> pad,
                                         std::array<std::int64_t, 2> d, std::int64_t max_rows) {
  std::int64_t ho = 0, wo = 0;
  const torch::Tensor v = patch_view(x.to(torch::kFloat), k, s, pad, d, ho, wo);
  const std::int64_t rows = v.size(0) * ho * wo;
  const torch::Tensor picked = rows > max_rows ? torch::linspace(0, rows - 1, max_rows).to(torch::kLong)
                                               : torch::arange(rows, torch::kLong);
  const torch::Tensor image = picked.div(ho * wo, "floor"), pos = picked.remainder(ho * wo);
  return v.index({image, pos.div(wo, "floor"), pos.remainder(wo)})
      .reshape({picked.size(0), v.size(3) * k[0] * k[1]})
      .contiguous();
}

// The convolution of \p x (N x C x H x W) as simulated MVMs of its patches, read from the padded
// input by the layer's DAC and written straight into the output (N x out x Ho x Wo, no bias): no
// unfolded matrix, no permuted copy. Chunks as simulate() cuts them, so that every call, row and
// draw is the one simulate() makes on the unfolded rows.
inline torch::Tensor simulate_patches(MappedLayer& m, const torch::Tensor& x, std::array<std::int64_t, 2> k,
                                      std::array<std::int64_t, 2> s, std::array<std::int64_t, 2> pad,
                                      std::array<std::int64_t, 2> d, std::int64_t max_rows) {
  const auto started = std::chrono::steady_clock::now();
  torch::Tensor xp = x.to(torch::kFloat);
  if (pad[0] > 0 || pad[1] > 0) xp = torch::constant_pad_nd(xp, {pad[1], pad[1], pad[0], pad[0]}, 0);
  xp = xp.contiguous();
  ConvPatches p;
  p.images = static_cast<int>(xp.size(0));
  p.channels = static_cast<int>(xp.size(1));
  p.height = static_cast<int>(xp.size(2));
  p.width = static_cast<int>(xp.size(3));
  p.kernel_h = static_cast<int>(k[0]);
  p.kernel_w = static_cast<int>(k[1]);
  p.stride_h = static_cast<int>(s[0]);
  p.stride_w = static_cast<int>(s[1]);
  p.dilation_h = static_cast<int>(d[0]);
  p.dilation_w = static_cast<int>(d[1]);
  const std::int64_t ho = p.out_height(), wo = p.out_width();
  const std::int64_t rows = xp.size(0) * ho * wo;
  torch::Tensor y = torch::empty({xp.size(0), m.layer.out_features(), ho, wo}, torch::kFloat);
  if (m.chunk == 0) m.chunk = std::max<std::int64_t>(1, std::min(rows, max_rows));
  Layer::Matrix dx, dy;
  if constexpr (kHostAccessible) {
    p.x = xp.data_ptr<float>();
  } else {
    dx = Layer::Matrix("xbarsweep::analog::conv_input", 1, xp.numel());
    Kokkos::deep_copy(dx, HostConst(xp.data_ptr<float>(), 1, xp.numel()));
    p.x = dx.data();
    dy = Layer::Matrix("xbarsweep::analog::conv_output", 1, y.numel());
  }
  float* const out = kHostAccessible ? y.data_ptr<float>() : dy.data();
  for (std::int64_t begin = 0; begin < rows; begin += m.chunk) {
    p.first_row = begin;
    p.rows = static_cast<int>(m.chunk);  // a short last chunk reads zeros past the end
    m.layer.mvm(p, out);
  }
  if constexpr (!kHostAccessible) Kokkos::deep_copy(HostOut(y.data_ptr<float>(), 1, y.numel()), dy);
  m.simulate_s += seconds_since(started);
  m.rows += rows;
  return y;
}

// Reads every layer's devices \p t seconds after programming (crossbar.drift), after their
// calibration at programming: the ADC ranges stay, the conductances drift.
inline void drift_to(std::vector<MappedLayer>& layers, double t) {
  for (auto& m : layers)
    if (m.weight.defined()) m.layer.drift_to(m.weight.data_ptr<float>(), t);
}

// One device sample's reads: at config.t_inference into r.hw_accuracy, then the same programmed
// devices again at each of config.drift_times into r.accuracy_at_times (sized on the first
// sample). \p hw drifts (HardwareModel, HardwareLSTM), \p accuracy classifies the test set.
template <class Hardware, class Accuracy>
void read_sample_over_time(HardwareEvaluation& r, const CrossbarConfig& config, Hardware& hw,
                           Accuracy&& accuracy) {
  if (r.hw_accuracy.empty()) {
    r.times = config.drift_time_list();
    r.accuracy_at_times.assign(r.times.size(), {});
  }
  hw.drift_to(config.t_inference);
  r.hw_accuracy.push_back(accuracy());
  for (std::size_t k = 0; k < r.times.size(); ++k) {
    hw.drift_to(r.times[k]);
    r.accuracy_at_times[k].push_back(accuracy());
  }
}

// How \p m sits on crossbars, for the cost model.
inline LayerMapping mapping_of(const MappedLayer& m) {
  std::vector<std::pair<int, int>> tiles;
  for (const auto& t : m.layer.tiles()) tiles.emplace_back(t.row, t.col);
  return sparse_mapping(m.name, m.layer.out_features(), m.layer.in_features(), m.layer.config(), m.mvms,
                        tiles);
}

// Every layer's mapping, and their crossbars together.
inline std::vector<LayerMapping> mappings_of(const std::vector<MappedLayer>& layers) {
  std::vector<LayerMapping> out;
  for (const auto& m : layers) out.push_back(mapping_of(m));
  return out;
}

inline std::int64_t crossbars_of(const std::vector<MappedLayer>& layers) {
  std::int64_t n = 0;
  for (const auto& m : layers) n += m.layer.crossbars();
  return n;
}

}  // namespace xbarsweep::analog::detail
