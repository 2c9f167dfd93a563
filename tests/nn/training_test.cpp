// Training loops: learning, determinism, hooks, cancellation, checkpoints.
#include "xbarsweep/nn/training.hpp"

#include <ATen/CPUGeneratorImpl.h>
#include <gtest/gtest.h>
#include <torch/torch.h>
#include <unistd.h>

#include <filesystem>

#include "xbarsweep/data/dataset.hpp"
#include "xbarsweep/error.hpp"
#include "xbarsweep/nn/models.hpp"

using namespace xbarsweep;
using namespace xbarsweep::nn;

namespace {

data::Dataset small_synthetic() {
  data::LoadOptions o;
  o.name = "synthetic";
  o.train_subset = 1000;
  o.test_subset = 500;
  return data::load_dataset(o);
}

std::shared_ptr<Classifier> small_mlp(std::uint64_t seed) {
  ModelOptions o;
  o.hidden = {32};
  o.seed = seed;
  return make_model("mlp", o);
}

TEST(Training, MlpLearnsTheSyntheticSet) {
  const auto ds = small_synthetic();
  auto model = small_mlp(1);
  const double before = evaluate(*model, ds.test).accuracy;
  TrainOptions t;
  t.epochs = 2;
  t.seed = 3;
  const auto h = train_model(*model, ds.train, ds.test, t);
  ASSERT_EQ(h.train_loss.size(), 2u);
  ASSERT_EQ(h.test_accuracy.size(), 2u);
  EXPECT_LT(h.train_loss[1], h.train_loss[0]);
  EXPECT_LT(before, 0.3);
  EXPECT_GT(h.final_test.accuracy, 0.9);
  EXPECT_EQ(h.final_test.samples, 500);
  EXPECT_DOUBLE_EQ(h.final_test.accuracy, h.test_accuracy.back());
}

TEST(Training, AdamAndLeNetLearnToo) {
  const auto ds = small_synthetic();
  ModelOptions m;
  m.seed = 2;
  auto model = make_model("lenet5", m);
  TrainOptions t;
  t.optimizer.name = "adam";
  t.optimizer.lr = 2e-3;
  t.epochs = 2;
  const auto h = train_model(*model, ds.train, ds.test, t);
  EXPECT_GT(h.final_test.accuracy, 0.8);
}

TEST(Training, CosineScheduleStartsAtTheRateAndDecaysEachEpoch) {
  EXPECT_DOUBLE_EQ(scheduled_lr(LrSchedule::constant, 0.1, 3, 4), 0.1);
  EXPECT_DOUBLE_EQ(scheduled_lr(LrSchedule::cosine, 0.1, 0, 4), 0.1);
  EXPECT_NEAR(scheduled_lr(LrSchedule::cosine, 0.1, 2, 4), 0.05, 1e-15);
  EXPECT_NEAR(scheduled_lr(LrSchedule::cosine, 0.1, 3, 4), 0.1 * (1.0 - std::sqrt(0.5)) / 2.0, 1e-15);
  EXPECT_EQ(lr_schedule_from_string("cosine"), LrSchedule::cosine);
  EXPECT_THROW(lr_schedule_from_string("step"), xbarsweep::ModelError);

  // train_model applies the schedule: the first epoch matches a constant rate, later ones differ.
  const auto ds = small_synthetic();
  auto model = small_mlp(4);
  TrainOptions t;
  t.epochs = 4;
  t.schedule = LrSchedule::cosine;
  t.optimizer.lr = 0.1;
  const auto h = train_model(*model, ds.train, ds.test, t);
  EXPECT_EQ(h.train_loss.size(), 4u);
  auto plain = small_mlp(4);
  t.schedule = LrSchedule::constant;
  const auto g = train_model(*plain, ds.train, ds.test, t);
  EXPECT_EQ(g.train_loss[0], h.train_loss[0]);  // epoch 0 runs at the same rate
  EXPECT_NE(g.train_loss[3], h.train_loss[3]);  // later epochs do not
}

TEST(Training, SameSeedsGiveIdenticalResults) {
  const auto ds = small_synthetic();
  TrainOptions t;
  t.epochs = 2;
  t.seed = 9;
  auto a = small_mlp(4), b = small_mlp(4), c = small_mlp(4);
  const auto ha = train_model(*a, ds.train, ds.test, t);
  const auto hb = train_model(*b, ds.train, ds.test, t);
  EXPECT_EQ(ha.train_loss, hb.train_loss);
  EXPECT_EQ(ha.test_accuracy, hb.test_accuracy);
  EXPECT_EQ(ha.final_test.loss, hb.final_test.loss);
  t.seed = 10;  // another shuffling
  const auto hc = train_model(*c, ds.train, ds.test, t);
  EXPECT_NE(ha.train_loss, hc.train_loss);
}

TEST(Training, HooksSeeEveryStepAndCanZeroTheUpdate) {
  const auto ds = small_synthetic();
  auto model = small_mlp(1);
  auto optimizer = make_optimizer(*model, OptimizerOptions{});
  const auto before = model->parameters()[0].clone();
  std::vector<std::int64_t> steps;
  TrainHooks hooks;
  hooks.before_step = [&](std::int64_t step) {
    steps.push_back(step);
    for (auto& p : model->parameters()) p.mutable_grad().zero_();  // a hook may rewrite gradients
  };
  std::int64_t after = 0;
  hooks.after_step = [&](std::int64_t) { ++after; };
  const auto r = train_epoch(*model, *optimizer, ds.train, 100, 1, hooks, 7);
  EXPECT_EQ(r.steps, 10);
  EXPECT_EQ(r.samples, 1000);
  EXPECT_EQ(after, 10);
  ASSERT_EQ(steps.size(), 10u);
  EXPECT_EQ(steps.front(), 7);
  EXPECT_EQ(steps.back(), 16);
  EXPECT_TRUE(model->parameters()[0].equal(before)) << "zero gradients, no weight decay: no change";
}

// distillation_loss is Hinton's: (1 - a) CE + a T^2 KL(softmax(t / T) || softmax(s / T)), the KL
// averaged over the batch; computed here by hand from the probabilities.
TEST(Distillation, LossMatchesItsDefinition) {
  auto gen = at::make_generator<at::CPUGeneratorImpl>(5);
  const auto teacher = torch::randn({6, 4}, gen) * 3.0;  // the "training split": 6 samples
  const auto student = torch::randn({3, 4}, gen);
  const auto rows = torch::tensor({4, 0, 2}, torch::kLong);
  const auto labels = torch::tensor({1, 3, 0}, torch::kLong);
  const double T = 2.5;
  const auto q = torch::softmax(teacher.index_select(0, rows) / T, 1).to(torch::kDouble);
  const auto p = torch::softmax(student / T, 1).to(torch::kDouble);
  const double kl = (q * (q.log() - p.log())).sum().item<double>() / 3.0;
  const double ce = torch::nn::functional::cross_entropy(student, labels).item<double>();
  for (const double a : {0.0, 0.3, 1.0}) {
    const double got = distillation_loss(teacher, a, T)(student, labels, rows).item<double>();
    EXPECT_NEAR(got, (1 - a) * ce + a * T * T * kl, 1e-5 * (1 + std::abs(got))) << "alpha " << a;
  }
  // A student that matches the teacher has nothing to learn from it: zero loss and gradient.
  auto same = teacher.index_select(0, rows).clone().requires_grad_(true);
  const auto zero = distillation_loss(teacher, 1.0, T)(same, labels, rows);
  zero.backward();
  EXPECT_NEAR(zero.item<double>(), 0.0, 1e-6);
  EXPECT_LT(same.grad().abs().max().item<double>(), 1e-6);
  EXPECT_THROW(distillation_loss(teacher, 1.5, T), xbarsweep::ModelError);
  EXPECT_THROW(distillation_loss(teacher, 0.5, 0.0), xbarsweep::ModelError);
  EXPECT_THROW(distillation_loss(teacher.flatten(), 0.5, T), xbarsweep::ModelError);
}

// train_model minimises hooks.loss, with each batch's rows of the training split: a student
// distilled (alpha 1) from a "teacher" that names label (y + 1) mod 10 learns that mapping, not
// the labels it is given.
TEST(Distillation, TrainingFollowsTheLossHookAndItsRows) {
  const auto ds = small_synthetic();
  auto model = small_mlp(1);
  const auto shifted = (ds.train.labels + 1).remainder(10);
  const auto teacher = torch::one_hot(shifted, 10).to(torch::kFloat) * 8.0;
  TrainHooks hooks;
  hooks.loss = distillation_loss(teacher, 1.0, 1.0);
  TrainOptions t;
  t.epochs = 3;
  t.seed = 2;
  train_model(*model, ds.train, ds.test, t, hooks);
  const auto predicted = predict_logits(*model, ds.train).argmax(1);
  ASSERT_EQ(predicted.size(0), ds.train.size());
  EXPECT_GT(predicted.eq(shifted).to(torch::kDouble).mean().item<double>(), 0.9);
  EXPECT_LT(predicted.eq(ds.train.labels).to(torch::kDouble).mean().item<double>(), 0.1);
  // predict_logits and evaluate agree.
  EXPECT_DOUBLE_EQ(evaluate(*model, ds.train).accuracy,
                   predicted.eq(ds.train.labels).to(torch::kDouble).mean().item<double>());
}

// Validation: a fixed held-out draw never trained on; the loss hook still gets rows of the split
// it was given; the model ends with its best validation epoch's weights.
TEST(Validation, HeldOutItemsAreNotTrainedOnAndTheBestEpochIsKept) {
  const auto ds = small_synthetic();
  auto model = small_mlp(1);
  TrainOptions t;
  t.epochs = 4;
  t.seed = 5;
  t.validation_items = 200;
  std::vector<std::int64_t> seen(static_cast<std::size_t>(ds.train.size()), 0);
  bool labels_match = true;
  TrainHooks hooks;
  hooks.loss = [&](const torch::Tensor& logits, const torch::Tensor& labels, const torch::Tensor& rows) {
    labels_match = labels_match && labels.equal(ds.train.labels.index_select(0, rows));
    for (const auto r : std::vector<std::int64_t>(rows.data_ptr<std::int64_t>(),
                                                  rows.data_ptr<std::int64_t>() + rows.numel())) {
      ++seen[static_cast<std::size_t>(r)];
    }
    return torch::nn::functional::cross_entropy(logits, labels);
  };
  // Wreck the weights after the last epoch: its validation accuracy falls to chance, so the
  // model must come back to an earlier epoch's weights.
  hooks.after_epoch = [&](std::int64_t epoch) {
    if (epoch + 1 == t.epochs) {
      torch::NoGradGuard no_grad;
      for (auto& w : model->parameters()) w.zero_();
    }
  };
  const auto h = train_model(*model, ds.train, ds.test, t, hooks);
  EXPECT_TRUE(labels_match);
  std::int64_t never = 0;
  for (const auto n : seen) {
    EXPECT_TRUE(n == 0 || n == t.epochs) << "a row trained on in some epochs only";
    never += n == 0;
  }
  EXPECT_EQ(never, t.validation_items);
  ASSERT_EQ(h.validation_accuracy.size(), 4u);
  EXPECT_LT(h.validation_accuracy.back(), 0.2);
  ASSERT_GE(h.best_epoch, 0);
  ASSERT_LT(h.best_epoch, 3);
  EXPECT_GT(h.validation_accuracy[static_cast<std::size_t>(h.best_epoch)], 0.9);
  for (const auto a : h.validation_accuracy) {
    EXPECT_LE(a, h.validation_accuracy[static_cast<std::size_t>(h.best_epoch)]);
  }
  // The kept weights are the best epoch's: the test figures are that epoch's, not the wreck's.
  EXPECT_DOUBLE_EQ(h.final_test.accuracy, h.test_accuracy[static_cast<std::size_t>(h.best_epoch)]);
  EXPECT_DOUBLE_EQ(evaluate(*model, ds.test).accuracy, h.final_test.accuracy);
  EXPECT_LT(h.test_accuracy.back(), 0.2);
}

TEST(Validation, TheHeldOutDrawDependsOnTheSeedOnlyAndMustLeaveTrainingItems) {
  const auto ds = small_synthetic();
  const auto rows_trained = [&](std::uint64_t seed, std::int64_t epochs,
                                std::optional<std::uint64_t> validation_seed = std::nullopt) {
    auto model = small_mlp(1);
    auto seen = torch::zeros({ds.train.size()}, torch::kLong);
    TrainHooks hooks;
    hooks.loss = [&](const torch::Tensor& logits, const torch::Tensor& labels, const torch::Tensor& rows) {
      seen.index_fill_(0, rows, 1);
      return torch::nn::functional::cross_entropy(logits, labels);
    };
    TrainOptions t;
    t.epochs = epochs;
    t.seed = seed;
    t.validation_items = 300;
    t.validation_seed = validation_seed;
    train_model(*model, ds.train, ds.test, t, hooks);
    return seen;
  };
  const auto a = rows_trained(7, 1);
  EXPECT_TRUE(a.equal(rows_trained(7, 2)));  // same seed, another budget: same held-out items
  EXPECT_FALSE(a.equal(rows_trained(8, 1)));
  // A separate validation seed (fine-tuning another run's model) draws that run's items.
  EXPECT_TRUE(a.equal(rows_trained(8, 1, 7)));
  EXPECT_FALSE(a.equal(rows_trained(7, 1, 8)));
  EXPECT_EQ(a.sum().item<std::int64_t>(), ds.train.size() - 300);

  auto model = small_mlp(1);
  TrainOptions t;
  t.validation_items = ds.train.size();
  EXPECT_THROW(train_model(*model, ds.train, ds.test, t), xbarsweep::ModelError);
  t.validation_items = -1;
  EXPECT_THROW(train_model(*model, ds.train, ds.test, t), xbarsweep::ModelError);
}

TEST(Training, CancellationStopsBetweenBatches) {
  const auto ds = small_synthetic();
  auto model = small_mlp(1);
  struct Stop {};
  int calls = 0;
  TrainHooks hooks;
  hooks.check_cancelled = [&] {
    if (++calls == 4) throw Stop{};
  };
  TrainOptions t;
  t.epochs = 5;
  EXPECT_THROW(train_model(*model, ds.train, ds.test, t, hooks), Stop);
  EXPECT_EQ(calls, 4);
}

TEST(Training, BadOptionsAreRejected) {
  auto model = small_mlp(1);
  OptimizerOptions o;
  o.name = "rmsprop";
  EXPECT_THROW(make_optimizer(*model, o), xbarsweep::ModelError);
  o = {};
  o.lr = 0.0;
  EXPECT_THROW(make_optimizer(*model, o), xbarsweep::ModelError);
  o = {};
  o.momentum = 1.0;
  EXPECT_THROW(make_optimizer(*model, o), xbarsweep::ModelError);
  const auto ds = small_synthetic();
  TrainOptions t;
  t.epochs = 0;
  EXPECT_THROW(train_model(*model, ds.train, ds.test, t), xbarsweep::ModelError);
}

TEST(Checkpoint, RoundTripsAndRejectsAnotherModel) {
  const auto dir = std::filesystem::temp_directory_path() / ("xbarsweep_ckpt_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const auto path = (dir / "lenet.pt").string();
  ModelOptions o;
  o.seed = 1;
  auto a = make_model("lenet5", o);
  save_checkpoint(*a, path);
  EXPECT_FALSE(std::filesystem::exists(path + ".tmp"));
  o.seed = 2;
  auto b = make_model("lenet5", o);
  load_checkpoint(*b, path);
  a->eval();
  b->eval();
  const auto x = torch::randn({4, 1, 28, 28});
  EXPECT_TRUE(a->forward(x).equal(b->forward(x)));

  auto mlp = small_mlp(1);
  const auto untouched = mlp->parameters()[0].clone();
  EXPECT_THROW(load_checkpoint(*mlp, path), CheckpointError);
  EXPECT_TRUE(mlp->parameters()[0].equal(untouched)) << "a failed load changes nothing";
  EXPECT_EQ(mlp->parameters()[0].sizes(), untouched.sizes());
  EXPECT_THROW(load_checkpoint(*make_model("vgg16",
                                           [] {
                                             ModelOptions v;
                                             v.image_size = 32;
                                             v.width = 0.125;
                                             return v;
                                           }()),
                               path),
               CheckpointError);
  const auto garbage = (dir / "garbage.pt").string();
  std::FILE* f = std::fopen(garbage.c_str(), "wb");
  std::fputs("not a checkpoint", f);
  std::fclose(f);
  EXPECT_THROW(load_checkpoint(*b, garbage), CheckpointError);
  EXPECT_THROW(load_checkpoint(*b, (dir / "absent.pt").string()), CheckpointError);
  std::filesystem::remove_all(dir);
}

}  // namespace
