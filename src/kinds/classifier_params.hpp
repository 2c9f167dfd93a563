#pragma once
// Shared by the kinds that train a classifier (train, admm, crossbar_eval; data and train also
// clstm): the one declaration of the `data`, `model` and `train` sections, their semantic checks,
// and their translation into data/nn options. Defined in classifier_params.cpp.

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "xbarsweep/analog/hwa.hpp"
#include "xbarsweep/analog/model_eval.hpp"
#include "xbarsweep/config/checks.hpp"
#include "xbarsweep/config/schema.hpp"
#include "xbarsweep/config/section.hpp"
#include "xbarsweep/config/value.hpp"
#include "xbarsweep/data/dataset.hpp"
#include "xbarsweep/kinds/kind.hpp"
#include "xbarsweep/nn/models.hpp"
#include "xbarsweep/nn/training.hpp"

namespace xbarsweep::kinds {

/// The `model.` section: which classifier, and its size. The input shape and the class count
/// come from the data set (model_options()).
struct ModelParams {
  std::string name = "lenet5";  ///< nn::model_names()
  std::int64_t hidden = 128;    ///< MLP hidden layer width
  std::int64_t layers = 1;      ///< MLP hidden layer count
  double width = 1.0;           ///< VGG-16/ResNet-18 channel multiplier
  std::string path = "";        ///< torchscript: the model file
  bool seeded_init = false;     ///< torchscript: initialise from the point seed, not the file's weights
};

/// The one declaration of `data.*` (data::LoadOptions; data.seed draws both the subsets and the
/// synthetic samples).
const config::Section<data::LoadOptions>& data_section();
/// The one declaration of `model.*`.
const config::Section<ModelParams>& model_section();
/// The one declaration of `train.*`, with nn::TrainOptions' defaults.
const config::Section<nn::TrainOptions>& train_section();
/// The same declaration with other defaults (a kind whose models train best otherwise).
config::Section<nn::TrainOptions> train_section(const nn::TrainOptions& defaults);

config::Schema data_schema();
config::Schema model_schema();
config::Schema train_schema();

/// The data set's files exist and are readable; train.validation is below the training items.
std::vector<config::Check> data_checks();
/// Every check of the `train`, `data` and `model` sections. With \p mapped (kinds that put the
/// model on crossbars), a TorchScript model's every weight must be mappable.
std::vector<config::Check> classifier_checks(bool mapped = false);

/// The module paths of the Linear and Conv2d weights ("features.0.weight") of the classifier that
/// `model.*` and `data.pad` describe, from a model built untrained and without data.
std::vector<std::string> compressible_layer_names(const config::Params& p);

/// 16 hex digits of a 64-bit FNV-1a hash of a model file's bytes: what a cache key holds of it.
/// \throws ModelError when it cannot be read.
std::string model_file_hash(const std::string& path);

/// Data set options from `data.*` (and model.name: VGG/ResNet get 32x32 images).
data::LoadOptions data_options(const config::Params& p);
/// Model options from `model.*` for \p dataset's shape; initialisation seeded from \p seed.
nn::ModelOptions model_options(const config::Params& p, const data::Dataset& dataset, std::uint64_t seed);
/// Training options from `train.*`; shuffling seeded from \p seed.
nn::TrainOptions train_options(const config::Params& p, std::uint64_t seed);

/// The `train`, `data` and `model` sections together: every kind that trains a classifier.
config::Schema classifier_schema();

/// Forward multiply-accumulates per sample of the classifier that `model.*` and `data.pad`
/// describe (VGG/ResNet on 32x32 images): the common unit of the kinds' cost hints.
double classifier_macs_per_sample(const config::Params& p);

/// Records a history's validation figures in \p out when it has any (train.validation > 0):
/// metrics `best_epoch` (from 0, the epoch whose weights the model kept) and
/// `validation_accuracy` (at that epoch), array `validation_accuracy` (every epoch).
void record_validation(const nn::TrainHistory& history, Outcome& out);

/// Gives LibTorch the point's intra-op thread budget (PointContext::threads).
void apply_thread_budget(const PointContext& context);

/// Training items a point uses (data.subset, or the whole split), for cost hints.
std::int64_t training_items(const config::Params& p);

/// Runs \p train on \p model once per cache entry \p name (a file name in context.cache_dir):
/// whichever process gets the entry's lock trains and saves it (nn::ensure_cached_file), every
/// caller (trainer included) loads it, so the weights are the same bits either way. Without a
/// cache directory it just trains. Returns whether this call trained.
/// The training is resumable: \p train gets the entry's own checkpoint (NAME.ckpt beside it,
/// with this point's interval; disabled when the point has no checkpoints), so a pretraining
/// stopped by a signal continues in whichever point produces the entry next.
bool train_or_load_cached(nn::Classifier& model, const std::string& name, const PointContext& context,
                          const std::function<void(nn::TrainOptions& options, nn::TrainHooks& hooks)>& train);

/// The dense baseline of a point that starts from a trained classifier (admm, crossbar_eval): the
/// `train` kind's training with the same seeds, so a baseline is the train point of these params.
/// With a cache directory it is trained once per key (seed, model.*, data.*, train.*) by whichever
/// process gets the lock (nn::ensure_cached_file) and loaded by every point, trainer included, so
/// the weights are the same bits either way. Returns whether this call trained it.
/// With \p hardware_aware and hwa.enabled, the baseline is trained hardware-aware
/// (analog::HardwareAwareTraining on crossbar.*'s devices) and cached under a key that adds the
/// hwa.* and device parameters.
bool train_or_load_baseline(nn::Classifier& model, const config::Params& p, const data::Dataset& ds,
                            const PointContext& context, bool hardware_aware = false);

/// \brief Hardware-aware training of \p model's Linear and Conv2d weights for a point with
/// hwa.enabled (else null): its draws seeded from the point's seed.
std::unique_ptr<analog::HardwareAwareTraining> hardware_aware_training(nn::Classifier& model,
                                                                       const config::Params& p);
/// \brief Makes \p hooks perturb the weights before each forward pass and restore them after
/// backward (no change when \p hwa is null).
void add_hardware_aware_hooks(nn::TrainHooks& hooks, analog::HardwareAwareTraining* hwa);
/// \brief The check of a point with hwa.enabled: something must perturb the weights.
config::Check hardware_aware_check();

/// \brief A hardware evaluation's figures into \p out: hw_accuracy_mean, _std, _min and
/// hw_accuracy_gap (software minus hardware accuracy on the same items), the array hw_accuracy
/// and, with crossbar.drift_times, the arrays hw_times_s and hw_accuracy_at_times.
void record_hardware_accuracy(const analog::HardwareEvaluation& e, Outcome& out);

}  // namespace xbarsweep::kinds
