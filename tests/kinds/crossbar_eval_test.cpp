// Kind `crossbar_eval`: schema, ideal crossbars equal software, the cached baseline (trained once,
// no temporary left behind, reusable as crossbar_eval.checkpoint), variation, cancellation.
#include <gtest/gtest.h>

#include <Kokkos_Core.hpp>
#include <atomic>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

#include "kind_test_support.hpp"
#include "xbarsweep/kinds/builtin.hpp"

using namespace xbarsweep;

namespace {

[[maybe_unused]] auto* const kokkos_environment = xbarsweep::test_support::start_kokkos();

std::unique_ptr<kinds::Kind> kind() { return kinds::make_crossbar_eval_kind(); }

config::Params params(const std::vector<std::pair<std::string, config::Value>>& overrides = {}) {
  config::Params p = xbarsweep::test_support::schema_defaults(*kind());
  p.set("seed", std::int64_t{4});
  p.set("data.name", std::string("synthetic"));
  p.set("data.subset", std::int64_t{1500});
  p.set("data.test_subset", std::int64_t{300});
  p.set("model.name", std::string("mlp"));
  p.set("model.hidden", std::int64_t{32});
  p.set("train.epochs", std::int64_t{1});
  p.set("crossbar.rows", std::int64_t{64});
  p.set("crossbar.cols", std::int64_t{32});
  p.set("crossbar_eval.samples", std::int64_t{2});
  for (const auto& [path, value] : overrides) p.set(path, value);
  return p;
}

std::string fresh_dir(const std::string& name) {
  const auto dir = std::filesystem::temp_directory_path() / ("xbarsweep-crossbar-eval-" + name);
  std::filesystem::remove_all(dir);
  return dir.string();
}

TEST(CrossbarEvalKind, SchemaHasEverySection) {
  const auto s = kind()->schema();
  for (const char* key : {"crossbar_eval.samples", "crossbar_eval.checkpoint", "crossbar.sigma",
                          "crossbar.levels", "crossbar.adc_bits", "cost.adc_energy_pj",
                          "cost.columns_per_adc", "train.lr", "data.test_subset", "model.name"})
    EXPECT_NE(s.find(key), nullptr) << key;
  EXPECT_EQ(std::get<std::int64_t>(s.find("crossbar_eval.samples")->default_value), 5);
  EXPECT_NE(kinds::builtin_kinds().find("crossbar_eval"), nullptr);
}

TEST(CrossbarEvalKind, IdealCrossbarsMatchSoftwareAndTheBaselineIsCachedOnce) {
  kinds::PointContext ctx;
  ctx.cache_dir = fresh_dir("cache");
  const auto a = kind()->run(params(), ctx);
  for (const char* m :
       {"accuracy", "hw_accuracy_mean", "hw_accuracy_std", "hw_accuracy_min", "crossbars", "adcs", "area_mm2",
        "power_mw", "energy_nj", "latency_us", "power_reduction", "area_reduction", "wall_s"})
    EXPECT_EQ(a.metrics.count(m), 1u) << m;
  EXPECT_GT(a.metrics.at("accuracy"), 0.5);
  EXPECT_DOUBLE_EQ(a.metrics.at("hw_accuracy_mean"), a.metrics.at("accuracy"));
  EXPECT_DOUBLE_EQ(a.metrics.at("hw_accuracy_std"), 0.0);
  // MLP 784-32-10 on 64x32 tiles: 13x1 + 1x1 tiles, each a differential pair.
  EXPECT_EQ(a.metrics.at("crossbars"), 2.0 * (13 + 1));
  EXPECT_GT(a.metrics.at("power_mw"), 0.0);
  EXPECT_GT(a.metrics.at("area_mm2"), 0.0);
  EXPECT_NEAR(a.metrics.at("power_reduction"), 0.0, 1e-12);  // nothing pruned: the dense mapping
  EXPECT_NEAR(a.metrics.at("area_reduction"), 0.0, 1e-12);

  std::vector<std::string> files;  // the baseline; the cache's lock file may sit beside it
  for (const auto& e : std::filesystem::directory_iterator(ctx.cache_dir)) {
    const auto f = e.path().filename().string();
    EXPECT_EQ(f.find(".tmp"), std::string::npos) << "temporary left behind: " << f;
    if (e.path().extension() == ".pt") files.push_back(e.path().string());
  }
  ASSERT_EQ(files.size(), 1u) << "one cached baseline";
  const auto written = std::filesystem::last_write_time(files[0]);

  // Another point with the same baseline (crossbar params differ) loads it; so does the checkpoint path.
  const auto b = kind()->run(params({{"crossbar.sigma", 0.3}, {"crossbar.levels", std::int64_t{8}}}), ctx);
  EXPECT_EQ(std::filesystem::last_write_time(files[0]), written);
  EXPECT_DOUBLE_EQ(b.metrics.at("accuracy"), a.metrics.at("accuracy"));
  EXPECT_LT(b.metrics.at("hw_accuracy_min"), a.metrics.at("accuracy") + 1e-12);
  const auto c = kind()->run(params({{"crossbar_eval.checkpoint", files[0]}}), kinds::PointContext{});
  EXPECT_DOUBLE_EQ(c.metrics.at("accuracy"), a.metrics.at("accuracy"));
  std::filesystem::remove_all(ctx.cache_dir);
}

// Hardware-aware pretraining is cached apart from the plain baseline, keyed by hwa.* and the
// devices: a point that differs only in the read (drift time, ADC) shares it, one with other
// devices trains its own.
TEST(CrossbarEvalKind, HardwareAwareBaselinesAreCachedApartAndSharedByReads) {
  kinds::PointContext ctx;
  ctx.cache_dir = fresh_dir("hwa");
  const auto count = [&](const std::string& prefix) {
    int n = 0;
    for (const auto& e : std::filesystem::directory_iterator(ctx.cache_dir)) {
      const auto f = e.path().filename().string();
      n += e.path().extension() == ".pt" && f.rfind(prefix, 0) == 0;
    }
    return n;
  };
  const std::vector<std::pair<std::string, config::Value>> devices = {
      {"hwa.enabled", true}, {"crossbar.levels", std::int64_t{8}}, {"crossbar.sigma", 0.1}};
  const auto plain = kind()->run(params({devices[1], devices[2]}), ctx);
  const auto aware = kind()->run(params(devices), ctx);
  EXPECT_EQ(count("baseline-hwa-"), 1);
  EXPECT_EQ(count("baseline-"), 2);
  std::vector<std::string> weights;  // the two baselines' files: trained otherwise, so other bytes
  for (const auto& e : std::filesystem::directory_iterator(ctx.cache_dir))
    if (e.path().extension() == ".pt") {
      std::ifstream in(e.path(), std::ios::binary);
      weights.emplace_back(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    }
  ASSERT_EQ(weights.size(), 2u);
  EXPECT_NE(weights[0], weights[1]);
  EXPECT_GT(aware.metrics.at("accuracy"), 0.5);
  EXPECT_GT(plain.metrics.at("accuracy"), 0.5);
  auto read_later = devices;
  read_later.push_back({"crossbar.adc_bits", std::int64_t{6}});
  read_later.push_back({"crossbar.drift", std::string("power_law")});
  read_later.push_back({"crossbar.t_inference", 3600.0});
  const auto later = kind()->run(params(read_later), ctx);
  EXPECT_EQ(count("baseline-hwa-"), 1) << "the read does not change the training";
  EXPECT_DOUBLE_EQ(later.metrics.at("accuracy"), aware.metrics.at("accuracy"));
  auto other = devices;
  other[2] = {"crossbar.sigma", 0.2};
  kind()->run(params(other), ctx);
  EXPECT_EQ(count("baseline-hwa-"), 2) << "other devices: another hardware-aware baseline";
  std::filesystem::remove_all(ctx.cache_dir);
}

TEST(CrossbarEvalKind, StrongVariationLowersHardwareAccuracy) {
  kinds::PointContext ctx;
  ctx.cache_dir = fresh_dir("variation");
  const auto p = params(
      {{"crossbar.sigma", 1.5}, {"crossbar.stuck_max_rate", 0.2}, {"crossbar.levels", std::int64_t{4}}});
  const auto r = kind()->run(p, ctx);
  EXPECT_LT(r.metrics.at("hw_accuracy_mean"), r.metrics.at("accuracy") - 0.1);
  EXPECT_LE(r.metrics.at("hw_accuracy_min"), r.metrics.at("hw_accuracy_mean"));
  std::filesystem::remove_all(ctx.cache_dir);
}

TEST(CrossbarEvalKind, StopsWhenCancelled) {
  std::atomic<bool> stop{true};
  kinds::PointContext ctx;
  ctx.stop = &stop;
  EXPECT_THROW(kind()->run(params(), ctx), kinds::Cancelled);
}

}  // namespace
