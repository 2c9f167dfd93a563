// Kind `train`: schema, learning on synthetic data, determinism by seed, cancellation.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <thread>

#include "kind_test_support.hpp"
#include "xbarsweep/data/dataset.hpp"
#include "xbarsweep/kinds/builtin.hpp"

using namespace xbarsweep;

namespace {

std::unique_ptr<kinds::Kind> kind() { return kinds::make_train_kind(); }

// The schema's defaults, a quick synthetic point, and \p overrides.
config::Params params(std::int64_t seed,
                      const std::vector<std::pair<std::string, config::Value>>& overrides = {}) {
  config::Params p;
  const auto schema = kind()->schema();
  for (const auto& spec : schema.specs()) p.set(spec.path, spec.default_value);
  p.set("seed", seed);
  p.set("data.name", std::string("synthetic"));
  p.set("data.subset", std::int64_t{2000});
  p.set("data.test_subset", std::int64_t{500});
  p.set("model.name", std::string("mlp"));
  p.set("model.hidden", std::int64_t{32});
  for (const auto& [path, value] : overrides) p.set(path, value);
  return p;
}

TEST(TrainKind, SchemaHasTheSharedParameters) {
  const auto schema = kind()->schema();
  const auto expect = [&](const char* path, config::ValueType type) {
    const auto* spec = schema.find(path);
    ASSERT_NE(spec, nullptr) << path;
    EXPECT_EQ(spec->type, type) << path;
    EXPECT_EQ(config::type_of(spec->default_value), type) << path;
  };
  expect("train.lr", config::ValueType::Real);
  expect("train.momentum", config::ValueType::Real);
  expect("train.epochs", config::ValueType::Int);
  expect("train.batch_size", config::ValueType::Int);
  expect("train.optimizer", config::ValueType::String);
  expect("train.weight_decay", config::ValueType::Real);
  expect("data.name", config::ValueType::String);
  expect("data.dir", config::ValueType::String);
  expect("data.subset", config::ValueType::Int);
  expect("data.test_subset", config::ValueType::Int);
  expect("model.name", config::ValueType::String);
  expect("model.hidden", config::ValueType::Int);
  const auto& models = schema.find("model.name")->choices;
  EXPECT_NE(std::find(models.begin(), models.end(), "mlp"), models.end());
  EXPECT_NE(std::find(models.begin(), models.end(), "lenet5"), models.end());
  EXPECT_DOUBLE_EQ(std::get<double>(schema.find("train.lr")->default_value), 0.05);
  EXPECT_EQ(std::get<std::int64_t>(schema.find("train.epochs")->default_value), 2);
  EXPECT_NE(kinds::builtin_kinds().find("train"), nullptr);
}

TEST(TrainKind, LearnsTheSyntheticSetInSeconds) {
  const auto t0 = std::chrono::steady_clock::now();
  const auto out = kind()->run(params(1), kinds::PointContext{});
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_GT(out.metrics.at("accuracy"), 0.8);
  EXPECT_GT(out.metrics.at("train_accuracy"), 0.8);
  EXPECT_GT(out.metrics.at("loss"), 0.0);
  EXPECT_EQ(out.metrics.at("parameters"), 784 * 32 + 32 + 32 * 10 + 10);
  EXPECT_GT(out.metrics.at("wall_s"), 0.0);
  ASSERT_EQ(out.arrays.at("loss").size(), 2u);
  ASSERT_EQ(out.arrays.at("test_accuracy").size(), 2u);
  EXPECT_DOUBLE_EQ(out.arrays.at("test_accuracy").back(), out.metrics.at("accuracy"));
  EXPECT_LT(seconds, 20.0);
}

TEST(TrainKind, LeNet5WithAdamLearnsToo) {
  const auto out = kind()->run(params(2, {{"model.name", std::string("lenet5")},
                                          {"train.optimizer", std::string("adam")},
                                          {"train.lr", 2e-3}}),
                               kinds::PointContext{});
  EXPECT_GT(out.metrics.at("accuracy"), 0.8);
}

TEST(TrainKind, ResultDependsOnlyOnParams) {
  const auto a = kind()->run(params(7), kinds::PointContext{});
  const auto b = kind()->run(params(7), kinds::PointContext{});
  const auto c = kind()->run(params(8), kinds::PointContext{});
  for (const char* m : {"accuracy", "loss", "train_accuracy", "parameters"}) {
    EXPECT_EQ(a.metrics.at(m), b.metrics.at(m)) << m;
  }
  EXPECT_EQ(a.arrays.at("loss"), b.arrays.at("loss"));
  EXPECT_EQ(a.arrays.at("test_accuracy"), b.arrays.at("test_accuracy"));
  EXPECT_NE(a.arrays.at("loss"), c.arrays.at("loss")) << "another seed, another run";
}

TEST(TrainKind, CancellationThrowsCancelled) {
  std::atomic<bool> stop{true};
  kinds::PointContext context;
  context.stop = &stop;
  EXPECT_THROW(kind()->run(params(1), context), kinds::Cancelled);

  // Stopped mid-training: a long run ends soon after the flag is set.
  stop = false;
  std::thread stopper([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    stop = true;
  });
  const auto t0 = std::chrono::steady_clock::now();
  EXPECT_THROW(kind()->run(params(1, {{"train.epochs", std::int64_t{1000}}}), context), kinds::Cancelled);
  stopper.join();
  EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(), 10.0);
}

TEST(TrainKind, CostHintGrowsWithWork) {
  const auto k = kind();
  const double base = k->cost_hint(params(1));
  EXPECT_GT(base, 0.0);
  EXPECT_DOUBLE_EQ(k->cost_hint(params(1, {{"train.epochs", std::int64_t{4}}})), 2.0 * base);
  EXPECT_DOUBLE_EQ(k->cost_hint(params(1, {{"data.subset", std::int64_t{4000}}})), 2.0 * base);
  EXPECT_GT(k->cost_hint(params(1, {{"model.name", std::string("lenet5")}})), base);
  EXPECT_GT(k->cost_hint(
                params(1, {{"data.name", std::string("fashion-mnist")}, {"data.subset", std::int64_t{0}}})),
            base);
}

TEST(TrainKind, MissingDataIsADataError) {
  EXPECT_THROW(kind()->run(params(1, {{"data.name", std::string("fashion-mnist")},
                                      {"data.dir", std::string("/nonexistent/fmnist")}}),
                           kinds::PointContext{}),
               data::DataError);
}

}  // namespace

namespace {

// The quickstart point on the real data: 5000 training and 2000 test items, 2 epochs.
TEST(TrainKind, QuickstartOnFashionMnist) {
  if (!std::ifstream(std::string(data::kDefaultFashionMnistDir) + "/train-images-idx3-ubyte.gz").good()) {
    GTEST_SKIP() << "dataset-fashion-mnist not installed";
  }
  for (const char* model : {"mlp", "lenet5", "mlp"}) {  // the second mlp reads cached files
    const auto out = kind()->run(params(1, {{"data.name", std::string("fashion-mnist")},
                                            {"data.subset", std::int64_t{5000}},
                                            {"data.test_subset", std::int64_t{2000}},
                                            {"model.name", std::string(model)},
                                            {"model.hidden", std::int64_t{128}}}),
                                 kinds::PointContext{});
    std::printf("quickstart %-6s: accuracy %.4f  loss %.4f  wall %.2f s\n", model, out.metrics.at("accuracy"),
                out.metrics.at("loss"), out.metrics.at("wall_s"));
    EXPECT_GT(out.metrics.at("accuracy"), 0.7) << model;
  }
}

}  // namespace

// hwa.enabled trains on perturbed weights: seeded (the same result twice), not plain training's,
// and a point with nothing to perturb is refused by the checks before any work.
TEST(TrainKind, HardwareAwareTrainingIsSeededAndRefusedWithNothingToPerturb) {
  const auto aware = params(7, {{"hwa.enabled", true},
                                {"crossbar.levels", std::int64_t{8}},
                                {"crossbar.sigma", 0.1},
                                {"train.epochs", std::int64_t{1}}});
  const auto a = kind()->run(aware, kinds::PointContext{});
  const auto b = kind()->run(aware, kinds::PointContext{});
  const auto plain = kind()->run(params(7, {{"train.epochs", std::int64_t{1}}}), kinds::PointContext{});
  EXPECT_EQ(a.metrics.at("accuracy"), b.metrics.at("accuracy"));
  EXPECT_EQ(a.arrays.at("loss"), b.arrays.at("loss"));
  EXPECT_NE(a.arrays.at("loss"), plain.arrays.at("loss"));
  EXPECT_GT(a.metrics.at("accuracy"), 0.5);
  const auto problem = test_support::first_problem(*kind(), params(7, {{"hwa.enabled", true}}));
  ASSERT_TRUE(problem.has_value());
  EXPECT_EQ(problem->key, "hwa.enabled");
  // A forward-pass option without the periphery it would use is refused, naming it.
  for (const char* option : {"hwa.adc", "hwa.dac"}) {
    const auto without =
        test_support::first_problem(*kind(), params(7, {{"hwa.enabled", true}, {option, true}}));
    ASSERT_TRUE(without.has_value()) << option;
    EXPECT_EQ(without->key, option);
  }
  const auto noise = test_support::first_problem(
      *kind(), params(7, {{"hwa.enabled", true},
                          {"hwa.read_noise", 1.0},
                          {"crossbar.read_noise", 0.01},
                          {"crossbar.read_noise_mode", std::string("proportional")}}));
  ASSERT_TRUE(noise.has_value());
  EXPECT_EQ(noise->key, "hwa.read_noise");
  // With the periphery present they are something to perturb on their own.
  EXPECT_FALSE(test_support::first_problem(*kind(), params(7, {{"hwa.enabled", true},
                                                               {"hwa.adc", true},
                                                               {"crossbar.adc_bits", std::int64_t{8}}}))
                   .has_value());
}

// The crossbar forward pass in training (DAC, ADC, read noise): seeded, and not plain training.
TEST(TrainKind, HardwareAwareForwardOptionsTrainSeeded) {
  const auto aware = params(7, {{"hwa.enabled", true},
                                {"hwa.adc", true},
                                {"hwa.dac", true},
                                {"hwa.read_noise", 1.0},
                                {"hwa.quantize", false},
                                {"crossbar.adc_bits", std::int64_t{6}},
                                {"crossbar.dac_bits", std::int64_t{6}},
                                {"crossbar.read_noise", 0.05},
                                {"train.epochs", std::int64_t{1}}});
  const auto a = kind()->run(aware, kinds::PointContext{});
  const auto b = kind()->run(aware, kinds::PointContext{});
  const auto plain = kind()->run(params(7, {{"train.epochs", std::int64_t{1}}}), kinds::PointContext{});
  EXPECT_EQ(a.arrays.at("loss"), b.arrays.at("loss"));
  EXPECT_NE(a.arrays.at("loss"), plain.arrays.at("loss"));
  EXPECT_GT(a.metrics.at("accuracy"), 0.5);
}
