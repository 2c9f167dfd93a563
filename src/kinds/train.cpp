// Kind `train`: trains a classifier (MLP, LeNet-5, VGG-16, ResNet-18) on Fashion-MNIST or the
// synthetic set and reports its test accuracy. The seed fixes the initial parameters and the
// shuffling; data.seed fixes the synthetic data and random subsets, so that seeds can be compared
// on the same data.
#include <ATen/Parallel.h>

#include <chrono>
#include <cmath>
#include <limits>

#include "train_common.hpp"
#include "xbarsweep/kinds/builtin.hpp"
#include "xbarsweep/nn/models.hpp"
#include "xbarsweep/nn/pretrain_cache.hpp"

namespace xbarsweep::kinds {

using config::ParamSpec;
using config::ValueType;

config::Schema data_schema() {
  config::Schema s;
  s.add({"data.name", ValueType::String, std::string("fashion-mnist"), {}, {},
         {"fashion-mnist", "synthetic"}, "data set (synthetic: seeded class patterns, for tests)"});
  s.add({"data.dir", ValueType::String, std::string(data::kDefaultFashionMnistDir), {}, {}, {},
         "directory of the Fashion-MNIST IDX .gz files"});
  s.add({"data.subset", ValueType::Int, std::int64_t{0}, 0.0, {}, {},
         "training items used; 0 = all (60000; synthetic: 6000)"});
  s.add({"data.test_subset", ValueType::Int, std::int64_t{0}, 0.0, {}, {},
         "test items used; 0 = all (10000; synthetic: 1000)"});
  s.add({"data.subset_mode", ValueType::String, std::string("first"), {}, {}, {"first", "random"},
         "subset = the first N items, or N drawn at random with data.seed"});
  s.add({"data.normalize", ValueType::Bool, true, {}, {}, {},
         "standardise pixels with Fashion-MNIST's mean 0.2860 and std 0.3530"});
  s.add({"data.pad", ValueType::Bool, false, {}, {}, {},
         "zero-pad 28x28 images to 32x32 (always on for vgg16 and resnet18)"});
  s.add({"data.noise", ValueType::Real, 0.35, 0.0, 10.0, {},
         "synthetic only: pixel noise standard deviation on a [0, 1] scale"});
  s.add({"data.seed", ValueType::Int, std::int64_t{0}, 0.0, {}, {},
         "draws the synthetic data and random subsets (independent of the point seed)"});
  return s;
}

config::Schema model_schema() {
  config::Schema s;
  s.add({"model.name", ValueType::String, std::string("lenet5"), {}, {}, nn::model_names(),
         "classifier architecture"});
  s.add({"model.hidden", ValueType::Int, std::int64_t{128}, 1.0, 65536.0, {},
         "MLP hidden layer width"});
  s.add({"model.layers", ValueType::Int, std::int64_t{1}, 1.0, 16.0, {},
         "MLP hidden layer count"});
  s.add({"model.width", ValueType::Real, 1.0, 1.0 / 64.0, 16.0, {},
         "VGG-16/ResNet-18 channel multiplier"});
  return s;
}

config::Schema train_schema() {
  config::Schema s;
  s.add({"train.lr", ValueType::Real, 0.05, 1e-12, 100.0, {}, "learning rate (> 0)"});
  s.add({"train.momentum", ValueType::Real, 0.9, 0.0, std::nextafter(1.0, 0.0), {},
         "SGD momentum, in [0, 1)"});
  s.add({"train.epochs", ValueType::Int, std::int64_t{2}, 1.0, 100000.0, {}, "passes over the training set"});
  s.add({"train.batch_size", ValueType::Int, std::int64_t{64}, 1.0, 1.0e6, {}, "items per SGD step"});
  s.add({"train.optimizer", ValueType::String, std::string("sgd"), {}, {}, {"sgd", "adam"},
         "sgd (with momentum) or adam"});
  s.add({"train.weight_decay", ValueType::Real, 0.0, 0.0, {}, {}, "L2 penalty coefficient"});
  s.add({"train.schedule", ValueType::String, std::string("constant"), {}, {}, {"constant", "cosine"},
         "learning rate over the epochs: constant, or cosine (epoch e of E at lr (1 + cos(pi e/E)) / 2)"});
  s.add({"train.validation", ValueType::Int, std::int64_t{0}, 0.0, 1.0e7, {},
         "training items held out for validation (a fixed draw per seed); > 0: the model ends with "
         "the weights of its best validation epoch. Must be below the training items"});
  return s;
}

namespace {

bool needs_32(const std::string& model) { return model == "vgg16" || model == "resnet18"; }

}  // namespace

data::LoadOptions data_options(const config::Params& p) {
  data::LoadOptions o;
  o.name = p.text("data.name");
  o.dir = p.text("data.dir");
  o.train_subset = p.integer("data.subset");
  o.test_subset = p.integer("data.test_subset");
  o.subset_mode = p.text("data.subset_mode") == "random" ? data::SubsetMode::Random
                                                         : data::SubsetMode::First;
  o.subset_seed = static_cast<std::uint64_t>(p.integer("data.seed"));
  o.synthetic_seed = o.subset_seed;
  o.synthetic_noise = p.real("data.noise");
  o.normalize = p.boolean("data.normalize");
  o.pad_to_32 = p.boolean("data.pad") || needs_32(p.text("model.name"));
  return o;
}

nn::ModelOptions model_options(const config::Params& p, const data::Dataset& dataset,
                               std::uint64_t seed) {
  nn::ModelOptions o;
  o.in_channels = dataset.train.images.size(1);
  o.image_size = dataset.train.images.size(2);
  o.num_classes = dataset.num_classes;
  o.hidden.assign(static_cast<std::size_t>(p.integer("model.layers")), p.integer("model.hidden"));
  o.width = p.real("model.width");
  o.seed = seed;
  return o;
}

nn::TrainOptions train_options(const config::Params& p, std::uint64_t seed) {
  nn::TrainOptions o;
  o.optimizer.name = p.text("train.optimizer");
  o.optimizer.lr = p.real("train.lr");
  o.optimizer.momentum = p.real("train.momentum");
  o.optimizer.weight_decay = p.real("train.weight_decay");
  o.schedule = nn::lr_schedule_from_string(p.text("train.schedule"));
  o.epochs = p.integer("train.epochs");
  o.batch_size = p.integer("train.batch_size");
  o.seed = seed;
  o.validation_items = p.integer("train.validation");
  if (o.validation_items >= training_items(p)) {
    throw std::invalid_argument("train.validation: " + std::to_string(o.validation_items) +
                                " items held out of " + std::to_string(training_items(p)) +
                                " training items; expected fewer");
  }
  return o;
}

void record_validation(const nn::TrainHistory& history, Outcome& out) {
  if (history.validation_accuracy.empty()) return;
  out.metrics["best_epoch"] = static_cast<double>(history.best_epoch);
  out.metrics["validation_accuracy"] = history.validation_accuracy.at(static_cast<std::size_t>(history.best_epoch));
  out.arrays["validation_accuracy"] = history.validation_accuracy;
}

std::int64_t training_items(const config::Params& p) {
  const auto subset = p.integer("data.subset");
  const std::int64_t all = p.text("data.name") == "synthetic" ? 6000 : 60000;
  return subset > 0 ? std::min(subset, all) : all;
}

namespace {

class TrainKind final : public Kind {
 public:
  std::string name() const override { return "train"; }
  std::string summary() const override {
    return "trains a classifier (mlp, lenet5, vgg16, resnet18) on Fashion-MNIST; reports test accuracy";
  }
  config::Schema schema() const override {
    return classifier_schema();
  }

  // Multiply-accumulates of training (forward + backward ~ 3x forward) in units of 1e9.
  double cost_hint(const config::Params& p) const override {
    return 3e-9 * static_cast<double>(p.integer("train.epochs")) *
           static_cast<double>(training_items(p)) * classifier_macs_per_sample(p);
  }

  Outcome run(const config::Params& p, const PointContext& context) const override {
    const auto started = std::chrono::steady_clock::now();
    apply_thread_budget(context);
    context.check_cancelled();
    const auto seed = static_cast<std::uint64_t>(p.integer("seed"));
    const auto dataset = data::load_dataset(data_options(p));
    const auto model =
        nn::make_model(p.text("model.name"), model_options(p, dataset, nn::derive_seed(seed, 0)));

    nn::TrainHooks hooks;
    hooks.check_cancelled = [&context] { context.check_cancelled(); };
    const auto history = nn::train_model(*model, dataset.train, dataset.test,
                                         train_options(p, nn::derive_seed(seed, 1)), hooks);

    Outcome out;
    out.metrics["accuracy"] = history.final_test.accuracy;
    out.metrics["loss"] = history.final_test.loss;
    out.metrics["train_accuracy"] = history.train_accuracy.back();
    out.metrics["train_loss"] = history.train_loss.back();
    out.metrics["parameters"] = static_cast<double>(nn::count_parameters(*model));
    out.arrays["loss"] = history.train_loss;
    out.arrays["test_accuracy"] = history.test_accuracy;
    record_validation(history, out);
    out.metrics["wall_s"] =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    return out;
  }
};

}  // namespace

std::unique_ptr<Kind> make_train_kind() { return std::make_unique<TrainKind>(); }

}  // namespace xbarsweep::kinds

namespace xbarsweep::kinds {

namespace {
// The parameters a trained baseline depends on, and nothing else: its cache key.
config::Params baseline_params(const config::Params& p) {
  config::Params t;
  for (const auto& [path, value] : p.entries()) {
    if (path == "seed" || path.rfind("model.", 0) == 0 || path.rfind("data.", 0) == 0 ||
        path.rfind("train.", 0) == 0) {
      t.set(path, value);
    }
  }
  return t;
}
}  // namespace

config::Schema classifier_schema() {
  return config::Schema().merge(train_schema()).merge(data_schema()).merge(model_schema());
}

double classifier_macs_per_sample(const config::Params& p) {
  nn::ModelOptions m;
  m.image_size = p.boolean("data.pad") || needs_32(p.text("model.name")) ? 32 : 28;
  m.hidden.assign(static_cast<std::size_t>(p.integer("model.layers")), p.integer("model.hidden"));
  m.width = p.real("model.width");
  return nn::macs_per_sample(p.text("model.name"), m);
}

void apply_thread_budget(const PointContext& context) {
  if (context.threads > 0 && at::get_num_threads() != context.threads) {
    at::set_num_threads(context.threads);
  }
}

bool train_or_load_cached(nn::Classifier& model, const std::string& name, const PointContext& context,
                          const std::function<void()>& train) {
  if (context.cache_dir.empty()) {
    train();
    return true;
  }
  const auto entry = nn::ensure_cached_file(
      context.cache_dir, name,
      [&](const std::string& path) {
        train();
        nn::save_checkpoint(model, path);
      },
      [&context] { context.check_cancelled(); });
  nn::load_checkpoint(model, entry.path);
  return entry.produced;
}

bool train_or_load_baseline(nn::Classifier& model, const config::Params& p, const data::Dataset& ds,
                            const PointContext& context) {
  const auto seed = static_cast<std::uint64_t>(p.integer("seed"));
  return train_or_load_cached(model, "baseline-" + config::point_id(baseline_params(p)) + ".pt", context, [&] {
    nn::TrainHooks hooks;
    hooks.check_cancelled = [&context] { context.check_cancelled(); };
    auto options = train_options(p, nn::derive_seed(seed, 1));
    options.evaluate_each_epoch = false;
    nn::train_model(model, ds.train, ds.test, options, hooks);
  });
}

}  // namespace xbarsweep::kinds
