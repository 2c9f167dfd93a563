// The `data`, `model` and `train` sections shared by the kinds that train a classifier (train,
// admm, crossbar_eval; data and train also clstm): their one declaration, their semantic checks,
// and the helpers those kinds share (baseline cache, thread budget, cost hints).
#include "classifier_params.hpp"

#include <ATen/Parallel.h>

#include <filesystem>

#include "xbarsweep/compress/layers.hpp"
#include "xbarsweep/nn/models.hpp"
#include "xbarsweep/nn/pretrain_cache.hpp"

namespace xbarsweep::kinds {

using config::Range;

namespace {

bool needs_32(const std::string& model) { return model == "vgg16" || model == "resnet18"; }

}  // namespace

const config::Section<data::LoadOptions>& data_section() {
  using D = data::LoadOptions;
  static const config::Section<D> section =
      config::Section<D>("data")
          .add("name", &D::name, "data set (synthetic: seeded class patterns, for tests)")
          .choices({"fashion-mnist", "cifar10", "synthetic"})
          .add("dir", &D::dir,
               "directory of the data set's files: Fashion-MNIST's IDX .gz files (the default is Debian's "
               "dataset-fashion-mnist), or CIFAR-10's binary version (data_batch_1.bin .. test_batch.bin)")
          .add("subset", &D::train_subset, "training items used; 0 = all (60000; synthetic: 6000)",
               Range::at_least(0))
          .add("test_subset", &D::test_subset, "test items used; 0 = all (10000; synthetic: 1000)",
               Range::at_least(0))
          .choice("subset_mode", &D::subset_mode,
                  {{"first", data::SubsetMode::First}, {"random", data::SubsetMode::Random}},
                  "subset = the first N items, or N drawn at random with data.seed")
          .add("normalize", &D::normalize,
               "standardise pixels with Fashion-MNIST's mean 0.2860 and std 0.3530")
          .add("pad", &D::pad_to_32, "zero-pad 28x28 images to 32x32 (always on for vgg16 and resnet18)")
          .add("noise", &D::synthetic_noise,
               "synthetic only: pixel noise standard deviation on a [0, 1] scale", {0.0, 10.0})
          .add("seed", &D::subset_seed,
               "draws the synthetic data and random subsets (independent of the point seed)");
  return section;
}

const config::Section<ModelParams>& model_section() {
  using M = ModelParams;
  static const config::Section<M> section =
      config::Section<M>("model")
          .add("name", &M::name, "classifier architecture")
          .choices(nn::model_names())
          .add("hidden", &M::hidden, "MLP hidden layer width", {1, 65536})
          .add("layers", &M::layers, "MLP hidden layer count", {1, 16})
          .add("width", &M::width, "VGG-16/ResNet-18 channel multiplier", {1.0 / 64.0, 16.0});
  return section;
}

config::Section<nn::TrainOptions> train_section(const nn::TrainOptions& defaults) {
  using T = nn::TrainOptions;
  return config::Section<T>("train", defaults)
      .add_field<double>(
          "lr", [](T& t) -> double& { return t.optimizer.lr; }, "learning rate", Range::above_to(0.0, 100.0))
      .add_field<double>(
          "momentum", [](T& t) -> double& { return t.optimizer.momentum; }, "SGD momentum",
          Range::below(0.0, 1.0))
      .add("epochs", &T::epochs, "passes over the training set", {1, 100000})
      .add("batch_size", &T::batch_size, "items per SGD step", {1, 1.0e6})
      .add_field<std::string>(
          "optimizer", [](T& t) -> std::string& { return t.optimizer.name; }, "sgd (with momentum) or adam")
      .choices({"sgd", "adam"})
      .add_field<double>(
          "weight_decay", [](T& t) -> double& { return t.optimizer.weight_decay; }, "L2 penalty coefficient",
          Range::at_least(0.0))
      .choice("schedule", &T::schedule,
              {{"constant", nn::LrSchedule::constant}, {"cosine", nn::LrSchedule::cosine}},
              "learning rate over the epochs: constant, or cosine (epoch e of E at lr (1 + cos(pi e/E)) / 2)")
      .add("validation", &T::validation_items,
           "training items held out for validation (a fixed draw per seed); > 0: the model ends with the "
           "weights of its best validation epoch. Must be below the training items",
           {0, 1.0e7});
}

const config::Section<nn::TrainOptions>& train_section() {
  static const config::Section<nn::TrainOptions> section = train_section(nn::TrainOptions{});
  return section;
}

config::Schema data_schema() { return data_section().schema(); }
config::Schema model_schema() { return model_section().schema(); }
config::Schema train_schema() { return train_section().schema(); }

config::Schema classifier_schema() {
  return config::Schema().merge(train_schema()).merge(data_schema()).merge(model_schema());
}

data::LoadOptions data_options(const config::Params& p) {
  data::LoadOptions o = data_section().read(p);
  o.synthetic_seed = o.subset_seed;
  o.pad_to_32 = o.pad_to_32 || (p.contains("model.name") && needs_32(p.text("model.name")));
  return o;
}

nn::ModelOptions model_options(const config::Params& p, const data::Dataset& dataset, std::uint64_t seed) {
  const ModelParams m = model_section().read(p);
  nn::ModelOptions o;
  o.in_channels = dataset.train.images.size(1);
  o.image_size = dataset.train.images.size(2);
  o.num_classes = dataset.num_classes;
  o.hidden.assign(static_cast<std::size_t>(m.layers), m.hidden);
  o.width = m.width;
  o.seed = seed;
  return o;
}

nn::TrainOptions train_options(const config::Params& p, std::uint64_t seed) {
  nn::TrainOptions o = train_section().read(p);
  o.seed = seed;
  return o;
}

std::int64_t training_items(const config::Params& p) { return data::training_items(data_section().read(p)); }

std::vector<config::Check> data_checks() {
  std::vector<config::Check> checks;
  // Every file the data set reads exists and is readable, before any point loads it.
  checks.push_back({{"data.name", "data.dir"}, [](const config::Params& p) -> std::optional<config::Problem> {
                      const data::LoadOptions o = data_section().read(p);
                      for (const std::string& file : data::dataset_files(o)) {
                        std::error_code ec;
                        if (!std::filesystem::exists(file, ec))
                          return config::Problem{
                              "data.dir", "'" + o.dir + "' has no file " +
                                              std::filesystem::path(file).filename().string() +
                                              "; expected a directory of " +
                                              (o.name == "cifar10"
                                                   ? std::string("CIFAR-10's binary batches")
                                                   : std::string("the Fashion-MNIST IDX .gz files (Debian "
                                                                 "package dataset-fashion-mnist)"))};
                        if (auto problem = config::unreadable_file(file))
                          return config::Problem{"data.dir", *problem};
                      }
                      return std::nullopt;
                    }});
  checks.push_back(
      {{"train.validation", "data.subset", "data.name"},
       [](const config::Params& p) -> std::optional<config::Problem> {
         const auto held_out = p.integer("train.validation");
         const auto items = training_items(p);
         if (held_out < items) return std::nullopt;
         return config::Problem{
             "train.validation",
             "holds out " + std::to_string(held_out) + " items of " + std::to_string(items) +
                 " training items (data.subset, data.name); expected fewer than the training items"};
       }});
  return checks;
}

std::vector<config::Check> classifier_checks() { return data_checks(); }

double classifier_macs_per_sample(const config::Params& p) {
  const ModelParams m = model_section().read(p);
  nn::ModelOptions o;
  o.image_size = p.boolean("data.pad") || needs_32(m.name) ? 32 : 28;
  o.hidden.assign(static_cast<std::size_t>(m.layers), m.hidden);
  o.width = m.width;
  return nn::macs_per_sample(m.name, o);
}

std::vector<std::string> compressible_layer_names(const config::Params& p) {
  // Built without data or training: only the names of its Linear and Conv2d weights are read.
  const ModelParams m = model_section().read(p);
  nn::ModelOptions o;
  o.in_channels = 1;
  o.image_size = p.boolean("data.pad") || needs_32(m.name) ? 32 : 28;
  o.num_classes = 10;
  o.hidden.assign(static_cast<std::size_t>(m.layers), m.hidden);
  o.width = m.width;
  std::vector<std::string> names;
  for (const auto& layer : compress::compressible_layers(*nn::make_model(m.name, o)))
    names.push_back(layer.name);
  return names;
}

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
  return train_or_load_cached(model, "baseline-" + config::point_id(baseline_params(p)) + ".pt", context,
                              [&] {
                                nn::TrainHooks hooks;
                                hooks.check_cancelled = [&context] { context.check_cancelled(); };
                                auto options = train_options(p, nn::derive_seed(seed, 1));
                                options.evaluate_each_epoch = false;
                                nn::train_model(model, ds.train, ds.test, options, hooks);
                              });
}

void record_validation(const nn::TrainHistory& history, Outcome& out) {
  if (history.validation_accuracy.empty()) return;
  out.metrics["best_epoch"] = static_cast<double>(history.best_epoch);
  out.metrics["validation_accuracy"] =
      history.validation_accuracy.at(static_cast<std::size_t>(history.best_epoch));
  out.arrays["validation_accuracy"] = history.validation_accuracy;
}

}  // namespace xbarsweep::kinds
