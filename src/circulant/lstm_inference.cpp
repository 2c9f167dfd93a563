#include "xbarsweep/circulant/lstm_inference.hpp"

#include <torch/torch.h>

#include <cmath>
#include <optional>
#include <string>

#include "xbarsweep/circulant/circulant_lstm.hpp"
#include "xbarsweep/circulant/circulant_matrix.hpp"

namespace xbarsweep::circulant {

namespace Impl {

/// One GateMatrix frozen: either a CirculantMatrix over the gates' stacked defining vectors
/// (gate g's rows start at g * p * k) or a dense (gates*out, in) float matrix.
class FrozenGates {
 public:
  explicit FrozenGates(const GateMatrixImpl& g) : out_(g.out), gates_(g.gates), in_(g.in) {
    torch::NoGradGuard no_grad;
    if (g.block_size == 1) {
      dense_ = g.dense_weight().detach().to(torch::kFloat).contiguous();
    } else {
      std::vector<torch::Tensor> w;
      for (const auto& m : *g.circulant) w.push_back(m->as<CirculantLinear>()->weight.detach());
      auto stacked = torch::cat(w, 0).to(torch::kFloat).contiguous();  // (gates * p, q, k)
      stride_ = (g.out + g.block_size - 1) / g.block_size * g.block_size;
      engine_.emplace(BlockLayout::make(g.in, g.gates * stride_, g.block_size), stacked.data_ptr<float>());
    }
    if (g.has_bias) bias_ = g.dense_bias().detach().to(torch::kFloat).contiguous();
  }

  /// y (n, gates*out) = x (n, in) W^T (+ bias).
  void apply(const float* x, float* y, std::int64_t n) const {
    const auto rows = gates_ * out_;
    if (!engine_) {
      auto X = torch::from_blob(const_cast<float*>(x), {n, in_});
      auto Y = torch::from_blob(y, {n, rows});
      if (n == 1) {
        auto yv = Y.view({rows});
        torch::mv_out(yv, dense_, X.view({in_}));
      } else {
        torch::mm_out(Y, X, dense_.t());
      }
    } else if (stride_ == out_) {
      engine_->apply(x, y, n);
    } else {
      scratch_.resize(static_cast<std::size_t>(n * gates_ * stride_));
      engine_->apply(x, scratch_.data(), n);
      for (std::int64_t s = 0; s < n; ++s)
        for (std::int64_t g = 0; g < gates_; ++g)
          for (std::int64_t r = 0; r < out_; ++r)
            y[(s * gates_ + g) * out_ + r] =
                scratch_[static_cast<std::size_t>((s * gates_ + g) * stride_ + r)];
    }
    if (bias_.defined()) {
      const float* b = bias_.data_ptr<float>();
      for (std::int64_t s = 0; s < n; ++s)
        for (std::int64_t r = 0; r < rows; ++r) y[s * rows + r] += b[r];
    }
  }

 private:
  std::int64_t out_, gates_, in_, stride_ = 0;
  torch::Tensor dense_, bias_;
  std::optional<CirculantMatrix> engine_;
  mutable std::vector<float> scratch_;
};

struct LSTMInferenceCell {
  std::int64_t input = 0, hidden = 0, output = 0;
  bool peephole = false;
  std::unique_ptr<FrozenGates> w_x, w_h, w_proj;
  std::vector<float> peep_i, peep_f, peep_o;
};

}  // namespace Impl

namespace {
std::vector<float> to_vector(const torch::Tensor& t) {
  auto c = t.detach().to(torch::kFloat).contiguous();
  return std::vector<float>(c.data_ptr<float>(), c.data_ptr<float>() + c.numel());
}
inline float sigmoidf(float v) { return 1.0f / (1.0f + std::exp(-v)); }
}  // namespace

LSTMInference::LSTMInference(const CirculantLSTMImpl& lstm) {
  const auto& o = lstm.options;
  input_size_ = o.input_size();
  layers_ = o.num_layers();
  directions_ = o.bidirectional() ? 2 : 1;
  output_features_ = directions_ * o.output_size();
  for (std::int64_t l = 0; l < layers_; ++l) {
    for (std::int64_t d = 0; d < directions_; ++d) {
      auto c = lstm.cell(l, d);
      auto cell = std::make_unique<Impl::LSTMInferenceCell>();
      cell->input = c->input_size;
      cell->hidden = o.hidden_size();
      cell->output = o.output_size();
      cell->peephole = o.peephole();
      cell->w_x = std::make_unique<Impl::FrozenGates>(*c->w_x);
      cell->w_h = std::make_unique<Impl::FrozenGates>(*c->w_h);
      if (c->w_proj) cell->w_proj = std::make_unique<Impl::FrozenGates>(*c->w_proj);
      if (cell->peephole) {
        cell->peep_i = to_vector(c->peep_i);
        cell->peep_f = to_vector(c->peep_f);
        cell->peep_o = to_vector(c->peep_o);
      }
      cells_.push_back(std::move(cell));
    }
  }
}

LSTMInference::~LSTMInference() = default;
LSTMInference::LSTMInference(LSTMInference&&) noexcept = default;
LSTMInference& LSTMInference::operator=(LSTMInference&&) noexcept = default;

std::vector<float> LSTMInference::forward(const std::vector<float>& x, std::int64_t T, std::int64_t N) const {
  XBARSWEEP_THROW_IF(T <= 0 || N <= 0 || static_cast<std::int64_t>(x.size()) != T * N * input_size_,
                     CirculantError,
                     "LSTMInference::forward expects T * N * " + std::to_string(input_size_) + " values");
  std::vector<float> layer_in = x;
  std::int64_t in_features = input_size_;
  for (std::int64_t l = 0; l < layers_; ++l) {
    const std::int64_t out_features = directions_ * cells_[0]->output;
    std::vector<float> layer_out(static_cast<std::size_t>(T * N * out_features));
    for (std::int64_t d = 0; d < directions_; ++d) {
      const auto& cell = *cells_[static_cast<std::size_t>(l * directions_ + d)];
      const auto H = cell.hidden, R = cell.output;
      // Input contributions of every step at once (one batched product of T * N rows).
      std::vector<float> gx(static_cast<std::size_t>(T * N * 4 * H));
      cell.w_x->apply(layer_in.data(), gx.data(), T * N);
      std::vector<float> r(static_cast<std::size_t>(N * R), 0.0f), c(static_cast<std::size_t>(N * H), 0.0f);
      std::vector<float> gh(static_cast<std::size_t>(N * 4 * H)), m(static_cast<std::size_t>(N * H));
      for (std::int64_t s = 0; s < T; ++s) {
        const std::int64_t t = d == 1 ? T - 1 - s : s;
        cell.w_h->apply(r.data(), gh.data(), N);
        for (std::int64_t n = 0; n < N; ++n) {
          const float* a = gx.data() + (t * N + n) * 4 * H;
          const float* b = gh.data() + n * 4 * H;
          float* cn = c.data() + n * H;
          for (std::int64_t h = 0; h < H; ++h) {
            float i = a[h] + b[h], f = a[H + h] + b[H + h];
            const float g = a[2 * H + h] + b[2 * H + h];
            float o = a[3 * H + h] + b[3 * H + h];
            if (cell.peephole) {
              i += cell.peep_i[static_cast<std::size_t>(h)] * cn[h];
              f += cell.peep_f[static_cast<std::size_t>(h)] * cn[h];
            }
            cn[h] = sigmoidf(f) * cn[h] + sigmoidf(i) * std::tanh(g);
            if (cell.peephole) o += cell.peep_o[static_cast<std::size_t>(h)] * cn[h];
            m[static_cast<std::size_t>(n * H + h)] = sigmoidf(o) * std::tanh(cn[h]);
          }
        }
        if (cell.w_proj) {
          cell.w_proj->apply(m.data(), r.data(), N);
        } else {
          r = m;
        }
        for (std::int64_t n = 0; n < N; ++n)
          std::copy(r.begin() + n * R, r.begin() + (n + 1) * R,
                    layer_out.begin() + (t * N + n) * out_features + d * R);
      }
    }
    layer_in = std::move(layer_out);
    in_features = out_features;
  }
  (void)in_features;
  return layer_in;
}

}  // namespace xbarsweep::circulant
