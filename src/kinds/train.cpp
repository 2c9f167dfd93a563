// Kind `train`: trains a classifier (MLP, LeNet-5, VGG-16, ResNet-18, TorchScript) on an image set or the
// synthetic set and reports its test accuracy. The seed fixes the initial parameters and the
// shuffling; data.seed fixes the synthetic data and random subsets, so that seeds can be compared
// on the same data. With hwa.enabled the training is hardware-aware (analog/hwa.hpp) on the
// devices crossbar.* describes.
#include <ATen/Parallel.h>

#include <chrono>
#include <cmath>
#include <limits>

#include "classifier_params.hpp"
#include "resumable.hpp"
#include "xbarsweep/crossbar/config.hpp"
#include "xbarsweep/kinds/builtin.hpp"
#include "xbarsweep/nn/models.hpp"
#include "xbarsweep/nn/pretrain_cache.hpp"

namespace xbarsweep::kinds {

namespace {

class TrainKind final : public Kind {
 public:
  std::string name() const override { return "train"; }
  std::string summary() const override {
    return "trains a classifier (mlp, lenet5, vgg16, resnet18 or a TorchScript model) on an image data set; "
           "reports test accuracy";
  }
  // Hardware-aware training draws from the crossbar's device model, so train takes crossbar.*
  // too; those came after train points were recorded and are left out of their ids at their
  // defaults (a plain train point keeps its id).
  config::Schema schema() const override {
    config::Schema devices;
    for (config::ParamSpec spec : crossbar::crossbar_schema().specs()) {
      spec.id_neutral_default = true;
      spec.id_neutral_value.reset();
      devices.add(std::move(spec));
    }
    return classifier_schema().merge(analog::hwa_schema()).merge(devices);
  }
  std::vector<config::Check> checks() const override {
    std::vector<config::Check> c = classifier_checks();
    for (auto& check : crossbar::crossbar_checks()) c.push_back(std::move(check));
    c.push_back(hardware_aware_check());
    return c;
  }

  // Multiply-accumulates of training (forward + backward ~ 3x forward) in units of 1e9.
  double cost_hint(const config::Params& p) const override {
    return 3e-9 * static_cast<double>(p.integer("train.epochs")) * static_cast<double>(training_items(p)) *
           classifier_macs_per_sample(p);
  }

  Outcome run(const config::Params& p, const PointContext& context) const override {
    const auto started = std::chrono::steady_clock::now();
    apply_thread_budget(context);
    context.check_cancelled();
    const auto seed = static_cast<std::uint64_t>(p.integer("seed"));
    const auto dataset = data::load_dataset(data_options(p));
    const auto model =
        nn::make_model(p.text("model.name"), model_options(p, dataset, nn::derive_seed(seed, 0)));

    Resumable resumable(context.checkpoint(), "train/1", context);
    nn::TrainHooks hooks;
    hooks.check_cancelled = [&context] { context.check_cancelled(); };
    hooks.boundary = resumable.boundary();
    const auto hwa = hardware_aware_training(*model, p);  // null unless hwa.enabled
    add_hardware_aware_hooks(hooks, hwa.get());
    auto options = train_options(p, nn::derive_seed(seed, 1));
    if (const nn::TensorState* saved = resumable.saved()) {
      options.resume = saved;
      options.resume_origin = resumable.origin();
      const auto at = nn::resume_position(*saved, resumable.origin());
      context.say("resumed from its checkpoint at epoch " + std::to_string(at.epoch) + ", batch " +
                  std::to_string(at.batch));
    }
    const auto history = nn::train_model(*model, dataset.train, dataset.test, options, hooks);

    Outcome out;
    out.metrics["accuracy"] = history.final_test.accuracy;
    out.metrics["loss"] = history.final_test.loss;
    out.metrics["train_accuracy"] = history.train_accuracy.back();
    out.metrics["train_loss"] = history.train_loss.back();
    out.metrics["parameters"] = static_cast<double>(nn::count_parameters(*model));
    out.arrays["loss"] = history.train_loss;
    out.arrays["test_accuracy"] = history.test_accuracy;
    record_validation(history, out);
    out.metrics["wall_s"] = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    return out;
  }
};

}  // namespace

std::unique_ptr<Kind> make_train_kind() { return std::make_unique<TrainKind>(); }

}  // namespace xbarsweep::kinds
