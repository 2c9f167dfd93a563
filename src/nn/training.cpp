// Training and evaluation loops of include/xbarsweep/nn/training.hpp.
#include "xbarsweep/nn/training.hpp"

#include <ATen/CPUGeneratorImpl.h>
#include <torch/nn/functional/loss.h>
#include <torch/optim/adam.h>
#include <torch/optim/sgd.h>
#include <torch/serialize/input-archive.h>
#include <torch/serialize/output-archive.h>
#include <torch/utils.h>

#include <cmath>
#include <cstdio>
#include <utility>

#include "xbarsweep/error.hpp"
#include "xbarsweep/nn/models.hpp"

namespace xbarsweep::nn {
namespace {

// The stream of derive_seed(shuffle seed, .) that draws a training epoch's augmentation.
constexpr std::uint64_t kAugmentStream = 0x617567;        // "aug"
constexpr std::uint64_t kHardwareAwareStream = 0x687761;  // "hwa"

void check_split(const data::Split& s, const char* which) {
  if (!s.images.defined() || !s.labels.defined() || s.images.size(0) != s.labels.size(0)) {
    throw ModelError(std::string(which) + " split: images and labels missing or of different counts");
  }
}

}  // namespace

std::uint64_t derive_seed(std::uint64_t seed, std::uint64_t stream) {
  std::uint64_t x = seed + 0x9e3779b97f4a7c15ULL * (stream + 1);
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

std::unique_ptr<torch::optim::Optimizer> make_optimizer(torch::nn::Module& model, const OptimizerOptions& o) {
  if (!(o.lr > 0.0)) throw ModelError("learning rate must be > 0");
  if (o.weight_decay < 0.0) throw ModelError("weight decay must be >= 0");
  if (o.name == "sgd") {
    if (o.momentum < 0.0 || o.momentum >= 1.0) throw ModelError("momentum must be in [0, 1)");
    return std::make_unique<torch::optim::SGD>(
        model.parameters(), torch::optim::SGDOptions(o.lr).momentum(o.momentum).weight_decay(o.weight_decay));
  }
  if (o.name == "adam") {
    return std::make_unique<torch::optim::Adam>(model.parameters(),
                                                torch::optim::AdamOptions(o.lr).weight_decay(o.weight_decay));
  }
  throw ModelError("unknown optimizer \"" + o.name + "\", expected sgd or adam");
}

LrSchedule lr_schedule_from_string(const std::string& name) {
  if (name == "constant") return LrSchedule::constant;
  if (name == "cosine") return LrSchedule::cosine;
  throw ModelError("unknown learning-rate schedule \"" + name + "\", expected constant or cosine");
}

double scheduled_lr(LrSchedule schedule, double base, std::int64_t epoch, std::int64_t epochs) {
  if (schedule == LrSchedule::constant || epochs <= 0) return base;
  return base * 0.5 * (1.0 + std::cos(M_PI * static_cast<double>(epoch) / static_cast<double>(epochs)));
}

void set_learning_rate(torch::optim::Optimizer& optimizer, double lr) {
  for (auto& group : optimizer.param_groups()) group.options().set_lr(lr);
}

EpochResult train_epoch(Classifier& model, torch::optim::Optimizer& optimizer, const data::Split& train,
                        std::int64_t batch_size, std::uint64_t shuffle_seed, const TrainHooks& hooks,
                        std::int64_t first_step, const EpochProgress& from) {
  check_split(train, "training");
  if (batch_size < 1) throw ModelError("batch size must be >= 1");
  model.train();
  const std::int64_t n = train.size();
  auto gen = at::make_generator<at::CPUGeneratorImpl>(shuffle_seed);
  const auto order = at::randperm(n, gen, at::kLong);
  // Crops and flips of each batch from their own stream of the epoch's seed (data::augment).
  const std::uint64_t augment_seed = derive_seed(shuffle_seed, kAugmentStream);
  const std::uint64_t batch_keys = derive_seed(shuffle_seed, kHardwareAwareStream);

  // A resumed epoch starts at its next batch with the sums so far: the same batches, the same
  // augmentation streams (by batch index) and the same sums in the same order.
  EpochResult r;
  r.steps = from.batches;
  r.samples = from.samples;
  double loss_sum = from.loss_sum;
  std::int64_t correct = from.correct;
  const StateSaver saver = [&](TensorState& out) {
    save_epoch(out, model, optimizer, EpochProgress{r.steps, loss_sum, correct, r.samples});
  };
  for (std::int64_t begin = from.batches * batch_size; begin < n; begin += batch_size) {
    if (hooks.boundary) hooks.boundary(saver, /*epoch_end=*/false);
    if (hooks.check_cancelled) hooks.check_cancelled();
    const auto index = order.narrow(0, begin, std::min(batch_size, n - begin));
    auto x = train.images.index_select(0, index);
    if (train.augmentation.active())
      x = data::augment(x, train.augmentation,
                        derive_seed(augment_seed, static_cast<std::uint64_t>(r.steps)));
    const auto y = train.labels.index_select(0, index);

    optimizer.zero_grad();
    if (hooks.before_forward)
      hooks.before_forward(derive_seed(batch_keys, static_cast<std::uint64_t>(r.steps)));
    const auto logits = hooks.forward ? hooks.forward(model, x) : model.forward(x);
    const auto loss =
        hooks.loss ? hooks.loss(logits, y, index) : torch::nn::functional::cross_entropy(logits, y);
    loss.backward();
    if (hooks.after_backward) hooks.after_backward();
    const std::int64_t step = first_step + r.steps;
    if (hooks.before_step) hooks.before_step(step);
    optimizer.step();
    if (hooks.after_step) hooks.after_step(step);

    const auto m = index.size(0);
    loss_sum += loss.item<double>() * static_cast<double>(m);
    correct += logits.detach().argmax(1).eq(y).sum().item<std::int64_t>();
    r.samples += m;
    ++r.steps;
  }
  r.loss = loss_sum / static_cast<double>(std::max<std::int64_t>(r.samples, 1));
  r.accuracy = static_cast<double>(correct) / static_cast<double>(std::max<std::int64_t>(r.samples, 1));
  return r;
}

void save_epoch(TensorState& out, const torch::nn::Module& model, torch::optim::Optimizer& optimizer,
                const EpochProgress& progress) {
  put_module(out, "model.", model);
  put_optimizer(out, "optimizer", optimizer);
  put_global_generator(out, "generator");
  out["epoch.batches"] = state_value(static_cast<double>(progress.batches));
  out["epoch.loss_sum"] = state_value(progress.loss_sum);
  out["epoch.correct"] = state_value(static_cast<double>(progress.correct));
  out["epoch.samples"] = state_value(static_cast<double>(progress.samples));
}

EpochProgress restore_epoch(const TensorState& state, torch::nn::Module& model,
                            torch::optim::Optimizer& optimizer, const std::string& origin) {
  load_module(model, state, "model.", origin);
  load_optimizer(optimizer, state, "optimizer", origin);
  load_global_generator(state, "generator", origin);
  EpochProgress p;
  p.batches = state_int(state, "epoch.batches", origin);
  p.loss_sum = state_double(state, "epoch.loss_sum", origin);
  p.correct = state_int(state, "epoch.correct", origin);
  p.samples = state_int(state, "epoch.samples", origin);
  return p;
}

torch::Tensor predict_logits(Classifier& model, const data::Split& split, std::int64_t batch_size) {
  check_split(split, "evaluation");
  if (batch_size < 1) throw ModelError("batch size must be >= 1");
  torch::NoGradGuard no_grad;
  model.eval();
  std::vector<torch::Tensor> parts;
  for (std::int64_t begin = 0; begin < split.size(); begin += batch_size) {
    parts.push_back(model.forward(split.images.narrow(0, begin, std::min(batch_size, split.size() - begin))));
  }
  return parts.empty() ? torch::empty({0, 0}) : torch::cat(parts, 0);
}

LossFn distillation_loss(torch::Tensor teacher_logits, double alpha, double temperature) {
  if (!(alpha >= 0.0 && alpha <= 1.0)) {
    throw ModelError("distillation weight alpha must be in [0, 1], got " + std::to_string(alpha));
  }
  if (!(temperature > 0.0)) {
    throw ModelError("distillation temperature must be > 0, got " + std::to_string(temperature));
  }
  if (!teacher_logits.defined() || teacher_logits.dim() != 2) {
    throw ModelError("distillation: the teacher's logits must be a samples x classes matrix");
  }
  // The teacher's softened distribution is fixed: compute it once for the whole split.
  const auto soft_targets = torch::softmax(teacher_logits.detach().to(torch::kFloat) / temperature, 1);
  return [soft_targets, alpha, temperature](const torch::Tensor& logits, const torch::Tensor& labels,
                                            const torch::Tensor& rows) {
    namespace F = torch::nn::functional;
    const auto kl = F::kl_div(torch::log_softmax(logits / temperature, 1), soft_targets.index_select(0, rows),
                              F::KLDivFuncOptions().reduction(torch::kBatchMean));
    return (1.0 - alpha) * F::cross_entropy(logits, labels) + (alpha * temperature * temperature) * kl;
  };
}

Evaluation evaluate(Classifier& model, const data::Split& split, std::int64_t batch_size) {
  const auto logits = predict_logits(model, split, batch_size);
  const auto n = split.size();
  Evaluation e;
  e.samples = n;
  if (n == 0) return e;
  e.loss = torch::nn::functional::cross_entropy(logits.to(torch::kDouble), split.labels).item<double>();
  e.accuracy = static_cast<double>(logits.argmax(1).eq(split.labels).sum().item<std::int64_t>()) /
               static_cast<double>(n);
  return e;
}

namespace {

// The stream of derive_seed that draws the validation samples (epochs use streams 0, 1, ...).
constexpr std::uint64_t kValidationStream = 0x76616c69;  // "vali"

// Copies of every parameter and buffer of a module, to go back to.
std::vector<torch::Tensor> snapshot(const torch::nn::Module& model) {
  std::vector<torch::Tensor> copies;
  for (const auto& t : model.parameters()) copies.push_back(t.detach().clone());
  for (const auto& t : model.buffers()) copies.push_back(t.detach().clone());
  return copies;
}

void restore(torch::nn::Module& model, const std::vector<torch::Tensor>& copies) {
  torch::NoGradGuard no_grad;
  std::size_t i = 0;
  for (auto& t : model.parameters()) t.copy_(copies[i++]);
  for (auto& t : model.buffers()) t.copy_(copies[i++]);
}

}  // namespace

TrainHistory train_model(Classifier& model, const data::Split& train, const data::Split& test,
                         const TrainOptions& options, const TrainHooks& hooks) {
  if (options.epochs < 1) throw ModelError("epochs must be >= 1");
  check_split(train, "training");
  check_split(test, "test");
  const auto held_out = options.validation_items;
  if (held_out < 0 || (held_out > 0 && held_out >= train.size())) {
    throw ModelError("validation items must be in [0, " + std::to_string(train.size()) +
                     ") (the training split's size), got " + std::to_string(held_out));
  }
  // Split off the validation samples; the loss hook keeps seeing rows of `train`.
  data::Split fit = train, validation;
  TrainHooks fit_hooks = hooks;
  if (held_out > 0) {
    auto gen = at::make_generator<at::CPUGeneratorImpl>(
        derive_seed(options.validation_seed.value_or(options.seed), kValidationStream));
    const auto order = at::randperm(train.size(), gen, at::kLong);
    const auto held = std::get<0>(order.narrow(0, 0, held_out).sort());
    const auto kept = std::get<0>(order.narrow(0, held_out, train.size() - held_out).sort());
    validation = {train.images.index_select(0, held), train.labels.index_select(0, held)};
    fit = {train.images.index_select(0, kept), train.labels.index_select(0, kept), train.augmentation};
    if (hooks.loss) {
      fit_hooks.loss = [kept, loss = hooks.loss](const torch::Tensor& logits, const torch::Tensor& labels,
                                                 const torch::Tensor& rows) {
        return loss(logits, labels, kept.index_select(0, rows));
      };
    }
  }
  auto optimizer = make_optimizer(model, options.optimizer);
  TrainHistory h;
  std::vector<torch::Tensor> best;
  double best_accuracy = -1.0;
  std::int64_t step = 0;
  std::int64_t epoch = 0;
  EpochProgress progress;
  // train_model's own part of a saved state, beside the epoch's (save_epoch).
  const auto save_loop = [&](TensorState& out, std::int64_t at_epoch) {
    out["train.epoch"] = state_value(static_cast<double>(at_epoch));
    out["train.step"] = state_value(static_cast<double>(step));
    out["train.train_loss"] = state_value(h.train_loss);
    out["train.train_accuracy"] = state_value(h.train_accuracy);
    out["train.test_loss"] = state_value(h.test_loss);
    out["train.test_accuracy"] = state_value(h.test_accuracy);
    out["train.validation_accuracy"] = state_value(h.validation_accuracy);
    out["train.best_epoch"] = state_value(static_cast<double>(h.best_epoch));
    out["train.best_accuracy"] = state_value(best_accuracy);
    out["train.final_accuracy"] = state_value(h.final_test.accuracy);
    out["train.final_loss"] = state_value(h.final_test.loss);
    out["train.final_samples"] = state_value(static_cast<double>(h.final_test.samples));
    out["train.best_count"] = state_value(static_cast<double>(best.size()));
    for (std::size_t i = 0; i < best.size(); ++i) out["train.best." + std::to_string(i)] = best[i];
  };
  if (options.resume != nullptr) {
    const TensorState& in = *options.resume;
    const std::string& origin = options.resume_origin;
    progress = restore_epoch(in, model, *optimizer, origin);
    epoch = state_int(in, "train.epoch", origin);
    step = state_int(in, "train.step", origin);
    h.train_loss = state_vector(in, "train.train_loss", origin);
    h.train_accuracy = state_vector(in, "train.train_accuracy", origin);
    h.test_loss = state_vector(in, "train.test_loss", origin);
    h.test_accuracy = state_vector(in, "train.test_accuracy", origin);
    h.validation_accuracy = state_vector(in, "train.validation_accuracy", origin);
    h.best_epoch = state_int(in, "train.best_epoch", origin);
    best_accuracy = state_double(in, "train.best_accuracy", origin);
    h.final_test.accuracy = state_double(in, "train.final_accuracy", origin);
    h.final_test.loss = state_double(in, "train.final_loss", origin);
    h.final_test.samples = state_int(in, "train.final_samples", origin);
    const auto count = state_int(in, "train.best_count", origin);
    for (std::int64_t i = 0; i < count; ++i)
      best.push_back(state_tensor(in, "train.best." + std::to_string(i), origin));
    if (epoch > options.epochs || static_cast<std::int64_t>(h.train_loss.size()) != epoch) {
      throw CheckpointError(origin + ": a state at epoch " + std::to_string(epoch) + " of a run of " +
                            std::to_string(options.epochs) + " epochs");
    }
  }
  if (hooks.boundary) {
    fit_hooks.boundary = [&](const StateSaver& save_epoch_state, bool epoch_end) {
      hooks.boundary(
          [&](TensorState& out) {
            save_epoch_state(out);
            save_loop(out, epoch);
          },
          epoch_end);
    };
  }
  for (; epoch < options.epochs; ++epoch) {
    set_learning_rate(*optimizer,
                      scheduled_lr(options.schedule, options.optimizer.lr, epoch, options.epochs));
    const auto r = train_epoch(model, *optimizer, fit, options.batch_size,
                               derive_seed(options.seed, static_cast<std::uint64_t>(epoch)), fit_hooks, step,
                               std::exchange(progress, EpochProgress{}));
    step += r.steps;
    h.train_loss.push_back(r.loss);
    h.train_accuracy.push_back(r.accuracy);
    if (hooks.after_epoch) hooks.after_epoch(epoch);
    if (held_out > 0) {
      const double accuracy = evaluate(model, validation).accuracy;
      h.validation_accuracy.push_back(accuracy);
      if (accuracy > best_accuracy) {
        best_accuracy = accuracy;
        h.best_epoch = epoch;
        best = snapshot(model);
      }
    }
    if (options.evaluate_each_epoch || epoch + 1 == options.epochs) {
      h.final_test = evaluate(model, test);
      h.test_loss.push_back(h.final_test.loss);
      h.test_accuracy.push_back(h.final_test.accuracy);
    }
    // The end of an epoch is a resumable moment too: the next epoch's first batch.
    if (hooks.boundary) {
      hooks.boundary(
          [&](TensorState& out) {
            save_epoch(out, model, *optimizer, EpochProgress{});
            save_loop(out, epoch + 1);
          },
          /*epoch_end=*/true);
    }
    if (hooks.check_cancelled && epoch + 1 < options.epochs) hooks.check_cancelled();
  }
  if (held_out > 0 && h.best_epoch + 1 != options.epochs) {
    restore(model, best);
    h.final_test = evaluate(model, test);
  }
  return h;
}

ResumePosition resume_position(const TensorState& state, const std::string& origin) {
  return {state_int(state, "train.epoch", origin), state_int(state, "epoch.batches", origin)};
}

void save_checkpoint(const torch::nn::Module& model, const std::string& path) {
  const std::string tmp = path + ".tmp";
  try {
    torch::serialize::OutputArchive archive;
    model.save(archive);
    archive.save_to(tmp);
  } catch (const c10::Error& e) {
    std::remove(tmp.c_str());
    throw CheckpointError(path + ": cannot write checkpoint: " + e.what_without_backtrace());
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    std::remove(tmp.c_str());
    throw CheckpointError(path + ": cannot move checkpoint into place");
  }
}

namespace {

// Reads every parameter and buffer of \p module from \p archive into \p pairs (destination,
// value read), checking names and shapes: Module::load would silently resize a mismatched tensor.
void read_matching(const torch::nn::Module& module, torch::serialize::InputArchive& archive,
                   const std::string& prefix, const std::string& path,
                   std::vector<std::pair<torch::Tensor, torch::Tensor>>& pairs) {
  const auto read = [&](const std::string& key, const torch::Tensor& target, bool is_buffer) {
    torch::Tensor value;
    if (!archive.try_read(key, value, is_buffer)) {
      throw CheckpointError(path + ": has no " + prefix + key + " (a checkpoint of another model?)");
    }
    if (value.sizes() != target.sizes()) {
      throw CheckpointError(path + ": " + prefix + key + " has shape " + c10::str(value.sizes()) +
                            ", this model's has " + c10::str(target.sizes()));
    }
    pairs.emplace_back(target, value);
  };
  for (const auto& p : module.named_parameters(/*recurse=*/false)) read(p.key(), p.value(), false);
  for (const auto& b : module.named_buffers(/*recurse=*/false)) read(b.key(), b.value(), true);
  for (const auto& child : module.named_children()) {
    torch::serialize::InputArchive sub;
    if (!archive.try_read(child.key(), sub)) {
      throw CheckpointError(path + ": has no module " + prefix + child.key());
    }
    read_matching(*child.value(), sub, prefix + child.key() + ".", path, pairs);
  }
}

}  // namespace

void load_checkpoint(torch::nn::Module& model, const std::string& path) {
  std::vector<std::pair<torch::Tensor, torch::Tensor>> pairs;
  try {
    torch::serialize::InputArchive archive;
    archive.load_from(path);
    read_matching(model, archive, "", path, pairs);
  } catch (const c10::Error& e) {
    throw CheckpointError(path + ": cannot load checkpoint: " + e.what_without_backtrace());
  }
  // Only once everything matched: a failed load leaves the model untouched.
  torch::NoGradGuard no_grad;
  for (auto& [target, value] : pairs) target.copy_(value);
}

}  // namespace xbarsweep::nn
