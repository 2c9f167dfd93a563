// Kind `clstm`: paper B (C-LSTM, Wang et al., FPGA 2018). Trains an LSTM whose gate matrices are
// block-circulant (k > 1) or dense (k = 1) on sequential Fashion-MNIST (28 steps of one 28-pixel
// row), with a linear classifier on the final state of each direction of the top layer, then
// measures: float test accuracy, the same model in emulated 16-bit fixed point with PWL
// activations, storage, operation counts, and inference time per sequence against the dense LSTM
// of the same shape, both timed in this run. See docs/circulant.md, "The clstm kind".
#include <ATen/CPUGeneratorImpl.h>
#include <ATen/Parallel.h>
#include <torch/nn/modules/linear.h>
#include <torch/types.h>
#include <torch/utils.h>

#include <Kokkos_Core.hpp>
#include <algorithm>
#include <chrono>
#include <cmath>
#include <vector>

#include "classifier_params.hpp"
#include "resumable.hpp"
#include "xbarsweep/analog/lstm_eval.hpp"
#include "xbarsweep/circulant/block_layout.hpp"
#include "xbarsweep/circulant/circulant_lstm.hpp"
#include "xbarsweep/circulant/fixed_point.hpp"
#include "xbarsweep/circulant/lstm_inference.hpp"
#include "xbarsweep/config/section.hpp"
#include "xbarsweep/crossbar/config.hpp"
#include "xbarsweep/crossbar/cost.hpp"
#include "xbarsweep/error.hpp"
#include "xbarsweep/kinds/builtin.hpp"
#include "xbarsweep/nn/models.hpp"
#include "xbarsweep/nn/sequence_classifier.hpp"

namespace xbarsweep::kinds {
namespace {

namespace xc = circulant;
using nn::SequenceClassifier;
using nn::SequenceClassifierImpl;

constexpr std::int64_t kSteps = 28;     // rows of a Fashion-MNIST image
constexpr std::int64_t kFeatures = 28;  // pixels per row

const std::vector<std::string>& variant_names() {
  static const std::vector<std::string> names = {"vanilla", "peephole", "projection", "google",
                                                 "bidirectional"};
  return names;
}

// A block size read from `path`: one of 1, 2, 4, 8, 16, 32, or (when `inherit` > 0) 0 for
// `inherit`, the value of clstm.block_size.
bool valid_block_size(std::int64_t k) { return k >= 1 && k <= 32 && (k & (k - 1)) == 0; }

std::int64_t block_size_at(const config::Params& p, const std::string& path, std::int64_t inherit = 0) {
  const auto k = p.integer(path);
  if (k == 0 && inherit > 0) return inherit;
  XBARSWEEP_THROW_IF(!valid_block_size(k), CirculantError,
                     path << ": got " << k << "; expected one of 1, 2, 4, 8, 16, 32");
  return k;
}

// A block size is a power of two up to 32 (FFT lengths the engine plans); 0 inherits
// clstm.block_size where \p inherits.
config::Check block_size_check(const std::string& path, bool inherits) {
  return {{path}, [path, inherits](const config::Params& p) -> std::optional<config::Problem> {
            const auto k = p.integer(path);
            if (valid_block_size(k) || (inherits && k == 0)) return std::nullopt;
            return config::Problem{path, "is " + std::to_string(k) + "; expected one of 1, 2, 4, 8, 16, 32" +
                                             (inherits ? std::string(" (or 0: clstm.block_size)") : "")};
          }};
}

// The `clstm.` parameters of a point.
struct ClstmParams {
  std::int64_t block_size = 8;
  std::int64_t input_block_size = 0;
  std::int64_t recurrent_block_size = 0;
  std::string variant = "vanilla";
  std::int64_t hidden = 128;
  std::int64_t projection = 64;
  std::int64_t layers = 1;
  std::int64_t int_bits = 5;
  std::int64_t frac_bits = 10;
  std::int64_t pwl_segments = 20;
  std::int64_t timing_sequences = 25;
  std::string train_product = "expanded";
  std::string init = "random";
  std::int64_t admm_iterations = 6;
  double admm_rho = 0.05;
  double admm_rho_growth = 1.5;
  std::int64_t finetune_epochs = 2;
  double finetune_lr = 1e-3;
  double distill = 0.0;
  double distill_temperature = 4.0;
  std::int64_t hw_samples = 0;
  std::int64_t hw_test_items = 1000;
  std::int64_t hw_calibration_items = 200;
};

// The one declaration of the `clstm.` section.
const config::Section<ClstmParams>& clstm_section() {
  using S = ClstmParams;
  static const config::Section<S> section =
      config::Section<S>("clstm")
          .add("block_size", &S::block_size,
               "k of every gate matrix, one of 1, 2, 4, 8, 16, 32: k x k circulant blocks (1 = dense); "
               "clstm.input_block_size and clstm.recurrent_block_size override it per matrix",
               {1.0, 32.0})
          .add("input_block_size", &S::input_block_size,
               "k of the input-to-gates matrices alone (0 = clstm.block_size; 1 = dense)", {0.0, 32.0})
          .add("recurrent_block_size", &S::recurrent_block_size,
               "k of the state-to-gates matrices alone (0 = clstm.block_size; 1 = dense)", {0.0, 32.0})
          .add("variant", &S::variant,
               "vanilla, peephole, projection (recurrent projection layer), google (peepholes + projection, "
               "C-LSTM's TIMIT model) or bidirectional")
          .choices(variant_names())
          .add("hidden", &S::hidden, "LSTM cells per direction", {1.0, 8192.0})
          .add("projection", &S::projection, "projection size, for the projection and google variants",
               {1.0, 8192.0})
          .add("layers", &S::layers, "stacked LSTM layers", {1.0, 8.0})
          .add("int_bits", &S::int_bits, "fixed-point integer bits (plus one sign bit)", {0.0, 30.0})
          .add("frac_bits", &S::frac_bits, "fixed-point fraction bits; 1 + int_bits + frac_bits <= 32",
               {0.0, 30.0})
          .add("pwl_segments", &S::pwl_segments,
               "segments of the piecewise-linear sigmoid and tanh on [-5, 5]", {1.0, 4096.0})
          .add("timing_sequences", &S::timing_sequences,
               "test sequences timed at batch 1 (medians over them)", {1.0, 10000.0})
          .add("train_product", &S::train_product,
               "how training multiplies block-circulant matrices: expanded builds each dense matrix once per "
               "batch and reuses it at every time step (faster while it fits in memory); fft multiplies by "
               "rfft/irfft at every step. Same model either way")
          .choices({"expanded", "fft"})
          .add("init", &S::init,
               "random: train from a random initialisation for train.epochs; projected: train the dense LSTM "
               "(k = 1, same train.*; once per sweep, cached), project every gate matrix onto "
               "block-circulant structure, fine-tune for clstm.finetune_epochs; admm (E-RNN): the same, with "
               "clstm.admm_iterations epochs of ADMM pulling the dense gate matrices towards block-circulant "
               "ones before the projection")
          .choices({"random", "projected", "admm"})
          .add("admm_iterations", &S::admm_iterations,
               "init admm: ADMM iterations, one epoch each (W-step at clstm.finetune_lr, then the Z "
               "projection and the U update)",
               {1.0, 100000.0})
          .add("admm_rho", &S::admm_rho,
               "init admm: initial penalty rho (rho/2 ||W - Z + U||^2 per gate matrix)",
               config::Range::above_to(0.0, 1e6))
          .add("admm_rho_growth", &S::admm_rho_growth,
               "init admm: rho is multiplied by this after each iteration", {1.0, 100.0})
          .add("finetune_epochs", &S::finetune_epochs,
               "init projected or admm: epochs of fine-tuning after the projection", {0.0, 100000.0})
          .add("finetune_lr", &S::finetune_lr,
               "init projected or admm: learning rate of the fine-tuning and of the ADMM W-steps "
               "(train.schedule applies)",
               config::Range::above_to(0.0, 100.0))
          .add("distill", &S::distill,
               "weight alpha of knowledge distillation from the dense LSTM of these settings (k = 1, same "
               "train.*; trained once per sweep and cached, as for init projected): the training loss is (1 "
               "- alpha) cross-entropy + alpha T^2 KL(teacher || model) at temperature "
               "clstm.distill_temperature; 0 = plain cross-entropy",
               {0.0, 1.0})
          .add("distill_temperature", &S::distill_temperature,
               "temperature T of the distillation's softened distributions", {1e-3, 1000.0})
          .add("hw_samples", &S::hw_samples,
               "Monte Carlo device samples with the gate matrices on crossbars (crossbar.*; the head stays "
               "digital); 0 = no hardware evaluation",
               {0.0, 100000.0})
          .add("hw_test_items", &S::hw_test_items,
               "test sequences classified by each device sample (the first N); 0 = the whole test split",
               {0.0, 1.0e7})
          .add("hw_calibration_items", &S::hw_calibration_items,
               "training sequences whose float activations calibrate each gate matrix's DAC and ADC",
               {1.0, 1.0e6});
  return section;
}

xc::CirculantLSTMOptions lstm_options(const config::Params& p) {
  const ClstmParams cfg = clstm_section().read(p);
  const auto k = block_size_at(p, "clstm.block_size");
  const auto variant = cfg.variant;
  auto o = xc::CirculantLSTMOptions(kFeatures, cfg.hidden).num_layers(cfg.layers).batch_first(true);
  o.block_size(k);
  o.input_block_size(block_size_at(p, "clstm.input_block_size", k));
  o.recurrent_block_size(block_size_at(p, "clstm.recurrent_block_size", k));
  const auto projection = cfg.projection;
  if (variant == "peephole") {
    o.peephole(true);
  } else if (variant == "projection") {
    o.projection_size(projection);
  } else if (variant == "google") {
    o.google(projection);
  } else if (variant == "bidirectional") {
    o.bidirectional(true);
  } else {
    XBARSWEEP_THROW_IF(variant != "vanilla", InternalError,
                       "clstm.variant: unknown variant '" << variant << "'");
  }
  o.product(cfg.train_product == "fft" ? xc::CirculantProduct::fft : xc::CirculantProduct::expanded);
  return o;
}

// Whether any gate matrix of these options is block-circulant.
bool any_circulant(const xc::CirculantLSTMOptions& o) {
  return o.input_block_size() > 1 || o.recurrent_block_size() > 1 ||
         (o.projection_size() > 0 && o.projection_block_size() > 1);
}

// The same LSTM with every gate matrix dense: the dense-equivalent weights of `lstm`, so both
// compute the same function and differ only in how the products run.
xc::CirculantLSTM dense_twin(const xc::CirculantLSTMImpl& lstm) {
  auto options = lstm.options;
  options.block_size(1);
  xc::CirculantLSTM dense(options);
  dense->load_from(lstm);
  return dense;
}

// Real flops of the gate-matrix products of one sequence (elementwise work excluded: the same
// for dense and circulant): per step, every gate of every matrix of every cell, T steps.
struct FlopCounts {
  double dense = 0.0, circulant = 0.0;
};
FlopCounts flops_per_sequence(const xc::CirculantLSTMImpl& lstm, std::int64_t steps) {
  FlopCounts f;
  for (const auto& m : *lstm.cells) {
    const auto& cell = *m->as<xc::CirculantLSTMCellImpl>();
    for (const auto* g : {cell.w_x.get(), cell.w_h.get(), cell.w_proj ? cell.w_proj.get() : nullptr}) {
      if (g == nullptr) continue;
      const auto layout = xc::BlockLayout::make(g->in, g->out, g->block_size);
      const double gates = static_cast<double>(g->gates);
      f.dense += gates * layout.dense_flops();
      // k = 1 runs as a dense matvec; k > 1 on the FFT engine (BlockLayout's count per gate).
      f.circulant += gates * (g->block_size == 1 ? layout.dense_flops() : layout.circulant_flops());
    }
  }
  f.dense *= static_cast<double>(steps);
  f.circulant *= static_cast<double>(steps);
  return f;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const auto n = v.size();
  return n % 2 == 1 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

struct Timings {
  double dense_us = 0.0, circulant_us = 0.0, speedup = 0.0;
};

// Batch-1 inference time per sequence on LSTMInference, the dense twin (torch::mv) against the
// model (FFT engine), interleaved on the same sequences; medians, and the median of the per-
// sequence ratios (the machines here drift 10-35% within minutes).
Timings time_inference(const xc::CirculantLSTMImpl& lstm, const data::Split& test, std::int64_t sequences,
                       const PointContext& context) {
  const auto dense_lstm = dense_twin(lstm);
  const xc::LSTMInference dense(*dense_lstm), circ(lstm);
  const auto n = std::min<std::int64_t>(sequences, test.size());
  using clock = std::chrono::steady_clock;
  const auto time_one = [](const xc::LSTMInference& engine, const std::vector<float>& x) {
    const auto t0 = clock::now();
    const auto y = engine.forward(x, kSteps, 1);
    const auto t1 = clock::now();
    if (y.empty()) throw InternalError("clstm: empty inference output");
    return std::chrono::duration<double, std::micro>(t1 - t0).count();
  };
  std::vector<double> d, c, ratio;
  for (std::int64_t i = -2; i < n; ++i) {  // two warm-up sequences (plans, caches)
    context.check_cancelled();
    const auto image = test.images[std::max<std::int64_t>(i, 0)].contiguous();
    const std::vector<float> x(image.data_ptr<float>(), image.data_ptr<float>() + image.numel());
    // Alternate which goes first so that neither always runs on a warmer cache.
    double td, tc;
    if (i % 2 == 0) {
      td = time_one(dense, x);
      tc = time_one(circ, x);
    } else {
      tc = time_one(circ, x);
      td = time_one(dense, x);
    }
    if (i < 0) continue;
    d.push_back(td);
    c.push_back(tc);
    ratio.push_back(td / tc);
  }
  return {median(d), median(c), median(ratio)};
}

// What a clstm checkpoint is the state of (key "clstm.stage").
constexpr int kStageTrain = 0;  // the one train_model of the point (from scratch, or fine-tuning)
constexpr int kStageAdmm = 1;   // init admm's iterations on the dense LSTM

// E-RNN's ADMM on a trained dense LSTM classifier: minimise the loss subject to every gate
// matrix being block-circulant with the k x k blocks the same matrix of `target` has (each gate
// separately, as GateMatrix lays them out; matrices dense in `target` stay free). One epoch per
// iteration: a W-step on loss + rho/2 ||W - Z + U||^2 (the penalty's gradient added after
// backward), then Z = Proj(W + U), U += W - Z, rho *= growth. Returns the relative residual
// ||W - Z||_F / ||W||_F over all gate matrices after each iteration.
std::vector<double> admm_towards_circulant(SequenceClassifierImpl& dense, const xc::CirculantLSTMImpl& target,
                                           const config::Params& p, const data::Dataset& ds,
                                           std::uint64_t seed, const nn::TrainHooks& base,
                                           Resumable& resumable) {
  const ClstmParams cfg = clstm_section().read(p);
  const auto target_modules = target.named_modules();
  struct Pair {
    torch::Tensor weight;  // the dense (gates*out) x in matrix being trained
    std::int64_t gates, out;
    xc::BlockLayout layout;
    torch::Tensor z, u;
  };
  std::vector<Pair> pairs;
  for (const auto& item : dense.lstm->named_modules()) {
    const auto* g = dynamic_cast<const xc::GateMatrixImpl*>(item.value().get());
    if (g == nullptr) continue;
    if (!g->dense) throw InternalError("clstm: ADMM expects the dense LSTM");
    // Both LSTMs register their gate matrices under the same names.
    const auto* twin = target_modules.find(item.key());
    const auto* t = twin ? dynamic_cast<const xc::GateMatrixImpl*>(twin->get()) : nullptr;
    if (t == nullptr) throw InternalError("clstm: no gate matrix " + item.key() + " in the circulant LSTM");
    const auto k = t->block_size;
    if (k == 1) continue;  // stays dense
    pairs.push_back({g->dense->weight, g->gates, g->out, xc::BlockLayout::make(g->in, g->out, k), {}, {}});
  }
  const auto project = [](const Pair& q, const torch::Tensor& w) {
    std::vector<torch::Tensor> parts;
    for (std::int64_t g = 0; g < q.gates; ++g) {
      parts.push_back(xc::project_block_circulant_dense(w.narrow(0, g * q.out, q.out), q.layout));
    }
    return torch::cat(parts, 0);
  };
  {
    torch::NoGradGuard no_grad;
    for (auto& q : pairs) {
      q.z = project(q, q.weight.detach());
      q.u = torch::zeros_like(q.z);
    }
  }
  double rho = cfg.admm_rho;
  const double growth = cfg.admm_rho_growth;
  std::vector<double> residuals;
  // Checkpoints hold Z, U, rho and the residuals beside the training state (stage "admm").
  const nn::TensorState* saved = resumable.saved();
  if (saved != nullptr && nn::state_int(*saved, "clstm.stage", resumable.origin()) != kStageAdmm)
    saved = nullptr;
  if (saved != nullptr) {
    const auto& origin = resumable.origin();
    for (std::size_t i = 0; i < pairs.size(); ++i) {
      pairs[i].z = nn::state_tensor(*saved, "clstm.admm." + std::to_string(i) + ".z", origin).clone();
      pairs[i].u = nn::state_tensor(*saved, "clstm.admm." + std::to_string(i) + ".u", origin).clone();
    }
    rho = nn::state_double(*saved, "clstm.admm.rho", origin);
    residuals = nn::state_vector(*saved, "clstm.admm.residuals", origin);
  }
  nn::TrainHooks hooks = base;
  hooks.boundary = resumable.boundary([&](nn::TensorState& o) {
    o["clstm.stage"] = nn::state_value(static_cast<double>(kStageAdmm));
    for (std::size_t i = 0; i < pairs.size(); ++i) {
      o["clstm.admm." + std::to_string(i) + ".z"] = pairs[i].z;
      o["clstm.admm." + std::to_string(i) + ".u"] = pairs[i].u;
    }
    o["clstm.admm.rho"] = nn::state_value(rho);
    o["clstm.admm.residuals"] = nn::state_value(residuals);
  });
  hooks.before_step = [&](std::int64_t) {
    torch::NoGradGuard no_grad;
    for (auto& q : pairs) q.weight.mutable_grad().add_(q.weight.detach() - q.z + q.u, rho);
  };
  hooks.after_epoch = [&](std::int64_t) {
    torch::NoGradGuard no_grad;
    double num = 0.0, den = 0.0;
    for (auto& q : pairs) {
      const auto w = q.weight.detach();
      q.z = project(q, w + q.u);
      q.u += w - q.z;
      num += (w - q.z).pow(2).sum().item<double>();
      den += w.pow(2).sum().item<double>();
    }
    residuals.push_back(std::sqrt(num / std::max(den, 1e-30)));
    rho *= growth;
  };
  auto options = train_options(p, seed);
  options.epochs = cfg.admm_iterations;
  options.optimizer.lr = cfg.finetune_lr;
  options.evaluate_each_epoch = false;
  options.validation_items = 0;  // ADMM iterations move towards a structure, not to a best epoch
  if (saved != nullptr) {
    options.resume = saved;
    options.resume_origin = resumable.origin();
  }
  nn::train_model(dense, ds.train, ds.test, options, hooks);
  return residuals;
}

// What determines the dense LSTM that init projected starts from: the random-init k = 1 point
// of the same settings.
config::Params dense_key(const config::Params& p) {
  return p.only([](const std::string& path) {
    return path == "seed" || path.rfind("data.", 0) == 0 || path.rfind("train.", 0) == 0 ||
           path == "clstm.variant" || path == "clstm.hidden" || path == "clstm.projection" ||
           path == "clstm.layers";
  });
}

// Sequences: data_options() also reads model.name and data.pad, which do not apply (no
// padding: a padded image would be 32 steps of 32 features).
data::LoadOptions sequence_data_options(const config::Params& p) {
  config::Params q = p;
  q.set("model.name", std::string("lstm"));
  q.set("data.pad", false);
  auto o = data_options(q);
  o.sequence = true;
  return o;
}

// The train section's defaults for an LSTM: Adam at 2e-3 trains it in a few epochs where SGD at
// 0.05 barely moves.
nn::TrainOptions lstm_train_defaults() {
  nn::TrainOptions o;
  o.optimizer.name = "adam";
  o.optimizer.lr = 2e-3;
  o.batch_size = 128;
  o.epochs = 3;
  return o;
}

class ClstmKind final : public Kind {
 public:
  std::string name() const override { return "clstm"; }
  std::string summary() const override {
    return "block-circulant LSTM (C-LSTM) on sequential Fashion-MNIST: float and 16-bit fixed-point "
           "accuracy, compression, dense vs FFT inference time";
  }

  config::Schema schema() const override {
    config::Schema s = clstm_section().schema();
    s.merge(crossbar::crossbar_schema());
    s.merge(crossbar::cost_schema());
    // The train section with defaults that suit an LSTM: Adam at 2e-3 trains it in a few epochs
    // where SGD at 0.05 barely moves.
    s.merge(train_section(lstm_train_defaults()).schema());
    for (const auto& spec : data_schema().specs()) {
      if (spec.path != "data.pad") s.add(spec);
    }
    return s;
  }

  std::vector<config::Check> checks() const override {
    // The sequence view first: a colour data set's files are the wrong question to ask about.
    std::vector<config::Check> c;
    c.push_back({{"data.name"}, [](const config::Params& p) -> std::optional<config::Problem> {
                   if (p.text("data.name") != "cifar10") return std::nullopt;
                   return config::Problem{"data.name",
                                          "is cifar10, whose colour images have no row-by-row sequence view; "
                                          "expected fashion-mnist or synthetic"};
                 }});
    for (auto& check : data_checks()) c.push_back(std::move(check));
    // Own image files: single-channel images, read row by row (a bad file is data_checks' problem).
    c.push_back({{"data."}, [](const config::Params& p) -> std::optional<config::Problem> {
                   if (p.text("data.name") != "tensors") return std::nullopt;
                   try {
                     const auto shape = data::input_shape(sequence_data_options(p));
                     if (shape.channels == 1) return std::nullopt;
                     return config::Problem{"data.train_path",
                                            "holds images of " + std::to_string(shape.channels) +
                                                " channels; expected single-channel images (clstm reads each "
                                                "image row by row as a sequence)"};
                   } catch (const Error&) {
                     return std::nullopt;
                   }
                 }});
    for (auto& check : crossbar::crossbar_checks()) c.push_back(std::move(check));
    for (auto& check : crossbar::cost_checks()) c.push_back(std::move(check));
    c.push_back(block_size_check("clstm.block_size", false));
    c.push_back(block_size_check("clstm.input_block_size", true));
    c.push_back(block_size_check("clstm.recurrent_block_size", true));
    c.push_back({{"clstm.int_bits", "clstm.frac_bits"},
                 [](const config::Params& p) -> std::optional<config::Problem> {
                   const auto total = 1 + p.integer("clstm.int_bits") + p.integer("clstm.frac_bits");
                   if (total <= 32) return std::nullopt;
                   return config::Problem{
                       "clstm.frac_bits",
                       "gives a fixed-point word of " + std::to_string(total) +
                           " bits (1 sign + clstm.int_bits + frac_bits); expected at most 32"};
                 }});
    return c;
  }

  // Multiply-accumulates of training (forward + backward ~ 3x forward) in units of 1e9, from the
  // dense LSTM's size: circulant layers train through FFTs at a cost that is, at these sizes,
  // dominated by per-op overhead rather than by k.
  double cost_hint(const config::Params& p) const override {
    const ClstmParams cfg = clstm_section().read(p);
    const double H = static_cast<double>(cfg.hidden);
    const double R =
        cfg.variant == "projection" || cfg.variant == "google" ? static_cast<double>(cfg.projection) : H;
    const double macs =
        static_cast<double>(kSteps) * 4.0 * H * (kFeatures + R) * static_cast<double>(cfg.layers);
    // init projected/admm: the dense training is shared by the sweep; a point pays its ADMM
    // iterations and fine-tuning.
    const auto init = cfg.init;
    const auto epochs = init == "random"
                            ? p.integer("train.epochs")
                            : cfg.finetune_epochs + 1 + (init == "admm" ? cfg.admm_iterations : 0);
    return 3e-9 * static_cast<double>(epochs) * static_cast<double>(training_items(p)) * macs;
  }

  // The gate matrices on crossbars (head digital): hardware accuracy over device samples and the
  // cost model's figures for the mapped gate matrices (time steps = products per sequence).
  static void hardware_metrics(SequenceClassifierImpl& model, const data::Dataset& dataset,
                               const config::Params& p, const PointContext& context, Outcome& out) {
    const ClstmParams cfg = clstm_section().read(p);
    const auto xbar = crossbar::crossbar_config_from_params(p);
    const auto cost = crossbar::cost_config_from_params(p);
    analog::HardwareEvalOptions eo;
    eo.samples = static_cast<int>(cfg.hw_samples);
    eo.seed = nn::derive_seed(static_cast<std::uint64_t>(p.integer("seed")), 2);
    eo.calibration_items = cfg.hw_calibration_items;
    eo.check_cancelled = [&context] { context.check_cancelled(); };
    const auto items = cfg.hw_test_items;
    const auto test =
        items > 0 && items < dataset.test.size()
            ? data::Split{dataset.test.images.narrow(0, 0, items), dataset.test.labels.narrow(0, 0, items)}
            : dataset.test;
    const auto head = [&model](const torch::Tensor& sequence) {
      return model.head->forward(model.final_states(sequence));
    };
    const auto hw = analog::evaluate_lstm_on_crossbars(*model.lstm, head, test, dataset.train, xbar, eo);
    const auto mc = crossbar::model_cost(hw.mappings, xbar, cost);
    out.metrics["hw_software_accuracy"] = hw.accuracy;
    record_hardware_accuracy(hw, out);
    out.metrics["crossbars"] = static_cast<double>(mc.total.crossbars);
    out.metrics["area_mm2"] = mc.total.area_mm2;
    out.metrics["power_mw"] = mc.total.power_mw;
    out.metrics["energy_nj"] = mc.total.energy_nj;
    out.metrics["latency_us"] = mc.total.latency_us;
  }

  Outcome run(const config::Params& p, const PointContext& context) const override {
    const ClstmParams cfg = clstm_section().read(p);
    const auto started = std::chrono::steady_clock::now();
    if (!Kokkos::is_initialized()) {
      throw InternalError("clstm: Kokkos is not initialised (the FFT inference engine needs it)");
    }
    apply_thread_budget(context);
    context.check_cancelled();
    const auto seed = static_cast<std::uint64_t>(p.integer("seed"));
    // Shuffling and validation draw of a model trained from scratch, the dense one included.
    const auto train_seed = nn::derive_seed(seed, 1);
    const auto fixed = xc::FixedPointEvaluation{
        xc::FixedPointFormat::make(static_cast<int>(cfg.int_bits), static_cast<int>(cfg.frac_bits)),
        xc::PiecewiseLinear::sigmoid(static_cast<int>(cfg.pwl_segments)),
        xc::PiecewiseLinear::tanh(static_cast<int>(cfg.pwl_segments))};
    const auto dataset = data::load_dataset(sequence_data_options(p));

    SequenceClassifier model(lstm_options(p), dataset.num_classes);
    nn::initialise(*model, nn::derive_seed(seed, 0));

    nn::TrainHooks hooks;
    hooks.check_cancelled = [&context] { context.check_cancelled(); };
    // A point stopped mid-way resumes from its checkpoint: in init admm's iterations, or in its
    // one training (with what came before it: the projected accuracy, the ADMM curve).
    Resumable resumable(context.checkpoint(), "clstm/1", context);
    const nn::TensorState* saved = resumable.saved();
    const std::string& origin = resumable.origin();
    const int saved_stage =
        saved != nullptr ? static_cast<int>(nn::state_int(*saved, "clstm.stage", origin)) : -1;
    if (saved != nullptr) {
      const auto at = nn::resume_position(*saved, origin);
      context.say(std::string("resumed from its checkpoint in ") +
                  (saved_stage == kStageAdmm ? "ADMM" : "training") + " at epoch " +
                  std::to_string(at.epoch) + ", batch " + std::to_string(at.batch));
    }
    nn::TrainHistory history;
    const bool projected = cfg.init != "random";
    const double distill = cfg.distill;
    double projected_accuracy = 0.0;
    std::vector<double> admm_residual;
    // The dense LSTM of these settings, as the random-init k = 1 point trains it (once per
    // sweep, cached): the starting point of init projected/admm and the distillation teacher.
    SequenceClassifier dense{nullptr};
    double dense_accuracy = 0.0;
    if (projected || distill > 0.0) {
      auto dense_options = lstm_options(p);
      dense_options.block_size(1);
      dense = SequenceClassifier(dense_options, dataset.num_classes);
      nn::initialise(*dense, nn::derive_seed(seed, 0));
      train_or_load_cached(*dense, "clstm-dense-" + config::point_id(dense_key(p)) + ".pt", context,
                           [&](nn::TrainOptions& resume, nn::TrainHooks& cached) {
                             auto options = train_options(p, train_seed);
                             options.resume = resume.resume;
                             options.resume_origin = resume.resume_origin;
                             nn::train_model(*dense, dataset.train, dataset.test, options, cached);
                           });
      dense_accuracy = nn::evaluate(*dense, dataset.test).accuracy;
      if (distill > 0.0) {
        hooks.loss = nn::distillation_loss(nn::predict_logits(*dense, dataset.train), distill,
                                           cfg.distill_temperature);
      }
    }
    // The training stage's checkpoints carry what came before it.
    const nn::TensorState* train_resume = saved_stage == kStageTrain ? saved : nullptr;
    hooks.boundary = resumable.boundary([&](nn::TensorState& o) {
      o["clstm.stage"] = nn::state_value(static_cast<double>(kStageTrain));
      o["clstm.projected_accuracy"] = nn::state_value(projected_accuracy);
      o["clstm.admm_residual"] = nn::state_value(admm_residual);
    });
    if (projected && train_resume != nullptr) {
      projected_accuracy = nn::state_double(*saved, "clstm.projected_accuracy", origin);
      admm_residual = nn::state_vector(*saved, "clstm.admm_residual", origin);
    } else if (projected) {
      // E-RNN's route: each gate matrix of the dense LSTM projected onto block-circulant
      // structure, then fine-tuned. At k = 1 it is the dense model itself.
      if (cfg.init == "admm" && any_circulant(model->lstm->options)) {
        admm_residual = admm_towards_circulant(*dense, *model->lstm, p, dataset, nn::derive_seed(seed, 4),
                                               hooks, resumable);
      }
      model->lstm->load_from(*dense->lstm);
      {
        torch::NoGradGuard no_grad;
        model->head->weight.copy_(dense->head->weight);
        model->head->bias.copy_(dense->head->bias);
      }
      projected_accuracy = nn::evaluate(*model, dataset.test).accuracy;
    }
    if (projected) {
      auto finetune = train_options(p, nn::derive_seed(seed, 3));
      finetune.resume = train_resume;
      finetune.resume_origin = origin;
      finetune.validation_seed = train_seed;  // the dense starting model's held-out images
      finetune.epochs = cfg.finetune_epochs;
      finetune.optimizer.lr = cfg.finetune_lr;
      if (any_circulant(model->lstm->options) && finetune.epochs > 0) {
        history = nn::train_model(*model, dataset.train, dataset.test, finetune, hooks);
      } else {
        history.final_test = nn::evaluate(*model, dataset.test);
      }
    } else {
      auto options = train_options(p, train_seed);
      options.resume = train_resume;
      options.resume_origin = origin;
      history = nn::train_model(*model, dataset.train, dataset.test, options, hooks);
    }
    context.check_cancelled();

    // Fixed point on the same test set, in batches to bound the double-precision temporaries.
    // Agreement with the float model's predictions says how many of them the format changes: an
    // accuracy difference alone nets changes in both directions.
    std::int64_t correct = 0, agree = 0;
    {
      torch::NoGradGuard no_grad;
      model->eval();
      const auto n = dataset.test.size();
      for (std::int64_t begin = 0; begin < n; begin += 1000) {
        context.check_cancelled();
        const auto m = std::min<std::int64_t>(1000, n - begin);
        const auto images = dataset.test.images.narrow(0, begin, m);
        const auto predicted = model->forward_fixed(images, fixed).argmax(1);
        correct += predicted.eq(dataset.test.labels.narrow(0, begin, m)).sum().item<std::int64_t>();
        agree += predicted.eq(model->forward(images).argmax(1)).sum().item<std::int64_t>();
      }
    }
    const auto test_items = static_cast<double>(std::max<std::int64_t>(dataset.test.size(), 1));
    const double fixed_accuracy = static_cast<double>(correct) / test_items;

    const auto& lstm = *model->lstm;
    const auto timings = time_inference(lstm, dataset.test, cfg.timing_sequences, context);
    const auto flops = flops_per_sequence(lstm, kSteps);

    // Gate-matrix weights alone (no biases or peepholes): exactly k when k divides every size.
    double weights_dense = 0.0, weights_stored = 0.0;
    for (const auto& m : *lstm.cells) {
      const auto& cell = *m->as<xc::CirculantLSTMCellImpl>();
      for (const auto* g : {cell.w_x.get(), cell.w_h.get(), cell.w_proj ? cell.w_proj.get() : nullptr}) {
        if (g == nullptr) continue;
        const auto layout = xc::BlockLayout::make(g->in, g->out, g->block_size);
        weights_dense += static_cast<double>(g->gates * g->in * g->out);
        weights_stored += static_cast<double>(g->gates * layout.parameters());
      }
    }

    Outcome out;
    if (!admm_residual.empty()) out.arrays["admm_residual"] = admm_residual;
    const double accuracy = history.final_test.accuracy;
    out.metrics["accuracy"] = accuracy;
    out.metrics["fixed_accuracy"] = fixed_accuracy;
    out.metrics["fixed_accuracy_loss"] = accuracy - fixed_accuracy;
    out.metrics["fixed_agreement"] = static_cast<double>(agree) / test_items;
    out.metrics["loss"] = history.final_test.loss;
    if (!history.train_loss.empty()) {  // k = 1 with init projected: the dense model, not retrained
      out.metrics["train_accuracy"] = history.train_accuracy.back();
      out.metrics["train_loss"] = history.train_loss.back();
    }
    if (projected) out.metrics["projected_accuracy"] = projected_accuracy;
    if (dense) out.metrics["dense_accuracy"] = dense_accuracy;
    const auto lstm_stored = static_cast<double>(lstm.stored_parameters());
    out.metrics["lstm_parameters"] = lstm_stored;
    out.metrics["dense_lstm_parameters"] = static_cast<double>(lstm.dense_parameters());
    out.metrics["compression_ratio"] = static_cast<double>(lstm.dense_parameters()) / lstm_stored;
    out.metrics["weight_compression_ratio"] = weights_dense / weights_stored;
    out.metrics["parameters"] = static_cast<double>(nn::count_parameters(*model));
    out.metrics["dense_us_per_seq"] = timings.dense_us;
    out.metrics["circulant_us_per_seq"] = timings.circulant_us;
    out.metrics["circulant_speedup"] = timings.speedup;
    out.metrics["dense_flops_per_seq"] = flops.dense;
    out.metrics["circulant_flops_per_seq"] = flops.circulant;
    out.arrays["loss"] = history.train_loss;
    out.arrays["test_accuracy"] = history.test_accuracy;
    record_validation(history, out);
    if (cfg.hw_samples > 0) hardware_metrics(*model, dataset, p, context, out);
    out.metrics["wall_s"] = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    return out;
  }
};

}  // namespace

std::unique_ptr<Kind> make_clstm_kind() { return std::make_unique<ClstmKind>(); }

}  // namespace xbarsweep::kinds
