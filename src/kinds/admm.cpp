// Kind `admm`: paper A's procedure at one point of a sweep. A dense baseline (model.*, data.*,
// train.*, seed) is pretrained once per sweep and cached (nn/pretrain_cache.hpp); then ADMM
// (joint or sequential) drives the weights towards crossbar-block (or column, row, irregular)
// pruning and conductance levels, the weights are hard-projected (masked mapping), retrained with
// the masks held, evaluated in software, and mapped onto the crossbar simulator: hardware accuracy
// over Monte Carlo device samples and the cost model's power, area and energy against the same
// model mapped dense. Definitions of every metric: docs/compress.md ("The admm kind").
#include <ATen/Parallel.h>
#include <torch/optim/optimizer.h>
#include <torch/serialize.h>

#include <Kokkos_Core.hpp>
#include <algorithm>
#include <charconv>
#include <chrono>
#include <cmath>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <utility>

#include "classifier_params.hpp"
#include "resumable.hpp"
#include "xbarsweep/analog/model_eval.hpp"
#include "xbarsweep/compress/pipeline.hpp"
#include "xbarsweep/config/section.hpp"
#include "xbarsweep/crossbar/config.hpp"
#include "xbarsweep/crossbar/cost.hpp"
#include "xbarsweep/error.hpp"
#include "xbarsweep/kinds/builtin.hpp"
#include "xbarsweep/nn/models.hpp"
#include "xbarsweep/nn/pretrain_cache.hpp"

namespace xbarsweep::kinds {

namespace {

namespace xc = xbarsweep::compress;

// `admm.layer_keep`: "fc1=0.3, fc2=0.6" (commas or spaces between entries), or what is wrong
// with the text (the schema's check_text reports it at load time).
struct LayerKeep {
  std::vector<std::pair<std::string, double>> entries;
  std::string problem;  ///< empty when the text is good
};

LayerKeep parse_layer_keep(const std::string& text) {
  LayerKeep out;
  std::string entry;
  std::istringstream words(text);
  while (std::getline(words, entry, ',')) {
    std::istringstream parts(entry);
    std::string item;
    while (parts >> item) {
      const auto eq = item.find('=');
      const std::string layer = item.substr(0, eq);
      double fraction = -1.0;
      if (eq != std::string::npos) {
        const char* begin = item.data() + eq + 1;
        const char* end = item.data() + item.size();
        const auto [stop, ec] = std::from_chars(begin, end, fraction);
        if (ec != std::errc() || stop != end || begin == end) fraction = -1.0;
      }
      if (eq == std::string::npos || layer.empty() || !(fraction >= 0.0 && fraction <= 1.0)) {
        out.problem =
            "entry '" + item +
            "' is not LAYER=FRACTION with a fraction in [0, 1] (expected e.g. \"fc1=0.3, fc2=0.6\")";
        return out;
      }
      for (const auto& [seen, unused] : out.entries) {
        if (seen == layer) {
          out.problem = "layer '" + layer + "' is given twice";
          return out;
        }
      }
      out.entries.emplace_back(layer, fraction);
    }
  }
  return out;
}

std::string check_layer_keep(const std::string& text) { return parse_layer_keep(text).problem; }

// The `admm.` parameters of a point.
struct AdmmParams {
  double rho = 1e-3;
  double rho_growth = 1.35;
  double rho_cap = 1.0;
  std::int64_t iterations = 6;
  std::int64_t epochs_per_iteration = 1;
  std::int64_t retrain_epochs = 3;
  double lr = 0.01;
  double retrain_lr = 0.01;
  std::int64_t batch_size = 0;
  std::string prune = "block";
  double keep = 0.25;
  std::string layer_keep = "";
  std::int64_t block_rows = 0;
  std::int64_t block_cols = 0;
  std::int64_t levels = 16;
  std::string mode = "joint";
  bool joint_exact = false;
  bool skip_first = false;
  bool skip_last = false;
  std::int64_t hw_samples = 3;
  std::int64_t hw_test_items = 1000;
  std::string save_checkpoint = "";
  std::string retrain_levels = "auto";
  std::string hwa_stages = "all";
};

// The one declaration of the `admm.` section.
const config::Section<AdmmParams>& admm_section() {
  using S = AdmmParams;
  static const config::Section<S> section =
      config::Section<S>("admm")
          .add("rho", &S::rho,
               "initial ADMM penalty rho of every layer (paper A's public configs: 1e-4..7e-3)",
               config::Range::above_to(0.0, 1e6))
          .add("rho_growth", &S::rho_growth,
               "rho is multiplied by this after each ADMM iteration (x1.1..x1.6, 1.35 typical)", {1.0, 100.0})
          .add("rho_cap", &S::rho_cap, "rho never grows above this", config::Range::above_to(0.0, 1e6))
          .add("iterations", &S::iterations,
               "ADMM iterations (each: W-step epochs, then the Z and U updates)", {0.0, 100000.0})
          .add("epochs_per_iteration", &S::epochs_per_iteration, "W-step epochs per ADMM iteration",
               {1.0, 100000.0})
          .add("retrain_epochs", &S::retrain_epochs,
               "masked retraining epochs after the hard projection (per stage when sequential)",
               {0.0, 100000.0})
          .add("lr", &S::lr,
               "learning rate of the ADMM W-steps (optimizer, momentum, weight decay from train.*)",
               config::Range::above_to(0.0, 100.0))
          .add("retrain_lr", &S::retrain_lr,
               "initial learning rate of masked retraining, cosine-decayed to 0 over the retraining epochs",
               config::Range::above_to(0.0, 100.0))
          .add("batch_size", &S::batch_size, "items per step in ADMM and retraining; 0 = train.batch_size",
               {0.0, 1.0e6})
          .add("prune", &S::prune,
               "pruning structure: crossbar blocks (paper A), columns (inputs), rows (filters), single "
               "weights (unstructured baseline), or none")
          .choices({"none", "block", "column", "row", "irregular"})
          .add("keep", &S::keep,
               "fraction of units (blocks, columns, rows or weights) kept in each pruned layer", {0.0, 1.0})
          .add("layer_keep", &S::layer_keep,
               "per-layer keep fractions overriding admm.keep, as \"fc1=0.3, fc2=0.6\"; layers by module "
               "name (conv1, fc1, features.0, ...)")
          .check_text(check_layer_keep)
          .add("block_rows", &S::block_rows,
               "pruning block in crossbar terms: word lines (layer inputs); 0 = crossbar.rows",
               {0.0, 65536.0})
          .add("block_cols", &S::block_cols,
               "pruning block in crossbar terms: bit lines (layer outputs); 0 = crossbar.cols",
               {0.0, 65536.0})
          .add("levels", &S::levels,
               "weight levels {+-q..+-(levels/2)q}, no zero level, ceil(log2(levels)) bits per weight; even; "
               "0 = no quantization. Exact on cells with crossbar.levels = levels/2 + 1",
               {0.0, 65536.0})
          .add("mode", &S::mode,
               "joint: pruning and levels in one ADMM (two Z/U pairs per layer); sequential: prune, retrain, "
               "then quantize, retrain (ADMM-NN)")
          .choices({"joint", "sequential"})
          .add("joint_exact", &S::joint_exact,
               "joint mode: one Z/U pair onto the intersection set (project_pruned_levels) instead of two")
          .add("skip_first", &S::skip_first, "leave the first layer unpruned (still quantized)")
          .add("skip_last", &S::skip_last, "leave the last layer unpruned (still quantized)")
          .add("hw_samples", &S::hw_samples,
               "Monte Carlo device samples of the hardware evaluation; 0 = none (cost model only)",
               {0.0, 100000.0})
          .add("hw_test_items", &S::hw_test_items,
               "test items classified by each device sample (the first N); 0 = the whole test split",
               {0.0, 1.0e7})
          .add("save_checkpoint", &S::save_checkpoint,
               "write the compressed model here (nn::save_checkpoint); empty = do not")
          .add("retrain_levels", &S::retrain_levels,
               "how masked retraining keeps quantized weights on their levels: auto (straight-through when "
               "hardware-aware training quantizes onto the crossbar's levels: latent weights, clipped to the "
               "top level and projected when the stage ends; else projection) or project (onto the nearest "
               "level after every step, always)")
          .choices({"auto", "project"})
          .added_later()
          .add("hwa_stages", &S::hwa_stages,
               "with hwa.enabled, the epochs that train hardware-aware: all (the ADMM W-steps and masked "
               "retraining) or retrain (masked retraining only: hardware-aware retraining of a model "
               "compressed "
               "plainly)")
          .choices({"all", "retrain"})
          .added_later();
  return section;
}

config::Schema admm_schema() { return admm_section().schema(); }

// "features.0.weight" -> "features.0": the module's name, as admm.layer_keep names it.
std::string layer_module(std::string name) {
  const std::string suffix = ".weight";
  if (name.size() > suffix.size() && name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0) {
    name.resize(name.size() - suffix.size());
  }
  return name;
}

// "features.0.weight" -> "features_0": array names are snake_case.
std::string layer_key(std::string name) {
  name = layer_module(std::move(name));
  for (auto& c : name) {
    if (c == '.') c = '_';
  }
  return name;
}

xc::CompressionSpec compression_spec(const config::Params& p, const crossbar::CrossbarConfig& xbar,
                                     const std::vector<std::string>& layer_names, bool prune, bool quantize) {
  const AdmmParams cfg = admm_section().read(p);
  xc::CompressionSpec spec;
  auto& d = spec.defaults;
  const auto rows = cfg.block_rows > 0 ? cfg.block_rows : xbar.rows;
  const auto cols = cfg.block_cols > 0 ? cfg.block_cols : xbar.cols;
  d.prune.block = xc::BlockShape::of_crossbar(rows, cols);
  if (prune) {
    d.prune.kind = xc::prune_kind_from_string(cfg.prune);
    d.prune.keep = xc::Keep::fraction(cfg.keep);
  }
  const auto levels = cfg.levels;
  if (quantize && levels > 0) {
    XBARSWEEP_THROW_IF(levels % 2 != 0 || levels < 2, CompressError,
                       "admm.levels must be 0 or an even number >= 2, got " << levels);
    d.levels = xc::LevelSet::uniform(levels);
  }
  d.joint_exact = cfg.joint_exact;
  d.rho = xc::RhoSchedule{cfg.rho, cfg.rho_growth, cfg.rho_cap};
  // Unpruned first/last layers (still quantized): a per-layer override of the defaults.
  auto unpruned = d;
  unpruned.prune.kind = xc::PruneKind::none;
  if (!layer_names.empty() && cfg.skip_first) spec.layers[layer_names.front()] = unpruned;
  if (!layer_names.empty() && cfg.skip_last) spec.layers[layer_names.back()] = unpruned;
  if (prune && d.prune.kind != xc::PruneKind::none) {
    for (const auto& [module, fraction] : parse_layer_keep(cfg.layer_keep).entries) {
      const std::string name = module + ".weight";
      XBARSWEEP_THROW_IF(std::find(layer_names.begin(), layer_names.end(), name) == layer_names.end(),
                         ModelError, "admm.layer_keep: the model has no layer '" << module << "'");
      auto layer = d;  // an explicit fraction wins over skip_first/skip_last
      layer.prune.keep = xc::Keep::fraction(fraction);
      spec.layers[name] = layer;
    }
  }
  return spec;
}

class AdmmKind final : public Kind {
 public:
  std::string name() const override { return "admm"; }
  std::string summary() const override {
    return "paper A: cached dense pretraining, ADMM pruning + quantization for crossbars, masked retraining, "
           "crossbar-simulated accuracy and cost";
  }
  config::Schema schema() const override {
    return config::Schema()
        .merge(admm_schema())
        .merge(crossbar::crossbar_schema())
        .merge(crossbar::cost_schema())
        .merge(analog::hwa_schema())
        .merge(classifier_schema());
  }

  std::vector<config::Check> checks() const override {
    std::vector<config::Check> c = classifier_checks(/*mapped=*/true);
    for (auto& check : crossbar::crossbar_checks()) c.push_back(std::move(check));
    for (auto& check : crossbar::cost_checks()) c.push_back(std::move(check));
    c.push_back(hardware_aware_check());
    c.push_back({{"admm.levels"}, [](const config::Params& p) -> std::optional<config::Problem> {
                   const auto levels = p.integer("admm.levels");
                   if (levels == 0 || (levels >= 2 && levels % 2 == 0)) return std::nullopt;
                   return config::Problem{
                       "admm.levels",
                       "is " + std::to_string(levels) +
                           ": levels are symmetric about zero with no zero level (+-q .. +-(levels/2) q); "
                           "expected 0 (no quantization) or an even number >= 2"};
                 }});
    // Layer names need the model's layer list: built once per distinct model, untrained.
    auto layers_of = std::make_shared<std::map<std::string, std::vector<std::string>>>();
    c.push_back({{"admm.layer_keep", "admm.prune", "model.", "data.pad"},
                 [layers_of](const config::Params& p) -> std::optional<config::Problem> {
                   const auto keep = parse_layer_keep(p.text("admm.layer_keep"));
                   if (keep.entries.empty()) return std::nullopt;
                   if (p.text("admm.prune") == "none")
                     return config::Problem{
                         "admm.layer_keep",
                         "gives keep fractions but admm.prune is none, so nothing is pruned; expected "
                         "admm.prune block, column, row or irregular, or no layer_keep"};
                   // The model is what model.* and data.pad say: their values name it.
                   std::string key;
                   for (const auto& [path, value] : p.entries())
                     if (path.rfind("model.", 0) == 0 || path == "data.pad")
                       key += path + "=" + config::canonical(value) + "\n";
                   auto found = layers_of->find(key);
                   if (found == layers_of->end())
                     found = layers_of->emplace(key, compressible_layer_names(p)).first;
                   const std::vector<std::string>& names = found->second;
                   for (const auto& [module, fraction] : keep.entries) {
                     if (std::find(names.begin(), names.end(), module + ".weight") != names.end()) continue;
                     std::string known;
                     for (const auto& n : names) known += (known.empty() ? "" : ", ") + layer_module(n);
                     return config::Problem{"admm.layer_keep",
                                            "model " + p.text("model.name") + " has no layer '" + module +
                                                "'; expected one of its compressible layers: " + known};
                   }
                   return std::nullopt;
                 }});
    c.push_back(
        {{"admm.joint_exact", "admm.mode"}, [](const config::Params& p) -> std::optional<config::Problem> {
           if (!p.boolean("admm.joint_exact") || p.text("admm.mode") == "joint") return std::nullopt;
           return config::Problem{"admm.joint_exact",
                                  "is true with admm.mode sequential, where it has no effect; expected "
                                  "admm.mode joint, or joint_exact false"};
         }});
    c.push_back(config::writable_file("admm.save_checkpoint"));
    return c;
  }

  // Training MACs of the ADMM and retraining epochs (pretraining is shared) plus the simulated
  // hardware MACs, in units of 1e9.
  double cost_hint(const config::Params& p) const override {
    const AdmmParams cfg = admm_section().read(p);
    const double macs = classifier_macs_per_sample(p);
    const double stages = cfg.mode == "sequential" && cfg.levels > 0 ? 2.0 : 1.0;
    const double epochs =
        stages * static_cast<double>(cfg.iterations * cfg.epochs_per_iteration + cfg.retrain_epochs);
    const auto test = cfg.hw_test_items > 0 ? cfg.hw_test_items : 10000;
    return 3e-9 * epochs * static_cast<double>(training_items(p)) * macs +
           1e-9 * static_cast<double>(test * cfg.hw_samples) * macs;
  }

  Outcome run(const config::Params& p, const PointContext& context) const override {
    const AdmmParams cfg = admm_section().read(p);
    const auto started = std::chrono::steady_clock::now();
    if (!Kokkos::is_initialized()) {
      throw InternalError("admm: Kokkos is not initialised (the crossbar simulator needs it)");
    }
    apply_thread_budget(context);
    context.check_cancelled();
    const auto seed = static_cast<std::uint64_t>(p.integer("seed"));
    const auto xbar = crossbar::crossbar_config_from_params(p);
    const auto cost = crossbar::cost_config_from_params(p);
    const auto dataset = data::load_dataset(data_options(p));
    const auto model =
        nn::make_model(p.text("model.name"), model_options(p, dataset, nn::derive_seed(seed, 0)));

    // A point stopped mid-way resumes from its checkpoint: the baseline's metrics, the model,
    // the optimiser and the pipeline's state (ADMM variables, masks, curves) as they were.
    Resumable resumable(context.checkpoint(), "admm/1", context);
    const nn::TensorState* saved = resumable.saved();
    const std::string& origin = resumable.origin();
    Outcome out;
    if (saved != nullptr) {
      out.metrics["pretrain_loaded"] = nn::state_double(*saved, "admm.pretrain_loaded", origin);
      out.metrics["dense_accuracy"] = nn::state_double(*saved, "admm.dense_accuracy", origin);
    } else {
      out.metrics["pretrain_loaded"] = train_or_load_baseline(*model, p, dataset, context) ? 0.0 : 1.0;
      out.metrics["dense_accuracy"] = nn::evaluate(*model, dataset.test).accuracy;
    }

    // ADMM, hard projection, masked retraining, through this loop.
    std::vector<std::string> names;
    for (const auto& l : xc::compressible_layers(*model)) names.push_back(l.name);
    const bool sequential = cfg.mode == "sequential" && cfg.levels > 0 && cfg.prune != "none";
    xc::PipelineConfig pipeline;
    pipeline.spec = compression_spec(p, xbar, names, true, !sequential);
    if (sequential) pipeline.quantize_stage = compression_spec(p, xbar, names, false, true);
    pipeline.admm_iterations = cfg.iterations;
    pipeline.epochs_per_iteration = cfg.epochs_per_iteration;
    pipeline.retrain_epochs = cfg.retrain_epochs;

    auto optimizer_options = train_options(p, 0).optimizer;
    optimizer_options.lr = cfg.lr;
    const auto optimizer = nn::make_optimizer(*model, optimizer_options);
    const auto batch = cfg.batch_size > 0 ? cfg.batch_size : p.integer("train.batch_size");
    std::uint64_t epoch_counter = 0;  // the compression epoch in progress (or next), from 0
    nn::EpochProgress progress;       // of a resumed epoch
    if (saved != nullptr) {
      progress = nn::restore_epoch(*saved, *model, *optimizer, origin);
      epoch_counter = static_cast<std::uint64_t>(nn::state_int(*saved, "admm.epoch_counter", origin));
      pipeline.resume = saved;
      const auto at = xc::pipeline_position(*saved);
      context.say("resumed from its checkpoint in stage " + at.stage + " after " + std::to_string(at.epochs) +
                  " epoch(s) of it, at batch " + std::to_string(progress.batches));
    }
    const auto save_kind = [&](nn::TensorState& o) {
      o["admm.epoch_counter"] = nn::state_value(static_cast<double>(epoch_counter));
      o["admm.pretrain_loaded"] = nn::state_value(out.metrics["pretrain_loaded"]);
      o["admm.dense_accuracy"] = nn::state_value(out.metrics["dense_accuracy"]);
    };
    xc::TrainingCallbacks training;
    bool retraining = false;  // the stage of the epoch about to run (progress comes first)
    training.progress = [&](const std::string& stage, std::int64_t index) {
      retraining = stage == "retrain" || stage == "quantize_retrain";
      if (retraining) {
        nn::set_learning_rate(*optimizer, nn::scheduled_lr(nn::LrSchedule::cosine, cfg.retrain_lr, index,
                                                           pipeline.retrain_epochs));
      } else {
        nn::set_learning_rate(*optimizer, cfg.lr);
      }
    };
    // Hardware-aware: every ADMM W-step and retraining epoch trains on perturbed weights. When
    // they are quantized onto the crossbar's levels, retraining holds the levels straight-through
    // (latent weights, projected when the stage ends) rather than by projection after each step,
    // which would round the small steps of retraining away.
    const auto hwa = hardware_aware_training(*model, p);
    pipeline.levels_straight_through = cfg.retrain_levels == "auto" && hwa != nullptr &&
                                       analog::quantizes_onto_levels(analog::hwa_config_from_params(p), xbar);
    training.train_epoch = [&](const xc::StepHooks& step) {
      nn::TrainHooks hooks;
      if (cfg.hwa_stages == "all" || retraining) add_hardware_aware_hooks(hooks, hwa.get());
      hooks.check_cancelled = [&context] { context.check_cancelled(); };
      if (step.before_step) hooks.before_step = [&step](std::int64_t) { step.before_step(); };
      if (step.after_step) hooks.after_step = [&](std::int64_t) { step.after_step(*optimizer); };
      hooks.boundary = resumable.boundary([&](nn::TensorState& o) {
        step.save_state(o);
        save_kind(o);
      });
      // Shuffling streams 1000+ are the compression epochs' (1 is pretraining's).
      nn::train_epoch(*model, *optimizer, dataset.train, batch, nn::derive_seed(seed, 1000 + epoch_counter),
                      hooks, 0, std::exchange(progress, nn::EpochProgress{}));
      ++epoch_counter;
    };
    // Between epochs; and once training is over, always, so that a stop during the hardware
    // evaluation does not cost the training.
    training.boundary = [&](const xc::PipelineSaver& save_pipeline, bool last) {
      const auto write = [&](nn::TensorState& o) {
        nn::save_epoch(o, *model, *optimizer, nn::EpochProgress{});
        save_pipeline(o);
        save_kind(o);
      };
      if (last && cfg.hw_samples > 0) {
        resumable.save(write);
      } else {
        resumable.save_if_due(write);
      }
    };
    training.evaluate = [&] { return nn::evaluate(*model, dataset.test).accuracy; };
    const auto result = xc::run_admm_compression(*model, training, pipeline);

    out.metrics["projected_accuracy"] = result.projected_accuracy;
    out.metrics["accuracy"] = result.accuracy;
    out.metrics["accuracy_loss"] = out.metrics["dense_accuracy"] - result.accuracy;
    std::string why;
    out.metrics["masks_hold"] = result.masks.holds(&why) ? 1.0 : 0.0;
    const auto& account = result.account;
    out.metrics["compression_ratio"] = account.compression_ratio;
    out.metrics["compression_ratio_with_index"] = account.compression_ratio_with_index;
    out.metrics["dense_weights"] = static_cast<double>(account.dense_weights);
    out.metrics["kept_weights"] = static_cast<double>(account.kept_weights);
    out.metrics["pruning_ratio"] =  // weights only, beside compression_ratio's bits
        account.kept_weights > 0 ? static_cast<double>(account.dense_weights) / account.kept_weights : 0.0;
    out.metrics["crossbar_tiles"] = static_cast<double>(account.crossbars_kept);
    out.metrics["crossbar_tiles_dense"] = static_cast<double>(account.crossbars_total);

    // Residual curves: ||W - Z||_F per layer and pair over the iterations of each stage.
    for (const auto& stage : result.residuals) {
      for (const auto& iteration : stage) {
        for (const auto& r : iteration) {
          auto key = "residual_" + layer_key(r.layer);
          if (r.set != xc::AdmmSet::prune) key += "_" + xc::to_string(r.set);
          out.arrays[key].push_back(r.primal);
        }
      }
    }
    auto& kept = out.arrays["layer_kept_weights"];
    auto& dense = out.arrays["layer_dense_weights"];
    auto& blocks = out.arrays["layer_kept_blocks"];
    auto& blocks_total = out.arrays["layer_blocks"];
    auto& bits = out.arrays["layer_bits"];
    for (const auto& l : account.layers) {
      kept.push_back(static_cast<double>(l.kept_weights));
      dense.push_back(static_cast<double>(l.dense_weights));
      blocks.push_back(static_cast<double>(l.blocks_kept));
      blocks_total.push_back(static_cast<double>(l.blocks_total));
      bits.push_back(l.bits_per_weight);
    }

    if (!cfg.save_checkpoint.empty()) nn::save_checkpoint(*model, cfg.save_checkpoint);

    // Masked mapping onto crossbars: Monte Carlo accuracy, then the cost model on the tiles the
    // mapping allocated (tiles holding a nonzero weight) against the same layers mapped dense.
    std::vector<crossbar::LayerMapping> mappings;
    const auto hw_items = cfg.hw_test_items;
    data::Split test = dataset.test;
    if (hw_items > 0 && hw_items < test.size()) {
      test.images = test.images.narrow(0, 0, hw_items);
      test.labels = test.labels.narrow(0, 0, hw_items);
    }
    if (cfg.hw_samples > 0) {
      analog::HardwareEvalOptions hw;
      hw.samples = static_cast<int>(cfg.hw_samples);
      hw.seed = nn::derive_seed(seed, 2);
      hw.check_cancelled = [&context] { context.check_cancelled(); };
      const auto eval = analog::evaluate_on_crossbars(*model, test, dataset.train, xbar, hw);
      record_hardware_accuracy(eval, out);
      mappings = eval.mappings;
    } else {
      analog::HardwareModel hardware(*model, xbar, nn::derive_seed(seed, 2));
      hardware.calibrate(test.images.narrow(0, 0, std::min<std::int64_t>(test.size(), 8)));
      mappings = hardware.mappings();
    }
    const auto priced = crossbar::model_cost(mappings, xbar, cost);
    out.metrics["crossbars"] = static_cast<double>(priced.total.crossbars);
    out.metrics["crossbars_dense"] = static_cast<double>(priced.dense_total.crossbars);
    out.metrics["power_reduction"] = priced.power_reduction;
    out.metrics["area_reduction"] = priced.area_reduction;
    out.metrics["static_power_mw"] = priced.total.static_power_mw;
    out.metrics["dense_static_power_mw"] = priced.dense_total.static_power_mw;
    out.metrics["static_power_reduction"] = priced.static_power_reduction;
    out.metrics["power_mw"] = priced.total.power_mw;
    out.metrics["area_mm2"] = priced.total.area_mm2;
    out.metrics["energy_nj"] = priced.total.energy_nj;
    out.metrics["dense_power_mw"] = priced.dense_total.power_mw;
    out.metrics["dense_area_mm2"] = priced.dense_total.area_mm2;
    out.metrics["dense_energy_nj"] = priced.dense_total.energy_nj;
    out.metrics["energy_reduction"] = priced.dense_total.energy_nj > 0.0
                                          ? 1.0 - priced.total.energy_nj / priced.dense_total.energy_nj
                                          : 0.0;
    auto& layer_crossbars = out.arrays["layer_crossbars"];
    for (const auto& l : priced.layers) layer_crossbars.push_back(static_cast<double>(l.crossbars));

    out.metrics["wall_s"] = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    return out;
  }
};

}  // namespace

std::unique_ptr<Kind> make_admm_kind() { return std::make_unique<AdmmKind>(); }

}  // namespace xbarsweep::kinds
