// Kind `admm` end to end on synthetic data (seconds), and the pretraining cache: two processes
// racing for one entry, exactly one produces it.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <torch/torch.h>
#include <unistd.h>

#include <Kokkos_Core.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <set>
#include <thread>

#include "kind_test_support.hpp"
#include "xbarsweep/compress/constraints.hpp"
#include "xbarsweep/kinds/builtin.hpp"
#include "xbarsweep/nn/models.hpp"
#include "xbarsweep/nn/pretrain_cache.hpp"
#include "xbarsweep/nn/training.hpp"

using namespace xbarsweep;

namespace {

[[maybe_unused]] auto* const kokkos_environment = xbarsweep::test_support::start_kokkos();

std::unique_ptr<kinds::Kind> kind() { return kinds::make_admm_kind(); }

// A fresh, empty directory under the system temp dir.
std::string temp_dir(const std::string& tag) {
  const auto dir =
      std::filesystem::temp_directory_path() / ("xbarsweep-admm-" + tag + "-" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir.string();
}

// Schema defaults, then a small synthetic MLP point on 16x16 crossbars (the MLP's 32x784 first
// layer is 2 x 49 tiles), then \p overrides.
config::Params params(std::int64_t seed,
                      const std::vector<std::pair<std::string, config::Value>>& overrides = {}) {
  config::Params p = xbarsweep::test_support::schema_defaults(*kind());
  p.set("seed", seed);
  p.set("data.name", std::string("synthetic"));
  p.set("data.subset", std::int64_t{1000});
  p.set("data.test_subset", std::int64_t{300});
  p.set("model.name", std::string("mlp"));
  p.set("model.hidden", std::int64_t{32});
  p.set("train.epochs", std::int64_t{2});
  p.set("crossbar.rows", std::int64_t{16});
  p.set("crossbar.cols", std::int64_t{16});
  p.set("admm.iterations", std::int64_t{3});
  p.set("admm.retrain_epochs", std::int64_t{2});
  p.set("admm.keep", 0.25);
  p.set("admm.levels", std::int64_t{8});
  p.set("admm.rho", 1e-2);
  p.set("admm.hw_samples", std::int64_t{2});
  p.set("admm.hw_test_items", std::int64_t{100});
  for (const auto& [path, value] : overrides) p.set(path, value);
  return p;
}

kinds::PointContext with_cache(const std::string& dir) {
  kinds::PointContext c;
  c.cache_dir = dir;
  return c;
}

TEST(PretrainCache, TwoProcessesRacingForOneEntryProduceItOnce) {
  const auto dir = temp_dir("race");
  const auto log = dir + "/producers.log";
  int go[2];
  ASSERT_EQ(::pipe(go), 0);
  std::vector<pid_t> children;
  for (int c = 0; c < 2; ++c) {
    const pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      ::close(go[1]);
      char byte = 0;
      if (::read(go[0], &byte, 1) != 1) ::_exit(2);  // start together
      try {
        const auto entry = nn::ensure_cached_file(dir, "baseline.pt", [&](const std::string& path) {
          std::ofstream(log, std::ios::app) << ::getpid() << "\n";
          std::this_thread::sleep_for(std::chrono::milliseconds(300));  // a slow producer
          std::ofstream(path) << "weights";
        });
        std::ifstream in(entry.path);
        std::string text;
        in >> text;
        ::_exit(text != "weights" ? 3 : entry.produced ? 10 : 11);
      } catch (...) {
        ::_exit(4);
      }
    }
    children.push_back(pid);
  }
  ::close(go[0]);
  ASSERT_EQ(::write(go[1], "gg", 2), 2);
  ::close(go[1]);
  std::multiset<int> codes;
  for (const auto pid : children) {
    int status = 0;
    ASSERT_EQ(::waitpid(pid, &status, 0), pid);
    ASSERT_TRUE(WIFEXITED(status));
    codes.insert(WEXITSTATUS(status));
  }
  EXPECT_EQ(codes, (std::multiset<int>{10, 11})) << "one producer (10), one reader (11)";
  std::ifstream in(log);
  int lines = 0;
  for (std::string line; std::getline(in, line);) ++lines;
  EXPECT_EQ(lines, 1) << "the producer ran " << lines << " times";
  std::filesystem::remove_all(dir);
}

TEST(PretrainCache, AFailedProducerLeavesNoEntryAndTheNextOneProduces) {
  const auto dir = temp_dir("fail");
  EXPECT_THROW(nn::ensure_cached_file(dir, "x.pt",
                                      [](const std::string& path) {
                                        std::ofstream(path) << "partial";
                                        throw std::runtime_error("killed");
                                      }),
               std::runtime_error);
  EXPECT_FALSE(std::filesystem::exists(dir + "/x.pt"));
  const auto entry =
      nn::ensure_cached_file(dir, "x.pt", [](const std::string& path) { std::ofstream(path) << "ok"; });
  EXPECT_TRUE(entry.produced);
  EXPECT_FALSE(nn::ensure_cached_file(dir, "x.pt", [](const std::string&) { FAIL(); }).produced);
  std::filesystem::remove_all(dir);
}

TEST(AdmmKind, RegisteredWithItsParameters) {
  ASSERT_NE(kinds::builtin_kinds().find("admm"), nullptr);
  const auto schema = kind()->schema();
  for (const char* path : {"admm.rho",
                           "admm.rho_growth",
                           "admm.rho_cap",
                           "admm.iterations",
                           "admm.epochs_per_iteration",
                           "admm.retrain_epochs",
                           "admm.prune",
                           "admm.keep",
                           "admm.block_rows",
                           "admm.block_cols",
                           "admm.levels",
                           "admm.mode",
                           "admm.skip_first",
                           "admm.skip_last",
                           "admm.hw_samples",
                           "model.name",
                           "data.name",
                           "train.lr",
                           "crossbar.rows",
                           "cost.adc_rate_gsps"}) {
    EXPECT_NE(schema.find(path), nullptr) << path;
  }
}

TEST(AdmmKind, RunsEndToEndOnASmallMlp) {
  const auto t0 = std::chrono::steady_clock::now();
  const auto out = kind()->run(params(1), kinds::PointContext{});
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const auto& m = out.metrics;
  for (const char* name : {"dense_accuracy", "projected_accuracy", "accuracy", "hw_accuracy_mean",
                           "hw_accuracy_std", "compression_ratio", "compression_ratio_with_index",
                           "crossbars", "power_reduction", "area_reduction", "energy_nj", "wall_s"}) {
    EXPECT_EQ(m.count(name), 1u) << name;
  }
  EXPECT_GT(m.at("dense_accuracy"), 0.8);
  EXPECT_GT(m.at("accuracy"), 0.6);
  EXPECT_GT(m.at("compression_ratio"), 1.0);
  // 25% of the tiles of a 32x784 and a 10x32 layer at 3 bits: about 32/3 / 0.25 ~ 40x.
  EXPECT_GT(m.at("compression_ratio"), 20.0);
  EXPECT_LE(m.at("compression_ratio_with_index"), m.at("compression_ratio"));
  EXPECT_EQ(m.at("masks_hold"), 1.0);
  EXPECT_LT(m.at("crossbars"), m.at("crossbars_dense"));
  EXPECT_GT(m.at("power_reduction"), 0.0);
  EXPECT_GT(m.at("area_reduction"), 0.0);
  EXPECT_GT(m.at("energy_nj"), 0.0);
  EXPECT_GE(m.at("hw_accuracy_mean"), 0.0);
  EXPECT_LE(m.at("hw_accuracy_mean"), 1.0);
  ASSERT_EQ(out.arrays.at("hw_accuracy").size(), 2u);
  // Residual curves: one value per ADMM iteration, per layer and pair (prune + quantize).
  for (const char* name : {"residual_fc1", "residual_fc1_quantize", "residual_fc2"}) {
    ASSERT_EQ(out.arrays.count(name), 1u) << name;
    EXPECT_EQ(out.arrays.at(name).size(), 3u) << name;
  }
  for (const char* name : {"layer_kept_weights", "layer_kept_blocks", "layer_bits", "layer_crossbars"}) {
    ASSERT_EQ(out.arrays.count(name), 1u) << name;
    EXPECT_EQ(out.arrays.at(name).size(), 2u) << name;
  }
  EXPECT_EQ(out.arrays.at("layer_bits")[0], 3.0);
  EXPECT_EQ(out.arrays.at("layer_kept_blocks")[0], 25.0);  // round(0.25 * 98)
  EXPECT_LT(seconds, 60.0);
}

TEST(AdmmKind, PrunedWeightsAreZeroAndKeptWeightsOnLevels) {
  const auto dir = temp_dir("ckpt");
  const auto path = dir + "/compressed.pt";
  const auto out = kind()->run(params(2, {{"admm.save_checkpoint", path}}), kinds::PointContext{});
  nn::ModelOptions o;
  o.hidden = {32};
  const auto model = nn::make_model("mlp", o);
  nn::load_checkpoint(*model, path);
  const auto weights = nn::weight_tensors(*model);
  ASSERT_EQ(weights.size(), 2u);
  compress::PruneSpec blocks{compress::PruneKind::block, compress::Keep::fraction(1.0),
                             compress::BlockShape::of_crossbar(16, 16)};
  for (std::size_t l = 0; l < weights.size(); ++l) {
    const auto w = weights[l].second.detach().reshape({weights[l].second.size(0), -1});
    // Every tile is either entirely zero or entirely nonzero (no zero level): count both.
    const auto scores = compress::unit_scores(w, blocks);
    const auto kept_tiles = scores.gt(0).sum().item<std::int64_t>();
    EXPECT_EQ(static_cast<double>(kept_tiles), out.arrays.at("layer_kept_blocks")[l]) << weights[l].first;
    EXPECT_EQ(static_cast<double>(w.ne(0).sum().item<std::int64_t>()), out.arrays.at("layer_kept_weights")[l])
        << weights[l].first;
    // 8 levels: at most 4 distinct magnitudes among the kept weights.
    const auto magnitudes = std::get<0>(at::_unique(w.abs().masked_select(w.ne(0))));
    EXPECT_LE(magnitudes.numel(), 4) << weights[l].first;
  }
  std::filesystem::remove_all(dir);
}

TEST(AdmmKind, SameSeedSameMetrics) {
  const auto a = kind()->run(params(3), kinds::PointContext{});
  const auto b = kind()->run(params(3), kinds::PointContext{});
  for (const auto& [name, value] : a.metrics) {
    if (name == "wall_s") continue;
    EXPECT_EQ(value, b.metrics.at(name)) << name;
  }
  EXPECT_EQ(a.arrays, b.arrays);
}

TEST(AdmmKind, PretrainingIsCachedAndReusedWithIdenticalWeights) {
  const auto dir = temp_dir("cache");
  const auto first = kind()->run(params(4), with_cache(dir));
  const auto second =
      kind()->run(params(4, {{"admm.keep", 0.5}, {"admm.hw_samples", std::int64_t{0}}}), with_cache(dir));
  const auto uncached = kind()->run(params(4), kinds::PointContext{});
  EXPECT_EQ(first.metrics.at("pretrain_loaded"), 0.0);
  EXPECT_EQ(second.metrics.at("pretrain_loaded"), 1.0);
  EXPECT_EQ(first.metrics.at("dense_accuracy"), second.metrics.at("dense_accuracy"));
  // Training-then-loading gives the same bits as training in memory: same results.
  for (const auto& [name, value] : first.metrics) {
    if (name == "wall_s" || name == "pretrain_loaded") continue;
    EXPECT_EQ(value, uncached.metrics.at(name)) << name;
  }
  int entries = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir)) entries += e.path().extension() == ".pt";
  EXPECT_EQ(entries, 1);
  // A change of the training config is another baseline.
  const auto other =
      kind()->run(params(4, {{"train.lr", 0.02}, {"admm.hw_samples", std::int64_t{0}}}), with_cache(dir));
  EXPECT_EQ(other.metrics.at("pretrain_loaded"), 0.0);
  std::filesystem::remove_all(dir);
}

TEST(AdmmKind, SequentialModeAndOtherStructures) {
  for (const auto& [mode, prune] : std::vector<std::pair<std::string, std::string>>{
           {"sequential", "block"}, {"joint", "column"}, {"joint", "irregular"}}) {
    const auto out = kind()->run(params(5, {{"admm.mode", mode},
                                            {"admm.prune", prune},
                                            {"admm.hw_samples", std::int64_t{0}},
                                            {"admm.iterations", std::int64_t{2}}}),
                                 kinds::PointContext{});
    EXPECT_GT(out.metrics.at("compression_ratio"), 10.0) << mode << " " << prune;
    EXPECT_EQ(out.metrics.at("masks_hold"), 1.0) << mode << " " << prune;
    EXPECT_GT(out.metrics.at("accuracy"), 0.5) << mode << " " << prune;
    if (mode == "sequential") {
      EXPECT_EQ(out.arrays.at("residual_fc1").size(), 2u);
      EXPECT_EQ(out.arrays.at("residual_fc1_quantize").size(), 2u);
    }
  }
}

TEST(AdmmKind, BadLevelsAreRefusedBeforeThePointRuns) {
  EXPECT_FALSE(test_support::first_problem(*kind(), params(6, {})).has_value());
  const auto problem = test_support::first_problem(*kind(), params(6, {{"admm.levels", std::int64_t{5}}}));
  ASSERT_TRUE(problem.has_value()) << "odd levels accepted";
  EXPECT_EQ(problem->key, "admm.levels");
  EXPECT_NE(problem->message.find("even"), std::string::npos) << problem->message;
}

}  // namespace

namespace {

TEST(AdmmKind, LayerKeepOverridesKeepPerLayer) {
  // fc1 is 2 x 49 = 98 tiles of 16x16, fc2 (10x32) is 1 x 2 = 2 tiles.
  const auto out = kind()->run(
      params(7, {{"admm.layer_keep", std::string("fc1=0.5, fc2=1")}, {"admm.hw_samples", std::int64_t{0}}}),
      kinds::PointContext{});
  EXPECT_EQ(out.arrays.at("layer_kept_blocks")[0], 49.0);
  EXPECT_EQ(out.arrays.at("layer_kept_blocks")[1], 2.0);
  EXPECT_EQ(out.metrics.at("masks_hold"), 1.0);
}

TEST(AdmmKind, LayerKeepNamingNoLayerIsRefusedWithTheLayersThereAre) {
  const auto problem =
      test_support::first_problem(*kind(), params(8, {{"admm.layer_keep", std::string("fc9=0.5")}}));
  ASSERT_TRUE(problem.has_value()) << "an unknown layer was accepted";
  EXPECT_EQ(problem->key, "admm.layer_keep");
  EXPECT_NE(problem->message.find("fc9"), std::string::npos) << problem->message;
  EXPECT_NE(problem->message.find("fc1, fc2"), std::string::npos) << problem->message;
}

TEST(AdmmKind, LayerKeepSyntaxIsCheckedWhenTheConfigLoads) {
  const auto schema = kind()->schema();
  const auto* spec = schema.find("admm.layer_keep");
  ASSERT_NE(spec, nullptr);
  ASSERT_TRUE(spec->check_text);
  EXPECT_EQ(spec->check_text(""), "");
  EXPECT_EQ(spec->check_text("fc1=0.3, fc2=0.6"), "");
  EXPECT_EQ(spec->check_text("fc1=0.3 features.0=1"), "");
  for (const char* bad : {"fc1", "fc1=", "=0.5", "fc1=1.5", "fc1=-0.1", "fc1=0.3x", "fc1=0.3, fc1=0.4"}) {
    EXPECT_NE(spec->check_text(bad), "") << bad;
  }
}

}  // namespace

// Hardware-aware ADMM: with admm.hwa_stages retrain the ADMM stage is plain training's to the bit
// (the same projected accuracy and residuals), and only retraining differs; with all, the ADMM
// stage differs too. Kept weights end on their levels either way.
TEST(AdmmKind, HardwareAwareStagesAreAllOrRetrainOnly) {
  const std::vector<std::pair<std::string, config::Value>> devices = {
      {"crossbar.levels", std::int64_t{16}}, {"admm.levels", std::int64_t{30}}, {"crossbar.sigma", 0.1}};
  auto with = [&](std::vector<std::pair<std::string, config::Value>> extra) {
    auto all = devices;
    all.insert(all.end(), extra.begin(), extra.end());
    return kind()->run(params(5, all), kinds::PointContext{});
  };
  const auto plain = with({});
  const auto retrain = with({{"hwa.enabled", true}, {"admm.hwa_stages", std::string("retrain")}});
  const auto every = with({{"hwa.enabled", true}});
  EXPECT_EQ(retrain.metrics.at("projected_accuracy"), plain.metrics.at("projected_accuracy"));
  for (const auto& [name, curve] : plain.arrays)
    if (name.rfind("residual_", 0) == 0) EXPECT_EQ(retrain.arrays.at(name), curve) << name;
  EXPECT_NE(retrain.metrics.at("accuracy"), plain.metrics.at("accuracy"));
  bool admm_differs = false;
  for (const auto& [name, curve] : plain.arrays)
    if (name.rfind("residual_", 0) == 0) admm_differs = admm_differs || every.arrays.at(name) != curve;
  EXPECT_TRUE(admm_differs) << "hwa_stages all perturbs the ADMM W-steps too";
  for (const auto* out : {&plain, &retrain, &every}) EXPECT_EQ(out->metrics.at("masks_hold"), 1.0);
}
