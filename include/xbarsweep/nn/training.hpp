#pragma once
/// \file
/// \brief Reusable, deterministic training and evaluation loops for the classifiers, with hooks
/// for constrained training (ADMM adds its penalty gradient, masked retraining re-applies masks).
///
/// Determinism: given the model's initial parameters and TrainOptions::seed, results are identical
/// across runs with the same intra-op thread count. Shuffling uses a private generator, never
/// torch's global one. These functions never call torch::set_num_threads: the caller does.

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "xbarsweep/data/dataset.hpp"
#include "xbarsweep/error.hpp"
#include "xbarsweep/nn/state.hpp"

namespace torch::nn {
class Module;
}
namespace torch::optim {
class Optimizer;
}

namespace xbarsweep::nn {

struct Classifier;

/// \brief Which optimiser, with which hyper-parameters.
struct OptimizerOptions {
  std::string name = "sgd";  ///< "sgd" (with momentum) or "adam"
  double lr = 0.05;
  double momentum = 0.9;      ///< SGD only
  double weight_decay = 0.0;  ///< L2 penalty, both optimisers
};

/// \brief An optimiser over every parameter of \p model. \throws ModelError.
std::unique_ptr<torch::optim::Optimizer> make_optimizer(torch::nn::Module& model,
                                                        const OptimizerOptions& options);

/// \brief A training loss in place of cross-entropy: from a batch's logits, its labels and its
/// rows (indices into the training split, so per-sample targets computed beforehand can be looked
/// up), the scalar to minimise.
using LossFn =
    std::function<at::Tensor(const at::Tensor& logits, const at::Tensor& labels, const at::Tensor& rows)>;

/// \brief Writes the training loop's resumable state at this moment into a TensorState: the
/// model, the optimiser, torch's generator and where the loop stands (see TrainHooks::boundary).
using StateSaver = std::function<void(TensorState& out)>;

/// \brief Callbacks into the training loop; any may be empty. `step` counts optimiser steps
/// from 0 over the whole of train_model (train_epoch: from its \p first_step).
struct TrainHooks {
  /// Before every batch; throws (e.g. kinds::Cancelled) to abandon training.
  std::function<void()> check_cancelled;
  /// At every resumable moment (before every batch, before check_cancelled, and after each
  /// epoch of train_model: \p epoch_end), with the saver of the state there: a checkpointing
  /// caller saves it when its checkpoint is due, so that a stop between batches loses nothing.
  std::function<void(const StateSaver& save, bool epoch_end)> boundary;
  /// After the gradients are zeroed and before the forward pass, with a key of the batch (from
  /// the epoch's shuffling seed and the batch's index: the same after a resume): hardware-aware
  /// training writes perturbed weights here (analog::HardwareAwareTraining).
  std::function<void(std::uint64_t batch_key)> before_forward;
  /// Right after backward(), before before_step: hardware-aware training restores the clean
  /// weights here, so that penalties, the optimiser step and masks see them.
  std::function<void()> after_backward;
  /// The training forward pass (hardware-aware training's crossbar forward); empty: model.forward.
  std::function<at::Tensor(Classifier& model, const at::Tensor& x)> forward;
  /// After backward(), before the optimiser step: add penalty terms to the gradients
  /// (ADMM: grad += rho * (W - Z + U)).
  std::function<void(std::int64_t step)> before_step;
  /// After the optimiser step: re-apply masks or projections.
  std::function<void(std::int64_t step)> after_step;
  /// After each epoch of train_model, with its index from 0 (ADMM's Z and U updates).
  std::function<void(std::int64_t epoch)> after_epoch;
  /// The training loss (e.g. distillation_loss); empty: mean cross-entropy with the labels.
  LossFn loss;
};

/// \brief The logits of \p model for every sample of \p split, in order (N x classes), without
/// gradients, in evaluation mode (the model is left in evaluation mode).
at::Tensor predict_logits(Classifier& model, const data::Split& split, std::int64_t batch_size = 1000);

/// \brief Knowledge distillation (Hinton et al., 2015) from a teacher's logits on the training
/// split (row i for sample i): (1 - alpha) CE(logits, labels) + alpha T^2 KL(softmax(teacher / T)
/// || softmax(logits / T)), the KL term averaged over the batch; T^2 keeps its gradients on the
/// scale of the cross-entropy's. \throws ModelError unless 0 <= alpha <= 1 and T > 0.
LossFn distillation_loss(at::Tensor teacher_logits, double alpha, double temperature);

/// \brief Mean training loss (cross-entropy, or TrainHooks::loss when set) and accuracy over the
/// samples seen.
struct EpochResult {
  double loss = 0.0;
  double accuracy = 0.0;  ///< fraction, of predictions made during the epoch (running)
  std::int64_t samples = 0;
  std::int64_t steps = 0;
};

/// \brief Where an epoch stands between two batches: the batches done and their sums.
struct EpochProgress {
  std::int64_t batches = 0;
  double loss_sum = 0.0;
  std::int64_t correct = 0;
  std::int64_t samples = 0;
};

/// \brief One pass over \p train in batches of \p batch_size (the last one may be smaller),
/// shuffled by a permutation drawn from \p shuffle_seed, each batch augmented (data::augment) as
/// train.augmentation says, from a stream of \p shuffle_seed. Puts the model in training mode.
/// \p from continues an epoch that stopped after from.batches batches (restore_epoch gives it):
/// the result equals the uninterrupted epoch's. TrainHooks::boundary savers write
/// save_epoch's state.
EpochResult train_epoch(Classifier& model, torch::optim::Optimizer& optimizer, const data::Split& train,
                        std::int64_t batch_size, std::uint64_t shuffle_seed, const TrainHooks& hooks = {},
                        std::int64_t first_step = 0, const EpochProgress& from = {});

/// \brief An epoch's resumable state: \p model, \p optimizer, torch's generator and \p progress
/// (keys "model.*", "optimizer", "generator", "epoch.*").
void save_epoch(TensorState& out, const torch::nn::Module& model, torch::optim::Optimizer& optimizer,
                const EpochProgress& progress);
/// \brief Puts save_epoch's state back into \p model, \p optimizer and torch's generator and
/// returns where the epoch stood. \throws CheckpointError naming \p origin.
EpochProgress restore_epoch(const TensorState& state, torch::nn::Module& model,
                            torch::optim::Optimizer& optimizer, const std::string& origin);

/// \brief Accuracy and mean cross-entropy loss over \p split, without gradients, in evaluation
/// mode (the model is left in evaluation mode).
struct Evaluation {
  double accuracy = 0.0;  ///< fraction
  double loss = 0.0;
  std::int64_t samples = 0;
};
Evaluation evaluate(Classifier& model, const data::Split& split, std::int64_t batch_size = 1000);

/// \brief How the learning rate moves over the epochs of train_model.
enum class LrSchedule {
  constant,  ///< optimizer.lr throughout
  cosine,    ///< epoch e of E at lr * (1 + cos(pi e / E)) / 2: lr first, decaying towards 0
};

/// \brief "constant" or "cosine"; \throws ModelError naming the choices otherwise.
LrSchedule lr_schedule_from_string(const std::string& name);

/// \brief The learning rate of epoch \p epoch of \p epochs under \p schedule from \p base.
double scheduled_lr(LrSchedule schedule, double base, std::int64_t epoch, std::int64_t epochs);

/// \brief Sets the learning rate of every parameter group of \p optimizer.
void set_learning_rate(torch::optim::Optimizer& optimizer, double lr);

struct TrainOptions {
  OptimizerOptions optimizer;
  LrSchedule schedule = LrSchedule::constant;
  std::int64_t epochs = 2;
  std::int64_t batch_size = 64;
  std::uint64_t seed = 0;           ///< epoch e shuffles with a stream derived from (seed, e)
  bool evaluate_each_epoch = true;  ///< else only after the last epoch
  /// Training samples held out as a validation set (a fixed draw from `validation_seed`, the same
  /// for every model trained with that seed); 0 = none. When > 0, the model is evaluated on them
  /// after every epoch and ends with the weights of its best validation epoch (early stopping by
  /// checkpoint selection), so a longer run cannot end overfitted.
  std::int64_t validation_items = 0;
  /// Seed of the validation draw; unset = `seed`. Fine-tuning a model that was trained with
  /// another seed sets it to that seed, so it is selected on images neither run trained on.
  std::optional<std::uint64_t> validation_seed;
  /// A TrainHooks::boundary saver's state from an earlier, interrupted train_model of the same
  /// model and options: training continues from there, and ends as the uninterrupted run would.
  const TensorState* resume = nullptr;
  std::string resume_origin;  ///< names \p resume in errors (the checkpoint file)
};

/// \brief Per-epoch record of train_model.
struct TrainHistory {
  std::vector<double> train_loss;      ///< mean over each epoch (of TrainHooks::loss when set)
  std::vector<double> train_accuracy;  ///< running accuracy over each epoch
  std::vector<double> test_loss;       ///< after each evaluated epoch
  std::vector<double> test_accuracy;
  std::vector<double> validation_accuracy;  ///< after each epoch, when validation_items > 0
  std::int64_t best_epoch = -1;             ///< epoch (from 0) whose weights the model ends with, or -1
  Evaluation final_test;                    ///< of the weights the model ends with
};

/// \brief Where TrainOptions::resume stands: the epoch in progress (from 0) and its batches done.
struct ResumePosition {
  std::int64_t epoch = 0;
  std::int64_t batch = 0;
};
ResumePosition resume_position(const TensorState& state, const std::string& origin);

/// \brief Trains \p model on \p train (less options.validation_items held out) for
/// options.epochs epochs with a fresh optimiser and evaluates it on \p test. TrainHooks::loss
/// gets rows of \p train as given, held-out samples or not.
/// \throws ModelError for bad options; rethrows hooks'.
TrainHistory train_model(Classifier& model, const data::Split& train, const data::Split& test,
                         const TrainOptions& options, const TrainHooks& hooks = {});

/// \brief Writes the parameters and buffers of \p model to \p path (torch archive), via a
/// temporary file renamed into place so a reader never sees a partial file.
void save_checkpoint(const torch::nn::Module& model, const std::string& path);

/// \brief Loads parameters and buffers saved by save_checkpoint into a model of the same
/// structure. \throws CheckpointError when the file is missing or does not match.
void load_checkpoint(torch::nn::Module& model, const std::string& path);

/// \brief A seed for stream \p stream derived from \p seed (splitmix64), for independent draws.
std::uint64_t derive_seed(std::uint64_t seed, std::uint64_t stream);

}  // namespace xbarsweep::nn
