// Kind `crossbar_eval`: a trained classifier mapped onto simulated crossbars. The model is loaded
// from crossbar_eval.checkpoint, or trained in-process with the train kind's code and cached
// under PointContext::cache_dir, keyed by the training-relevant parameters (model.*, data.*,
// train.*, seed), so that every point sharing a baseline reuses it (one rank trains it). Reports the software
// accuracy, the hardware accuracy over Monte Carlo device samples, and the cost model's figures.
// With hwa.enabled the in-process training is hardware-aware (analog/hwa.hpp), cached apart.
#include <ATen/Parallel.h>

#include <chrono>
#include <cstdio>
#include <string>

#include "classifier_params.hpp"
#include "xbarsweep/analog/model_eval.hpp"
#include "xbarsweep/config/section.hpp"
#include "xbarsweep/crossbar/config.hpp"
#include "xbarsweep/crossbar/cost.hpp"
#include "xbarsweep/kinds/builtin.hpp"
#include "xbarsweep/nn/models.hpp"
#include "xbarsweep/nn/pretrain_cache.hpp"

namespace xbarsweep::kinds {

namespace {

// The `crossbar_eval.` parameters of a point.
struct CrossbarEvalParams {
  std::int64_t samples = 5;
  std::string checkpoint = "";
  std::int64_t batch_size = 250;
  std::int64_t calibration_items = 200;
};

// The one declaration of the `crossbar_eval.` section.
const config::Section<CrossbarEvalParams>& crossbar_eval_section() {
  using S = CrossbarEvalParams;
  static const config::Section<S> section =
      config::Section<S>("crossbar_eval")
          .add("samples", &S::samples,
               "Monte Carlo device samples (each programs every layer with its own device seed)",
               {1.0, 100000.0})
          .add("checkpoint", &S::checkpoint,
               "trained model (nn::save_checkpoint of model.name with these model.*/data.* shapes); empty = "
               "train in-process with train.* and cache it")
          .add("batch_size", &S::batch_size, "test images per hardware forward pass", {1.0, 1.0e6})
          .add("calibration_items", &S::calibration_items,
               "training images that calibrate each sample's DAC and ADC ranges (0 = the first test batch)",
               {0.0, 1.0e6});
  return section;
}

config::Schema crossbar_eval_schema() { return crossbar_eval_section().schema(); }

class CrossbarEvalKind final : public Kind {
 public:
  std::string name() const override { return "crossbar_eval"; }
  std::string summary() const override {
    return "maps a trained classifier onto simulated crossbars: hardware accuracy over device samples, cost "
           "model";
  }
  config::Schema schema() const override {
    return config::Schema()
        .merge(crossbar_eval_schema())
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
    c.push_back(config::readable_file("crossbar_eval.checkpoint"));
    c.push_back({{"hwa.enabled", "crossbar_eval.checkpoint"},
                 [](const config::Params& p) -> std::optional<config::Problem> {
                   if (!p.boolean("hwa.enabled") || p.text("crossbar_eval.checkpoint").empty())
                     return std::nullopt;
                   return config::Problem{"hwa.enabled",
                                          "is true with crossbar_eval.checkpoint set: a loaded model is not "
                                          "trained here, so nothing is hardware-aware; expected hwa.enabled "
                                          "false, or no checkpoint (train in-process)"};
                 }});
    return c;
  }

  // Simulated MACs: test items x samples x MACs per item, in units of 1e9.
  double cost_hint(const config::Params& p) const override {
    const CrossbarEvalParams cfg = crossbar_eval_section().read(p);
    const auto test = p.integer("data.test_subset") > 0 ? p.integer("data.test_subset") : 10000;
    const auto dac = p.integer("crossbar.dac_bits"), input = p.integer("crossbar.input_bits");
    const std::int64_t planes = dac > 0 && input > dac ? (input + dac - 1) / dac : 1;
    return 1e-9 * static_cast<double>(test * cfg.samples * planes) * classifier_macs_per_sample(p);
  }

  Outcome run(const config::Params& p, const PointContext& context) const override {
    const CrossbarEvalParams cfg = crossbar_eval_section().read(p);
    const auto started = std::chrono::steady_clock::now();
    apply_thread_budget(context);
    context.check_cancelled();
    // Validate the crossbar and cost sections before any training.
    const auto xbar = crossbar::crossbar_config_from_params(p);
    const auto cost = crossbar::cost_config_from_params(p);
    const auto seed = static_cast<std::uint64_t>(p.integer("seed"));

    const auto ds = data::load_dataset(data_options(p));
    const auto model = nn::make_model(p.text("model.name"), model_options(p, ds, nn::derive_seed(seed, 0)));
    const std::string checkpoint = cfg.checkpoint;
    if (!checkpoint.empty()) {
      nn::load_checkpoint(*model, checkpoint);
    } else {
      train_or_load_baseline(*model, p, ds, context, /*hardware_aware=*/true);
    }
    context.check_cancelled();

    analog::HardwareEvalOptions eo;
    eo.samples = static_cast<int>(cfg.samples);
    eo.seed = nn::derive_seed(seed, 2);
    eo.batch_size = cfg.batch_size;
    eo.calibration_items = cfg.calibration_items;
    eo.check_cancelled = [&context] { context.check_cancelled(); };
    const data::Split& calibration = eo.calibration_items > 0 ? ds.train : ds.test;
    if (eo.calibration_items == 0) eo.calibration_items = std::min(eo.batch_size, ds.test.size());
    const auto hw = analog::evaluate_on_crossbars(*model, ds.test, calibration, xbar, eo);
    const auto mc = crossbar::model_cost(hw.mappings, xbar, cost);

    Outcome out;
    out.metrics["accuracy"] = hw.accuracy;
    record_hardware_accuracy(hw, out);
    out.metrics["crossbars"] = static_cast<double>(mc.total.crossbars);
    out.metrics["adcs"] = static_cast<double>(mc.total.adcs);
    out.metrics["area_mm2"] = mc.total.area_mm2;
    out.metrics["power_mw"] = mc.total.power_mw;
    out.metrics["energy_nj"] = mc.total.energy_nj;
    out.metrics["latency_us"] = mc.total.latency_us;
    out.metrics["power_reduction"] = mc.power_reduction;
    out.metrics["area_reduction"] = mc.area_reduction;
    out.metrics["static_power_mw"] = mc.total.static_power_mw;
    out.metrics["static_power_reduction"] = mc.static_power_reduction;
    std::vector<double> layer_crossbars, layer_energy;
    for (const auto& l : mc.layers) {
      layer_crossbars.push_back(static_cast<double>(l.crossbars));
      layer_energy.push_back(l.energy_nj);
    }
    out.arrays["layer_crossbars"] = layer_crossbars;
    out.arrays["layer_energy_nj"] = layer_energy;
    out.metrics["wall_s"] = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    return out;
  }
};

}  // namespace

std::unique_ptr<Kind> make_crossbar_eval_kind() { return std::make_unique<CrossbarEvalKind>(); }

}  // namespace xbarsweep::kinds
