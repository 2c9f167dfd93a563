// Kind `clstm`: schema, learning on synthetic sequences at k = 1 and k = 4, determinism by seed,
// compression ratio, fixed point close to float, timings and operation counts present.
#include <gtest/gtest.h>
#include <unistd.h>

#include <Kokkos_Core.hpp>
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>

#include "kind_test_support.hpp"
#include "xbarsweep/error.hpp"
#include "xbarsweep/kinds/builtin.hpp"

using namespace xbarsweep;

namespace {

// The FFT inference engine needs Kokkos once per process; gtest_main provides main().
[[maybe_unused]] auto* const kokkos_environment = xbarsweep::test_support::start_kokkos();

std::unique_ptr<kinds::Kind> kind() { return kinds::make_clstm_kind(); }

// The schema's defaults, a quick synthetic point (hidden 32: every size divisible by k <= 4),
// and \p overrides.
config::Params params(std::int64_t seed,
                      const std::vector<std::pair<std::string, config::Value>>& overrides = {}) {
  config::Params p = xbarsweep::test_support::schema_defaults(*kind());
  p.set("seed", seed);
  p.set("data.name", std::string("synthetic"));
  p.set("data.subset", std::int64_t{1500});
  p.set("data.test_subset", std::int64_t{400});
  p.set("clstm.hidden", std::int64_t{32});
  p.set("clstm.projection", std::int64_t{16});
  p.set("clstm.block_size", std::int64_t{4});
  p.set("train.epochs", std::int64_t{2});
  p.set("train.batch_size", std::int64_t{50});
  p.set("train.lr", 5e-3);
  p.set("clstm.timing_sequences", std::int64_t{5});
  for (const auto& [path, value] : overrides) p.set(path, value);
  return p;
}

// A fresh directory for the dense LSTM that init projected/admm and distillation cache, removed
// with the test.
struct CacheDir {
  explicit CacheDir(const std::string& tag)
      : path(std::filesystem::temp_directory_path() /
             ("xbarsweep-clstm-" + tag + "-" + std::to_string(::getpid()))) {
    std::filesystem::remove_all(path);
    std::filesystem::create_directories(path);
  }
  ~CacheDir() { std::filesystem::remove_all(path); }
  kinds::PointContext context() const {
    kinds::PointContext c;
    c.cache_dir = path.string();
    return c;
  }
  int checkpoints() const {
    int n = 0;
    for (const auto& e : std::filesystem::directory_iterator(path)) n += e.path().extension() == ".pt";
    return n;
  }
  std::filesystem::path path;
};

void print(const char* what, const kinds::Outcome& out) {
  std::printf(
      "%-14s accuracy %.4f fixed %.4f compression %.3f params %.0f dense %.1f us circ %.1f us "
      "flops %.3g/%.3g wall %.2f s\n",
      what, out.metrics.at("accuracy"), out.metrics.at("fixed_accuracy"), out.metrics.at("compression_ratio"),
      out.metrics.at("parameters"), out.metrics.at("dense_us_per_seq"),
      out.metrics.at("circulant_us_per_seq"), out.metrics.at("dense_flops_per_seq"),
      out.metrics.at("circulant_flops_per_seq"), out.metrics.at("wall_s"));
}

TEST(ClstmKind, SchemaAndRegistry) {
  const auto schema = kind()->schema();
  for (const char* path :
       {"clstm.block_size", "clstm.variant", "clstm.hidden", "clstm.projection", "clstm.layers",
        "clstm.frac_bits", "clstm.int_bits", "clstm.pwl_segments", "train.lr", "train.epochs",
        "train.batch_size", "train.optimizer", "data.name", "data.subset", "data.test_subset"}) {
    EXPECT_NE(schema.find(path), nullptr) << path;
  }
  EXPECT_EQ(schema.find("data.pad"), nullptr) << "sequences are never padded";
  EXPECT_EQ(std::get<std::int64_t>(schema.find("clstm.frac_bits")->default_value), 10);
  EXPECT_EQ(std::get<std::int64_t>(schema.find("clstm.int_bits")->default_value), 5);
  EXPECT_EQ(std::get<std::int64_t>(schema.find("clstm.pwl_segments")->default_value), 20);
  EXPECT_EQ(std::get<std::string>(schema.find("train.optimizer")->default_value), "adam");
  EXPECT_NE(kinds::builtin_kinds().find("clstm"), nullptr);
}

// Above chance (0.1) by far, k = 4 compresses ~4x, fixed point within a few test items of float.
TEST(ClstmKind, CirculantLearnsAndCompresses) {
  const auto out = kind()->run(params(1), kinds::PointContext{});
  print("k=4 vanilla", out);
  EXPECT_GT(out.metrics.at("accuracy"), 0.6);
  EXPECT_LE(std::abs(out.metrics.at("fixed_accuracy_loss")), 0.02);
  EXPECT_DOUBLE_EQ(out.metrics.at("fixed_accuracy_loss"),
                   out.metrics.at("accuracy") - out.metrics.at("fixed_accuracy"));
  // Predictions the format changes: at least the net accuracy change, and few.
  EXPECT_LE(1.0 - out.metrics.at("fixed_agreement"), 0.05);
  EXPECT_GE(1.0 - out.metrics.at("fixed_agreement") + 1e-12, std::abs(out.metrics.at("fixed_accuracy_loss")));
  // Gate weights alone: exactly k (28 and 32 are multiples of 4); with biases: a bit less.
  EXPECT_DOUBLE_EQ(out.metrics.at("weight_compression_ratio"), 4.0);
  EXPECT_GT(out.metrics.at("compression_ratio"), 3.6);
  EXPECT_LT(out.metrics.at("compression_ratio"), 4.0);
  // Stored: 4 gates x (28*32 + 32*32) / 4 weights + 128 biases, plus the head 32*10 + 10.
  EXPECT_EQ(out.metrics.at("lstm_parameters"), 4 * (28 * 32 + 32 * 32) / 4 + 128);
  EXPECT_EQ(out.metrics.at("parameters"), out.metrics.at("lstm_parameters") + 330);
  EXPECT_GT(out.metrics.at("dense_us_per_seq"), 0.0);
  EXPECT_GT(out.metrics.at("circulant_us_per_seq"), 0.0);
  EXPECT_GT(out.metrics.at("circulant_speedup"), 0.0);
  EXPECT_DOUBLE_EQ(out.metrics.at("dense_flops_per_seq"), 28.0 * 2 * 4 * 32 * (28 + 32));
  EXPECT_GT(out.metrics.at("circulant_flops_per_seq"), 0.0);
  EXPECT_LT(out.metrics.at("circulant_flops_per_seq"), out.metrics.at("dense_flops_per_seq"));
  ASSERT_EQ(out.arrays.at("loss").size(), 2u);
  EXPECT_LT(out.arrays.at("loss").back(), out.arrays.at("loss").front());
}

TEST(ClstmKind, DenseLearnsAndIsItsOwnBaseline) {
  const auto out = kind()->run(params(1, {{"clstm.block_size", std::int64_t{1}}}), kinds::PointContext{});
  print("k=1 vanilla", out);
  EXPECT_GT(out.metrics.at("accuracy"), 0.6);
  EXPECT_LE(std::abs(out.metrics.at("fixed_accuracy_loss")), 0.02);
  EXPECT_DOUBLE_EQ(out.metrics.at("compression_ratio"), 1.0);
  EXPECT_DOUBLE_EQ(out.metrics.at("circulant_flops_per_seq"), out.metrics.at("dense_flops_per_seq"));
}

TEST(ClstmKind, EveryVariantRuns) {
  for (const char* variant : {"peephole", "projection", "google", "bidirectional"}) {
    const auto out =
        kind()->run(params(2, {{"clstm.variant", std::string(variant)}, {"train.epochs", std::int64_t{1}}}),
                    kinds::PointContext{});
    print(variant, out);
    EXPECT_GT(out.metrics.at("accuracy"), 0.3) << variant;
    EXPECT_GT(out.metrics.at("compression_ratio"), 3.0) << variant;
  }
}

TEST(ClstmKind, GateMatricesOnCrossbars) {
  // Ideal crossbars (the defaults: no non-ideality, unlimited precision) reproduce the software
  // accuracy; 4 levels with strong variation cost accuracy. Both priced by the cost model.
  const auto ideal = kind()->run(params(3, {{"train.epochs", std::int64_t{1}},
                                            {"clstm.hw_samples", std::int64_t{2}},
                                            {"clstm.hw_test_items", std::int64_t{200}}}),
                                 kinds::PointContext{});
  for (const char* name : {"hw_accuracy_mean", "hw_accuracy_std", "hw_accuracy_min", "hw_software_accuracy",
                           "crossbars", "energy_nj", "latency_us", "area_mm2", "power_mw"}) {
    EXPECT_EQ(ideal.metrics.count(name), 1u) << name;
  }
  EXPECT_NEAR(ideal.metrics.at("hw_accuracy_mean"), ideal.metrics.at("hw_software_accuracy"), 0.011);
  EXPECT_EQ(ideal.arrays.at("hw_accuracy").size(), 2u);
  EXPECT_GT(ideal.metrics.at("crossbars"), 0.0);
  EXPECT_GT(ideal.metrics.at("energy_nj"), 0.0);
  const auto noisy = kind()->run(params(3, {{"train.epochs", std::int64_t{1}},
                                            {"clstm.hw_samples", std::int64_t{2}},
                                            {"clstm.hw_test_items", std::int64_t{200}},
                                            {"crossbar.levels", std::int64_t{4}},
                                            {"crossbar.sigma", 0.5}}),
                                 kinds::PointContext{});
  EXPECT_LT(noisy.metrics.at("hw_accuracy_mean"), ideal.metrics.at("hw_accuracy_mean"));
  EXPECT_EQ(kind()
                ->run(params(3, {{"train.epochs", std::int64_t{1}}}), kinds::PointContext{})
                .metrics.count("crossbars"),
            0u);
}

TEST(ClstmKind, ProjectedInitStartsFromTheCachedDenseLstm) {
  const CacheDir dir("ernn");
  const auto context = dir.context();
  const auto base =
      std::vector<std::pair<std::string, config::Value>>{{"train.epochs", std::int64_t{1}},
                                                         {"clstm.init", std::string("projected")},
                                                         {"clstm.finetune_epochs", std::int64_t{1}}};
  auto with = [&](std::int64_t k) {
    auto o = base;
    o.emplace_back("clstm.block_size", k);
    return o;
  };
  // k = 1: the dense LSTM itself, exactly the random-init k = 1 point of the same settings.
  const auto dense = kind()->run(params(4, with(1)), context);
  const auto random_dense =
      kind()->run(params(4, {{"train.epochs", std::int64_t{1}}, {"clstm.block_size", std::int64_t{1}}}),
                  kinds::PointContext{});
  EXPECT_EQ(dense.metrics.at("accuracy"), random_dense.metrics.at("accuracy"));
  EXPECT_EQ(dense.metrics.at("projected_accuracy"), dense.metrics.at("accuracy"));
  // k = 4: the projection of that cached model, fine-tuned.
  const auto circ = kind()->run(params(4, with(4)), context);
  EXPECT_EQ(circ.metrics.count("projected_accuracy"), 1u);
  EXPECT_GT(circ.metrics.at("accuracy"), 0.3);
  EXPECT_GT(circ.metrics.at("compression_ratio"), 3.0);
  // init admm: the same cached dense LSTM, pulled towards block-circulant by ADMM first.
  auto admm = with(4);
  admm.emplace_back("clstm.init", std::string("admm"));
  admm.emplace_back("clstm.admm_iterations", std::int64_t{3});
  admm.emplace_back("clstm.admm_rho", 0.5);
  const auto pulled = kind()->run(params(4, admm), context);
  ASSERT_EQ(pulled.arrays.at("admm_residual").size(), 3u);
  EXPECT_LT(pulled.arrays.at("admm_residual").back(), pulled.arrays.at("admm_residual").front());
  EXPECT_GT(pulled.metrics.at("projected_accuracy"), circ.metrics.at("projected_accuracy"));
  // ADMM pulls only the matrices that will be circulant: here the recurrent ones.
  auto mixed = admm;
  mixed.emplace_back("clstm.input_block_size", std::int64_t{1});
  const auto partial = kind()->run(params(4, mixed), context);
  ASSERT_EQ(partial.arrays.at("admm_residual").size(), 3u);
  EXPECT_LT(partial.arrays.at("admm_residual").back(), partial.arrays.at("admm_residual").front());
  EXPECT_LT(partial.metrics.at("compression_ratio"), pulled.metrics.at("compression_ratio"));
  EXPECT_GT(partial.metrics.at("compression_ratio"), 1.0);
  EXPECT_EQ(dir.checkpoints(), 1);  // one dense LSTM for every point
}

// clstm.distill: trained against the cached dense LSTM of the same settings (the k = 1 point's
// model, reported as dense_accuracy); alpha 0 is plain training, bit for bit.
TEST(ClstmKind, DistillationFromTheCachedDenseLstm) {
  const CacheDir dir("kd");
  const auto context = dir.context();
  // One epoch at seed 5, plus \p extra.
  const auto point = [](std::vector<std::pair<std::string, config::Value>> extra) {
    extra.emplace_back("train.epochs", std::int64_t{1});
    return params(5, extra);
  };
  const auto dense = kind()->run(point({{"clstm.block_size", std::int64_t{1}}}), kinds::PointContext{});
  const auto plain = kind()->run(point({}), kinds::PointContext{});
  const auto distilled = kind()->run(point({{"clstm.distill", 0.7}}), context);
  EXPECT_EQ(distilled.metrics.at("dense_accuracy"), dense.metrics.at("accuracy"));
  EXPECT_EQ(plain.metrics.count("dense_accuracy"), 0u);
  EXPECT_NE(distilled.arrays.at("loss"), plain.arrays.at("loss"));
  EXPECT_GT(distilled.metrics.at("accuracy"), 0.3);
  const auto alpha0 = kind()->run(point({{"clstm.distill", 0.0}}), context);
  EXPECT_EQ(alpha0.arrays.at("loss"), plain.arrays.at("loss"));
  EXPECT_EQ(dir.checkpoints(), 1);  // the teacher, trained once
}

TEST(ClstmKind, ResultDependsOnlyOnParams) {
  const auto a = kind()->run(params(7, {{"train.epochs", std::int64_t{1}}}), kinds::PointContext{});
  const auto b = kind()->run(params(7, {{"train.epochs", std::int64_t{1}}}), kinds::PointContext{});
  const auto c = kind()->run(params(8, {{"train.epochs", std::int64_t{1}}}), kinds::PointContext{});
  for (const char* m : {"accuracy", "fixed_accuracy", "loss", "train_accuracy", "parameters",
                        "compression_ratio", "dense_flops_per_seq", "circulant_flops_per_seq"}) {
    EXPECT_EQ(a.metrics.at(m), b.metrics.at(m)) << m;
  }
  EXPECT_EQ(a.arrays.at("loss"), b.arrays.at("loss"));
  EXPECT_NE(a.arrays.at("loss"), c.arrays.at("loss")) << "another seed, another run";
}

// clstm.input_block_size / clstm.recurrent_block_size set one kind of matrix apart from
// clstm.block_size: here a dense input matrix beside k = 4 recurrent ones (hidden 32).
TEST(ClstmKind, PerMatrixBlockSizes) {
  const auto out =
      kind()->run(params(3, {{"train.epochs", std::int64_t{1}}, {"clstm.input_block_size", std::int64_t{1}}}),
                  kinds::PointContext{});
  const double input = 4 * 32 * 28 + 4 * 32, recurrent = 4 * 32 * 32 / 4;
  EXPECT_EQ(out.metrics.at("lstm_parameters"), input + recurrent);
  const auto all = kind()->run(params(3, {{"train.epochs", std::int64_t{1}}}), kinds::PointContext{});
  EXPECT_EQ(all.metrics.at("lstm_parameters"), 4 * 32 * 28 / 4 + 4 * 32 + recurrent)
      << "28 input features pad to 28 (a multiple of 4)";
}

// The two training products train the same model: on one epoch, equal accuracy to within a few
// of the 400 test items (float rounding differs, so the runs drift slightly apart).
TEST(ClstmKind, TrainProductsTrainTheSameModel) {
  const auto expanded = kind()->run(params(4, {{"train.epochs", std::int64_t{1}}}), kinds::PointContext{});
  const auto by_fft =
      kind()->run(params(4, {{"train.epochs", std::int64_t{1}}, {"clstm.train_product", std::string("fft")}}),
                  kinds::PointContext{});
  EXPECT_NEAR(expanded.metrics.at("accuracy"), by_fft.metrics.at("accuracy"), 0.01);
  EXPECT_NEAR(expanded.arrays.at("loss").front(), by_fft.arrays.at("loss").front(), 1e-3);
  EXPECT_EQ(expanded.metrics.at("lstm_parameters"), by_fft.metrics.at("lstm_parameters"));
}

// train.validation: the best validation epoch is kept and reported; too many held out fails the
// point naming the key.
TEST(ClstmKind, ValidationKeepsTheBestEpoch) {
  const auto out =
      kind()->run(params(5, {{"train.epochs", std::int64_t{3}}, {"train.validation", std::int64_t{300}}}),
                  kinds::PointContext{});
  const auto& per_epoch = out.arrays.at("validation_accuracy");
  ASSERT_EQ(per_epoch.size(), 3u);
  const auto best = static_cast<std::size_t>(out.metrics.at("best_epoch"));
  ASSERT_LT(best, 3u);
  EXPECT_EQ(out.metrics.at("validation_accuracy"), per_epoch[best]);
  EXPECT_EQ(per_epoch[best], *std::max_element(per_epoch.begin(), per_epoch.end()));
  EXPECT_EQ(out.metrics.at("accuracy"), out.arrays.at("test_accuracy").at(best));
  EXPECT_EQ(kind()
                ->run(params(5, {{"train.epochs", std::int64_t{1}}}), kinds::PointContext{})
                .metrics.count("best_epoch"),
            0u);
  const auto problem =
      test_support::first_problem(*kind(), params(5, {{"train.validation", std::int64_t{1500}}}));
  ASSERT_TRUE(problem.has_value()) << "1500 of 1500 items held out";
  EXPECT_EQ(problem->key, "train.validation");
}

TEST(ClstmKind, BadBlockSizeAndFormatAreRefusedBeforeThePointRuns) {
  using test_support::first_problem;
  EXPECT_FALSE(first_problem(*kind(), params(1, {})).has_value());
  const auto key_of = [](const std::optional<config::Problem>& p) {
    return p ? p->key : std::string("(none)");
  };
  EXPECT_EQ(key_of(first_problem(*kind(), params(1, {{"clstm.block_size", std::int64_t{3}}}))),
            "clstm.block_size");
  EXPECT_EQ(key_of(first_problem(*kind(), params(1, {{"clstm.recurrent_block_size", std::int64_t{6}}}))),
            "clstm.recurrent_block_size");
  EXPECT_EQ(key_of(first_problem(*kind(), params(1, {{"clstm.int_bits", std::int64_t{20}},
                                                     {"clstm.frac_bits", std::int64_t{20}}}))),
            "clstm.frac_bits");
  // Should a point get past the checks, it still fails with the key, never runs on.
  EXPECT_THROW(kind()->run(params(1, {{"clstm.block_size", std::int64_t{3}}}), kinds::PointContext{}),
               xbarsweep::CirculantError);
}

TEST(ClstmKind, CancellationThrowsCancelled) {
  std::atomic<bool> stop{true};
  kinds::PointContext context;
  context.stop = &stop;
  EXPECT_THROW(kind()->run(params(1), context), kinds::Cancelled);
}

TEST(ClstmKind, CostHintGrowsWithWork) {
  const auto k = kind();
  const double base = k->cost_hint(params(1));
  EXPECT_GT(base, 0.0);
  EXPECT_DOUBLE_EQ(k->cost_hint(params(1, {{"train.epochs", std::int64_t{4}}})), 2.0 * base);
  EXPECT_GT(k->cost_hint(params(1, {{"clstm.hidden", std::int64_t{64}}})), base);
}

}  // namespace
