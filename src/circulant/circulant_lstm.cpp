#include "xbarsweep/circulant/circulant_lstm.hpp"

#include <torch/torch.h>

#include <cmath>
#include <string>
#include <vector>

namespace xbarsweep::circulant {

// ---------------------------------------------------------------------------------------------
// GateMatrix

GateMatrixImpl::GateMatrixImpl(std::int64_t in_, std::int64_t out_, std::int64_t gates_,
                               std::int64_t block_size_, bool bias_)
    : in(in_), out(out_), gates(gates_), block_size(block_size_), has_bias(bias_) {
  XBARSWEEP_THROW_IF(in <= 0 || out <= 0 || gates <= 0, CirculantError, "gate matrix sizes must be positive");
  XBARSWEEP_THROW_IF(block_size <= 0, CirculantError,
                     "block size must be positive, got " + std::to_string(block_size));
  reset();
}

void GateMatrixImpl::reset() {
  if (block_size == 1) {
    dense =
        register_module("dense", torch::nn::Linear(torch::nn::LinearOptions(in, gates * out).bias(has_bias)));
  } else {
    circulant = register_module("circulant", torch::nn::ModuleList());
    for (std::int64_t g = 0; g < gates; ++g) {
      circulant->push_back(CirculantLinear(CirculantLinearOptions(in, out, block_size).bias(has_bias)));
    }
  }
}

torch::Tensor GateMatrixImpl::forward(const torch::Tensor& x) {
  if (dense) return dense->forward(x);
  std::vector<torch::Tensor> parts;
  for (const auto& m : *circulant) parts.push_back(m->as<CirculantLinear>()->forward(x));
  return torch::cat(parts, -1);
}

torch::Tensor GateMatrixImpl::dense_weight() const {
  if (dense) return dense->weight;
  std::vector<torch::Tensor> parts;
  for (const auto& m : *circulant) parts.push_back(m->as<CirculantLinear>()->dense_weight());
  return torch::cat(parts, 0);
}

torch::Tensor GateMatrixImpl::dense_bias() const {
  if (!has_bias) return {};
  if (dense) return dense->bias;
  std::vector<torch::Tensor> parts;
  for (const auto& m : *circulant) parts.push_back(m->as<CirculantLinear>()->bias);
  return torch::cat(parts, 0);
}

std::function<torch::Tensor(const torch::Tensor&)> GateMatrixImpl::bind(CirculantProduct how) {
  if (dense || how == CirculantProduct::fft) {
    return [this](const torch::Tensor& rows) { return forward(rows); };
  }
  auto weight_t = dense_weight().t();
  auto bias = dense_bias();
  return [weight_t, bias](const torch::Tensor& rows) {
    return bias.defined() ? torch::addmm(bias, rows, weight_t) : torch::mm(rows, weight_t);
  };
}

void GateMatrixImpl::load_dense(const torch::Tensor& weight, const torch::Tensor& bias) {
  XBARSWEEP_THROW_IF(
      weight.dim() != 2 || weight.size(0) != gates * out || weight.size(1) != in, CirculantError,
      "gate matrix expects a (" + std::to_string(gates * out) + ", " + std::to_string(in) + ") weight");
  torch::NoGradGuard no_grad;
  if (dense) {
    dense->weight.copy_(weight);
    if (has_bias) {
      if (bias.defined())
        dense->bias.copy_(bias);
      else
        dense->bias.zero_();
    }
    return;
  }
  for (std::int64_t g = 0; g < gates; ++g) {
    auto lin = (*circulant)[g]->as<CirculantLinear>();
    lin->load_dense(weight.narrow(0, g * out, out));
    if (has_bias) {
      if (bias.defined())
        lin->bias.copy_(bias.narrow(0, g * out, out));
      else
        lin->bias.zero_();
    }
  }
}

std::int64_t GateMatrixImpl::stored_parameters() const {
  std::int64_t n = 0;
  for (const auto& p : parameters()) n += p.numel();
  return n;
}

// ---------------------------------------------------------------------------------------------
// Fixed-point helpers

torch::Tensor quantize(const torch::Tensor& t, const FixedPointFormat& format) {
  const double scale = std::ldexp(1.0, format.fraction_bits);
  // torch::round rounds half to even; the scalar path rounds half away from zero. Ties are
  // measure-zero for real data and both are within half an LSB.
  auto raw = torch::round(t * scale).clamp(static_cast<double>(format.raw_min()),
                                           static_cast<double>(format.raw_max()));
  return raw / scale;
}

torch::Tensor apply_pwl(const torch::Tensor& t, const PiecewiseLinear& pwl) {
  auto opts = t.options();
  auto slopes = torch::tensor(pwl.slopes(), opts.dtype(torch::kDouble)).to(t.scalar_type());
  auto intercepts = torch::tensor(pwl.intercepts(), opts.dtype(torch::kDouble)).to(t.scalar_type());
  auto seg = torch::floor((t - pwl.lo()) / pwl.width()).clamp(0, pwl.segments() - 1).to(torch::kLong);
  auto y = slopes.index({seg}) * t + intercepts.index({seg});
  y = torch::where(t < pwl.lo(), torch::full_like(t, pwl.below()), y);
  y = torch::where(t >= pwl.hi(), torch::full_like(t, pwl.above()), y);
  return y;
}

// ---------------------------------------------------------------------------------------------
// Cell

CirculantLSTMCellImpl::CirculantLSTMCellImpl(const CirculantLSTMOptions& options_, std::int64_t input_size_)
    : options(options_), input_size(input_size_) {
  reset();
}

void CirculantLSTMCellImpl::reset() {
  const auto H = options.hidden_size();
  const auto R = options.output_size();
  w_x = register_module("w_x", GateMatrix(input_size, H, 4, options.input_block_size(), true));
  w_h = register_module("w_h", GateMatrix(R, H, 4, options.recurrent_block_size(), false));
  if (options.projection_size() > 0) {
    w_proj = register_module("w_proj", GateMatrix(H, R, 1, options.projection_block_size(), false));
  }
  if (options.peephole()) {
    peep_i = register_parameter("peep_i", torch::empty({H}));
    peep_f = register_parameter("peep_f", torch::empty({H}));
    peep_o = register_parameter("peep_o", torch::empty({H}));
  }
  // torch::nn::LSTM's initialisation: every weight U(-1/sqrt(H), 1/sqrt(H)).
  torch::NoGradGuard no_grad;
  const double bound = 1.0 / std::sqrt(static_cast<double>(H));
  for (auto& p : parameters()) p.uniform_(-bound, bound);
}

std::tuple<torch::Tensor, torch::Tensor, torch::Tensor> CirculantLSTMCellImpl::forward(
    const torch::Tensor& x, bool reverse, const GateProduct& product) {
  const auto T = x.size(0), N = x.size(1), H = options.hidden_size();
  using Bound = std::function<torch::Tensor(const torch::Tensor&)>;
  const auto bind = [&](GateMatrix& m) -> Bound {
    if (!m) return {};
    if (product) return [&product, &m](const torch::Tensor& rows) { return product(*m, rows); };
    return m->bind(options.product());
  };
  const Bound apply_h = bind(w_h), apply_proj = bind(w_proj);
  // All time steps of the input matrix at once: (T, N, 4H).
  auto gx = bind(w_x)(x.reshape({T * N, x.size(2)})).view({T, N, -1});
  auto r = torch::zeros({N, options.output_size()}, x.options());
  auto c = torch::zeros({N, H}, x.options());
  std::vector<torch::Tensor> outputs(static_cast<std::size_t>(T));
  for (std::int64_t s = 0; s < T; ++s) {
    const auto t = reverse ? T - 1 - s : s;
    auto g = (gx[t] + apply_h(r)).chunk(4, 1);
    auto i = g[0], f = g[1], cand = g[2], o = g[3];
    if (options.peephole()) {
      i = i + peep_i * c;
      f = f + peep_f * c;
    }
    c = torch::sigmoid(f) * c + torch::sigmoid(i) * torch::tanh(cand);
    if (options.peephole()) o = o + peep_o * c;
    auto m = torch::sigmoid(o) * torch::tanh(c);
    r = apply_proj ? apply_proj(m) : m;
    outputs[static_cast<std::size_t>(t)] = r;
  }
  return {torch::stack(outputs, 0), r, c};
}

torch::Tensor CirculantLSTMCellImpl::forward_fixed(const torch::Tensor& x, bool reverse,
                                                   const FixedPointEvaluation& fx) const {
  torch::NoGradGuard no_grad;
  const auto& fmt = fx.format;
  auto Q = [&](const torch::Tensor& t) { return quantize(t, fmt); };
  auto dbl = [](const torch::Tensor& t) { return t.detach().to(torch::kDouble); };
  // Quantizing the dense matrix quantizes each defining-vector element (entries repeat them).
  auto wx = Q(dbl(w_x->dense_weight())).t();
  auto bx = Q(dbl(w_x->dense_bias()));
  auto wh = Q(dbl(w_h->dense_weight())).t();
  torch::Tensor wp = w_proj ? Q(dbl(w_proj->dense_weight())).t() : torch::Tensor();
  torch::Tensor pi, pf, po;
  if (options.peephole()) {
    pi = Q(dbl(peep_i));
    pf = Q(dbl(peep_f));
    po = Q(dbl(peep_o));
  }
  const auto T = x.size(0), N = x.size(1), H = options.hidden_size();
  auto xs = Q(dbl(x));
  // Products of two values of the format are exact in double (<= 2*(total_bits) bits) and so
  // are their sums here; each result is rounded once, as a wide accumulator would.
  auto gx = Q(torch::matmul(xs, wx) + bx);
  auto r = torch::zeros({N, options.output_size()}, xs.options());
  auto c = torch::zeros({N, H}, xs.options());
  std::vector<torch::Tensor> outputs(static_cast<std::size_t>(T));
  auto sig = [&](const torch::Tensor& t) { return Q(apply_pwl(t, fx.sigmoid)); };
  auto th = [&](const torch::Tensor& t) { return Q(apply_pwl(t, fx.tanh)); };
  for (std::int64_t s = 0; s < T; ++s) {
    const auto t = reverse ? T - 1 - s : s;
    auto g = Q(gx[t] + torch::matmul(r, wh)).chunk(4, 1);
    auto i = g[0], f = g[1], cand = g[2], o = g[3];
    if (options.peephole()) {
      i = Q(i + pi * c);
      f = Q(f + pf * c);
    }
    c = Q(Q(sig(f) * c) + Q(sig(i) * th(cand)));
    if (options.peephole()) o = Q(o + po * c);
    auto m = Q(sig(o) * th(c));
    r = w_proj ? Q(torch::matmul(m, wp)) : m;
    outputs[static_cast<std::size_t>(t)] = r;
  }
  return torch::stack(outputs, 0);
}

// ---------------------------------------------------------------------------------------------
// LSTM

CirculantLSTMImpl::CirculantLSTMImpl(const CirculantLSTMOptions& options_) : options(options_) {
  const auto& o = options;
  XBARSWEEP_THROW_IF(o.input_size() <= 0 || o.hidden_size() <= 0 || o.num_layers() <= 0, CirculantError,
                     "input_size, hidden_size and num_layers must be positive");
  XBARSWEEP_THROW_IF(o.projection_size() < 0, CirculantError, "projection_size must be >= 0");
  XBARSWEEP_THROW_IF(
      o.input_block_size() <= 0 || o.recurrent_block_size() <= 0 || o.projection_block_size() <= 0,
      CirculantError, "block sizes must be positive (1 = dense)");
  reset();
}

void CirculantLSTMImpl::reset() {
  cells = register_module("cells", torch::nn::ModuleList());
  const std::int64_t D = options.bidirectional() ? 2 : 1;
  for (std::int64_t l = 0; l < options.num_layers(); ++l) {
    const auto in = l == 0 ? options.input_size() : D * options.output_size();
    for (std::int64_t d = 0; d < D; ++d) cells->push_back(CirculantLSTMCell(options, in));
  }
}

CirculantLSTMCell CirculantLSTMImpl::cell(std::int64_t layer, std::int64_t direction) const {
  const std::int64_t D = options.bidirectional() ? 2 : 1;
  XBARSWEEP_THROW_IF(
      layer < 0 || layer >= options.num_layers() || direction < 0 || direction >= D, CirculantError,
      "no cell at layer " + std::to_string(layer) + ", direction " + std::to_string(direction));
  return CirculantLSTMCell(
      std::dynamic_pointer_cast<CirculantLSTMCellImpl>(cells->ptr(layer * D + direction)));
}

std::tuple<torch::Tensor, std::tuple<torch::Tensor, torch::Tensor>> CirculantLSTMImpl::forward(
    const torch::Tensor& input, const GateProduct& product) {
  XBARSWEEP_THROW_IF(
      input.dim() != 3 || input.size(2) != options.input_size(), CirculantError,
      "CirculantLSTM expects a 3-D input with " + std::to_string(options.input_size()) + " features");
  auto x = options.batch_first() ? input.transpose(0, 1) : input;
  const std::int64_t D = options.bidirectional() ? 2 : 1;
  std::vector<torch::Tensor> h_n, c_n;
  for (std::int64_t l = 0; l < options.num_layers(); ++l) {
    std::vector<torch::Tensor> outs;
    for (std::int64_t d = 0; d < D; ++d) {
      auto [out, h, c] = cell(l, d)->forward(x, d == 1, product);
      outs.push_back(out);
      h_n.push_back(h);
      c_n.push_back(c);
    }
    x = D == 1 ? outs[0] : torch::cat(outs, 2);
  }
  if (options.batch_first()) x = x.transpose(0, 1);
  return {x, {torch::stack(h_n, 0), torch::stack(c_n, 0)}};
}

torch::Tensor CirculantLSTMImpl::forward_fixed(const torch::Tensor& input,
                                               const FixedPointEvaluation& fx) const {
  XBARSWEEP_THROW_IF(
      input.dim() != 3 || input.size(2) != options.input_size(), CirculantError,
      "CirculantLSTM expects a 3-D input with " + std::to_string(options.input_size()) + " features");
  auto x = options.batch_first() ? input.transpose(0, 1) : input;
  const std::int64_t D = options.bidirectional() ? 2 : 1;
  for (std::int64_t l = 0; l < options.num_layers(); ++l) {
    std::vector<torch::Tensor> outs;
    for (std::int64_t d = 0; d < D; ++d) outs.push_back(cell(l, d)->forward_fixed(x, d == 1, fx));
    x = D == 1 ? outs[0] : torch::cat(outs, 2);
  }
  if (options.batch_first()) x = x.transpose(0, 1);
  return x.to(input.scalar_type());
}

void CirculantLSTMImpl::load_from_torch(const torch::nn::LSTM& lstm) {
  const auto& t = lstm->options;
  XBARSWEEP_THROW_IF(
      t.input_size() != options.input_size() || t.hidden_size() != options.hidden_size() ||
          t.num_layers() != options.num_layers() || t.bidirectional() != options.bidirectional() ||
          t.proj_size() != options.projection_size() || t.batch_first() != options.batch_first(),
      CirculantError,
      "torch::nn::LSTM and CirculantLSTM options differ (sizes, layers, direction, projection, "
      "batch_first)");
  torch::NoGradGuard no_grad;
  auto params = lstm->named_parameters();
  const std::int64_t D = options.bidirectional() ? 2 : 1;
  for (std::int64_t l = 0; l < options.num_layers(); ++l) {
    for (std::int64_t d = 0; d < D; ++d) {
      const std::string sfx = "_l" + std::to_string(l) + (d == 1 ? "_reverse" : "");
      auto c = cell(l, d);
      torch::Tensor b = t.bias() ? params["bias_ih" + sfx] + params["bias_hh" + sfx] : torch::Tensor();
      c->w_x->load_dense(params["weight_ih" + sfx], b);
      c->w_h->load_dense(params["weight_hh" + sfx], torch::Tensor());
      if (c->w_proj) c->w_proj->load_dense(params["weight_hr" + sfx], torch::Tensor());
      if (options.peephole()) {
        c->peep_i.zero_();
        c->peep_f.zero_();
        c->peep_o.zero_();
      }
    }
  }
}

void CirculantLSTMImpl::load_from(const CirculantLSTMImpl& other) {
  const auto& o = other.options;
  XBARSWEEP_THROW_IF(
      o.input_size() != options.input_size() || o.hidden_size() != options.hidden_size() ||
          o.num_layers() != options.num_layers() || o.bidirectional() != options.bidirectional() ||
          o.projection_size() != options.projection_size() || o.peephole() != options.peephole(),
      CirculantError,
      "CirculantLSTM::load_from: the two LSTMs differ (sizes, layers, direction, projection, "
      "peepholes)");
  torch::NoGradGuard no_grad;
  const std::int64_t D = options.bidirectional() ? 2 : 1;
  for (std::int64_t l = 0; l < options.num_layers(); ++l) {
    for (std::int64_t d = 0; d < D; ++d) {
      auto from = other.cell(l, d), to = cell(l, d);
      to->w_x->load_dense(from->w_x->dense_weight(), from->w_x->dense_bias());
      to->w_h->load_dense(from->w_h->dense_weight(), from->w_h->dense_bias());
      if (to->w_proj) to->w_proj->load_dense(from->w_proj->dense_weight(), from->w_proj->dense_bias());
      if (options.peephole()) {
        to->peep_i.copy_(from->peep_i);
        to->peep_f.copy_(from->peep_f);
        to->peep_o.copy_(from->peep_o);
      }
    }
  }
}

std::int64_t CirculantLSTMImpl::stored_parameters() const {
  std::int64_t n = 0;
  for (const auto& p : parameters()) n += p.numel();
  return n;
}

std::int64_t CirculantLSTMImpl::dense_parameters() const {
  std::int64_t n = 0;
  for (const auto& m : *cells) {
    auto c = std::dynamic_pointer_cast<CirculantLSTMCellImpl>(m);
    for (const auto& g : {c->w_x, c->w_h, c->w_proj}) {
      if (!g) continue;
      n += g->gates * g->out * g->in + (g->has_bias ? g->gates * g->out : 0);
    }
    if (options.peephole()) n += 3 * options.hidden_size();
  }
  return n;
}

}  // namespace xbarsweep::circulant
