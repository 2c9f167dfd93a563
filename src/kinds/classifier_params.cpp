// The `data`, `model` and `train` sections shared by the kinds that train a classifier (train,
// admm, crossbar_eval; data and train also clstm): their one declaration, their semantic checks,
// and the helpers those kinds share (baseline cache, thread budget, cost hints).
#include "classifier_params.hpp"

#include <ATen/Parallel.h>
#include <torch/torch.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>

#include "resumable.hpp"
#include "xbarsweep/compress/layers.hpp"
#include "xbarsweep/config/hashing.hpp"
#include "xbarsweep/crossbar/config.hpp"
#include "xbarsweep/nn/models.hpp"
#include "xbarsweep/nn/pretrain_cache.hpp"
#include "xbarsweep/nn/torchscript.hpp"

namespace xbarsweep::kinds {

using config::Range;

namespace {

bool needs_32(const std::string& model) { return model == "vgg16" || model == "resnet18"; }

// A TorchScript file loaded once per process for the checks and the cost hints (never for a
// point's own work, which changes the weights): keyed by path, size and modification time.
std::shared_ptr<nn::TorchScriptClassifierImpl> inspected_script(const std::string& path) {
  static std::mutex mutex;
  static std::map<std::string, std::shared_ptr<nn::TorchScriptClassifierImpl>> loaded;
  std::error_code ec;
  const auto size = std::filesystem::file_size(path, ec);
  const auto time = std::filesystem::last_write_time(path, ec).time_since_epoch().count();
  const std::string key = path + '\n' + std::to_string(size) + '\n' + std::to_string(time);
  const std::lock_guard<std::mutex> lock(mutex);
  auto& entry = loaded[key];
  if (!entry) entry = std::make_shared<nn::TorchScriptClassifierImpl>(path);
  return entry;
}

// The problem of a TorchScript model with the data it is given, or nothing: the file loads, its
// forward takes a batch of the data's images and returns one logit per class, and (\p mapped)
// every weight can be mapped onto crossbars.
std::optional<config::Problem> torchscript_problem(const config::Params& p, bool mapped) {
  const ModelParams m = model_section().read(p);
  if (m.name != "torchscript") return std::nullopt;
  if (m.path.empty())
    return config::Problem{"model.path",
                           "is empty; expected the TorchScript file of model.name: torchscript"};
  if (auto problem = config::unreadable_file(m.path)) return config::Problem{"model.path", *problem};
  try {
    const auto model = inspected_script(m.path);
    if (mapped) model->require_mappable();
    const auto shape = data::input_shape(data_options(p));
    const std::string input = "2 x " + std::to_string(shape.channels) + " x " + std::to_string(shape.height) +
                              " x " + std::to_string(shape.width);
    torch::NoGradGuard no_grad;
    model->eval();
    torch::Tensor logits;
    try {
      logits = model->forward(torch::zeros({2, shape.channels, shape.height, shape.width}));
    } catch (const std::exception& e) {
      // The interpreter's message ends with the error itself, after a TorchScript traceback.
      std::string what = e.what();
      while (!what.empty() && what.back() == '\n') what.pop_back();
      return config::Problem{"model.path", "model file '" + m.path +
                                               "': its forward fails on a batch of the data's images (" +
                                               input + ", data.*): " + what.substr(what.rfind('\n') + 1)};
    }
    if (logits.dim() != 2 || logits.size(0) != 2 || logits.size(1) != shape.num_classes) {
      std::string got;
      for (auto d : logits.sizes()) got += (got.empty() ? "" : " x ") + std::to_string(d);
      return config::Problem{"model.path", "model file '" + m.path + "': its forward maps a batch " + input +
                                               " to " + got + "; expected 2 x " +
                                               std::to_string(shape.num_classes) +
                                               " (one logit per class of data.*)"};
    }
  } catch (const Error& e) {
    return config::Problem{"model.path", e.message()};
  }
  return std::nullopt;
}

}  // namespace

const config::Section<data::LoadOptions>& data_section() {
  using D = data::LoadOptions;
  static const config::Section<D> section =
      config::Section<D>("data")
          .add("name", &D::name,
               "data set (tensors: arrays in .npz or HDF5 files, data.train_path and data.test_path; "
               "synthetic: seeded class patterns, for tests)")
          .choices({"fashion-mnist", "cifar10", "tensors", "synthetic"})
          .add("dir", &D::dir,
               "directory of the data set's files: Fashion-MNIST's IDX .gz files (the default is Debian's "
               "dataset-fashion-mnist), or CIFAR-10's binary version (data_batch_1.bin .. test_batch.bin)")
          .add("train_path", &D::train_path,
               "tensors: the training split's file, .npz (np.savez, np.savez_compressed) or HDF5 (.h5, "
               ".hdf5), holding images (N x C x H x W or N x H x W; uint8 scaled to [0, 1], float32 taken "
               "as stored) and integer labels")
          .added_later()
          .add("test_path", &D::test_path, "tensors: the test split's file, as data.train_path")
          .added_later()
          .add("images_key", &D::images_key,
               "tensors: the images' array in both files (HDF5: a dataset path)")
          .added_later()
          .add("labels_key", &D::labels_key, "tensors: the labels' array in both files")
          .added_later()
          .add("classes", &D::classes, "tensors: class count; 0 = the largest label of both files + 1",
               {0, 1.0e6})
          .added_later()
          .add("subset", &D::train_subset, "training items used; 0 = all (60000; synthetic: 6000)",
               Range::at_least(0))
          .add("test_subset", &D::test_subset, "test items used; 0 = all (10000; synthetic: 1000)",
               Range::at_least(0))
          .choice("subset_mode", &D::subset_mode,
                  {{"first", data::SubsetMode::First}, {"random", data::SubsetMode::Random}},
                  "subset = the first N items, or N drawn at random with data.seed")
          .add("normalize", &D::normalize, "standardise pixels per channel: (x - data.mean) / data.std")
          .add("mean", &D::mean,
               "per-channel means on the [0, 1] pixel scale, comma-separated (\"0.49,0.48,0.45\") or one for "
               "all; empty = Fashion-MNIST's 0.2860, CIFAR-10's, or (tensors) the training file's own")
          .check_text(data::channel_values_problem)
          .added_later()
          .add(
              "std", &D::stddev,
              "per-channel standard deviations, as data.mean; empty = Fashion-MNIST's 0.3530, CIFAR-10's, or "
              "(tensors) the training file's own")
          .check_text(data::channel_values_problem)
          .added_later()
          .add("pad", &D::pad_to_32,
               "zero-pad images smaller than 32x32 (28x28) to 32x32 (always on for vgg16 and resnet18)")
          .add_field<std::int64_t>(
              "crop_padding", [](D& d) -> std::int64_t& { return d.augmentation.crop_padding; },
              "training batches only: pad by this many black pixels, then crop back to H x W at a random "
              "offset (seeded by the epoch); 0 = off",
              {0, 64})
          .added_later()
          .add_field<bool>(
              "hflip", [](D& d) -> bool& { return d.augmentation.hflip; },
              "training batches only: mirror each image left-right with probability 1/2 (seeded by "
              "the epoch)")
          .added_later()
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
          .add("width", &M::width, "VGG-16/ResNet-18 channel multiplier", {1.0 / 64.0, 16.0})
          .add("path", &M::path,
               "torchscript: the model file (torch.jit.script or torch.jit.trace, then .save); relative to "
               "the working directory")
          .added_later()
          .choice("init", &M::seeded_init, {{"file", false}, {"seed", true}},
                  "torchscript: start from the file's weights, or initialise them from the point seed as the "
                  "built-in models are (U(-1/sqrt(fan_in), 1/sqrt(fan_in)), norms to identity)")
          .added_later();
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
  o.path = m.path;
  o.reinitialise = m.seeded_init;
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
                      if (o.name == "tensors") return std::nullopt;  // the next check's
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
  // The tensors files from their headers and labels (missing, unreadable, wrong format, key, rank,
  // dtype, labels, counts, train and test shapes), and data.mean, data.std and data.pad against the
  // images.
  checks.push_back({{"data.name", "data.train_path", "data.test_path", "data.images_key", "data.labels_key",
                     "data.classes", "data.mean", "data.std", "data.pad", "model.name"},
                    [](const config::Params& p) -> std::optional<config::Problem> {
                      const auto problem = data::check_load_options(data_options(p));
                      if (!problem) return std::nullopt;
                      using F = data::LoadField;
                      const char* key = problem->field == F::TrainPath  ? "data.train_path"
                                        : problem->field == F::TestPath ? "data.test_path"
                                        : problem->field == F::Classes  ? "data.classes"
                                        : problem->field == F::Mean     ? "data.mean"
                                        : problem->field == F::Std      ? "data.std"
                                                                        : "data.pad";
                      return config::Problem{key, problem->message};
                    }});
  checks.push_back(
      {{"train.validation", "data.subset", "data.name", "data.train_path", "data.images_key",
        "data.labels_key"},
       [](const config::Params& p) -> std::optional<config::Problem> {
         const auto held_out = p.integer("train.validation");
         std::int64_t items = 0;
         try {
           items = training_items(p);
         } catch (const DataError&) {
           return std::nullopt;  // a tensors file the check above refuses
         }
         if (held_out < items) return std::nullopt;
         return config::Problem{
             "train.validation",
             "holds out " + std::to_string(held_out) + " items of " + std::to_string(items) +
                 " training items (data.subset, data.name); expected fewer than the training items"};
       }});
  return checks;
}

std::vector<config::Check> classifier_checks(bool mapped) {
  std::vector<config::Check> checks = data_checks();
  checks.push_back({{"model.name", "model.path", "data."},
                    [mapped](const config::Params& p) { return torchscript_problem(p, mapped); }});
  return checks;
}

double classifier_macs_per_sample(const config::Params& p) {
  const ModelParams m = model_section().read(p);
  if (m.name == "torchscript") {
    const auto shape = data::input_shape(data_options(p));
    return inspected_script(m.path)->macs_per_sample(shape.channels, shape.height, shape.width);
  }
  nn::ModelOptions o;
  o.image_size = p.boolean("data.pad") || needs_32(m.name) ? 32 : 28;
  o.hidden.assign(static_cast<std::size_t>(m.layers), m.hidden);
  o.width = m.width;
  return nn::macs_per_sample(m.name, o);
}

std::vector<std::string> compressible_layer_names(const config::Params& p) {
  // Built without data or training: only the names of its Linear and Conv2d weights are read.
  const ModelParams m = model_section().read(p);
  std::vector<std::string> names;
  if (m.name == "torchscript") {
    for (const auto& layer : compress::compressible_layers(*inspected_script(m.path)))
      names.push_back(layer.name);
    return names;
  }
  nn::ModelOptions o;
  o.in_channels = 1;
  o.image_size = p.boolean("data.pad") || needs_32(m.name) ? 32 : 28;
  o.num_classes = 10;
  o.hidden.assign(static_cast<std::size_t>(m.layers), m.hidden);
  o.width = m.width;
  for (const auto& layer : compress::compressible_layers(*nn::make_model(m.name, o)))
    names.push_back(layer.name);
  return names;
}

std::string model_file_hash(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  XBARSWEEP_THROW_IF(!in, ModelError, "model file '" << path << "' cannot be read");
  const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  char hex[17];
  std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(config::fnv1a64(bytes)));
  return hex;
}

namespace {
// The parameters a trained baseline depends on, and nothing else: its cache key. A TorchScript
// model adds its file's contents (a file rewritten in place is another model).
config::Params baseline_params(const config::Params& p) {
  config::Params t = p.only([](const std::string& path) {
    return path == "seed" || path.rfind("model.", 0) == 0 || path.rfind("data.", 0) == 0 ||
           path.rfind("train.", 0) == 0;
  });
  if (p.contains("model.name") && p.text("model.name") == "torchscript")
    t.set("model.file_hash", model_file_hash(p.text("model.path")));
  return t;
}
}  // namespace

void apply_thread_budget(const PointContext& context) {
  if (context.threads > 0 && at::get_num_threads() != context.threads) {
    at::set_num_threads(context.threads);
  }
}

bool train_or_load_cached(
    nn::Classifier& model, const std::string& name, const PointContext& context,
    const std::function<void(nn::TrainOptions& options, nn::TrainHooks& hooks)>& train) {
  nn::TrainOptions options;
  nn::TrainHooks hooks;
  hooks.check_cancelled = [&context] { context.check_cancelled(); };
  if (context.cache_dir.empty()) {
    train(options, hooks);
    return true;
  }
  // The training's checkpoint, beside the entry; it goes once the entry is in place (fsynced
  // and renamed), never before.
  const PointCheckpoint checkpoint = context.checkpoint_at(context.cache_dir + "/" + name + ".ckpt");
  const auto entry = nn::ensure_cached_file(
      context.cache_dir, name,
      [&](const std::string& path) {
        // Under the entry's lock: no other process trains it meanwhile.
        Resumable resumable(checkpoint, "pretraining/1", context);
        hooks.boundary = resumable.boundary();
        if (const nn::TensorState* saved = resumable.saved()) {
          options.resume = saved;
          options.resume_origin = resumable.origin();
          const auto at = nn::resume_position(*saved, resumable.origin());
          context.say("pretraining " + name + " resumed from its checkpoint at epoch " +
                      std::to_string(at.epoch) + ", batch " + std::to_string(at.batch));
        }
        train(options, hooks);
        nn::save_checkpoint(model, path);
      },
      [&context] { context.check_cancelled(); });
  checkpoint.remove();
  nn::load_checkpoint(model, entry.path);
  return entry.produced;
}

bool train_or_load_baseline(nn::Classifier& model, const config::Params& p, const data::Dataset& ds,
                            const PointContext& context, bool hardware_aware) {
  const auto seed = static_cast<std::uint64_t>(p.integer("seed"));
  std::unique_ptr<analog::HardwareAwareTraining> hwa;
  config::Params key = baseline_params(p);
  std::string prefix = "baseline-";
  if (hardware_aware && (hwa = hardware_aware_training(model, p))) {
    // What the training draws depend on: the hwa.* values and the devices and their mapping,
    // not the periphery or the time of the read (so a sweep of those shares the baseline).
    const auto devices = analog::hardware_aware_device_paths(analog::hwa_config_from_params(p));
    for (const auto& [path, value] : p.entries())
      if (path.rfind("hwa.", 0) == 0 || std::find(devices.begin(), devices.end(), path) != devices.end())
        key.set(path, value);
    prefix = "baseline-hwa-";
  }
  return train_or_load_cached(model, prefix + config::point_id(key) + ".pt", context,
                              [&](nn::TrainOptions& resume, nn::TrainHooks& hooks) {
                                auto options = train_options(p, nn::derive_seed(seed, 1));
                                options.evaluate_each_epoch = false;
                                options.resume = resume.resume;
                                options.resume_origin = resume.resume_origin;
                                add_hardware_aware_hooks(hooks, hwa.get());
                                nn::train_model(model, ds.train, ds.test, options, hooks);
                              });
}

std::unique_ptr<analog::HardwareAwareTraining> hardware_aware_training(nn::Classifier& model,
                                                                       const config::Params& p) {
  const analog::HwaConfig hwa = analog::hwa_config_from_params(p);
  if (!hwa.enabled) return nullptr;
  std::vector<at::Tensor> weights;
  for (const auto& l : compress::compressible_layers(model)) weights.push_back(l.weight);
  const auto seed = static_cast<std::uint64_t>(p.integer("seed"));
  return std::make_unique<analog::HardwareAwareTraining>(
      std::move(weights), crossbar::crossbar_config_from_params(p), hwa, nn::derive_seed(seed, 3));
}

void add_hardware_aware_hooks(nn::TrainHooks& hooks, analog::HardwareAwareTraining* hwa) {
  if (hwa == nullptr) return;
  hooks.before_forward = [hwa](std::uint64_t batch_key) { hwa->perturb(batch_key); };
  hooks.after_backward = [hwa] { hwa->restore(); };
  hooks.forward = [hwa](nn::Classifier& model, const at::Tensor& x) { return hwa->forward(model, x); };
}

config::Check hardware_aware_check() {
  return {{"hwa.", "crossbar."}, [](const config::Params& p) -> std::optional<config::Problem> {
            const analog::HwaConfig hwa = analog::hwa_config_from_params(p);
            if (!hwa.enabled) return std::nullopt;
            const auto xbar = crossbar::crossbar_section().read(p);
            if (auto problem = analog::forward_options_problem(hwa, xbar)) return problem;
            if (analog::perturbs(hwa, xbar)) return std::nullopt;
            return config::Problem{
                "hwa.enabled",
                "is true but nothing would perturb the training weights (crossbar.sigma, "
                "prog_noise and stuck rates 0 or hwa.device_noise 0, no levels to quantize to, "
                "hwa.weight_noise 0); expected a device non-ideality, or hwa.enabled false"};
          }};
}

void record_hardware_accuracy(const analog::HardwareEvaluation& e, Outcome& out) {
  out.metrics["hw_accuracy_mean"] = e.hw_accuracy_mean;
  out.metrics["hw_accuracy_std"] = e.hw_accuracy_std;
  out.metrics["hw_accuracy_min"] = e.hw_accuracy_min;
  out.metrics["hw_accuracy_gap"] = e.accuracy - e.hw_accuracy_mean;
  out.arrays["hw_accuracy"] = e.hw_accuracy;
  if (!e.times.empty()) {
    out.arrays["hw_times_s"] = e.times;
    out.arrays["hw_accuracy_at_times"] = analog::mean_accuracy_at_times(e);
  }
}

void record_validation(const nn::TrainHistory& history, Outcome& out) {
  if (history.validation_accuracy.empty()) return;
  out.metrics["best_epoch"] = static_cast<double>(history.best_epoch);
  out.metrics["validation_accuracy"] =
      history.validation_accuracy.at(static_cast<std::size_t>(history.best_epoch));
  out.arrays["validation_accuracy"] = history.validation_accuracy;
}

}  // namespace xbarsweep::kinds
