#include "xbarsweep/config/sweep_plan.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <set>

#include "test_schemas.hpp"
#include "xbarsweep/error.hpp"

namespace xbarsweep::config {
namespace {

Experiment parse(const std::string& text, const std::vector<std::string>& overrides = {}) {
  static const auto schemas = test::unit_schemas();
  return parse_experiment(text, "plan.yaml", overrides, schemas);
}

std::string error_of(const std::string& text) {
  try {
    parse(text);
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "";
}

const std::string kTrain = "name: t\nkind: train\nseed: 10\n";

TEST(SweepPlan, NoSweepIsOnePoint) {
  const Experiment e = parse(kTrain);
  const SweepPlan plan(e);
  EXPECT_EQ(plan.size(), 1u);
  EXPECT_TRUE(plan.swept_paths().empty());
  EXPECT_EQ(plan.point(0).canonical_text(), e.base.canonical_text());
  EXPECT_THROW(plan.point(1), xbarsweep::InternalError);
}

TEST(SweepPlan, GridOrderLastAxisFastest) {
  const Experiment e = parse(kTrain +
                             "sweep:\n  grid:\n    train.lr: [0.1, 0.01]\n"
                             "    train.batch_size: [32, 64, 128]\n");
  const SweepPlan plan(e);
  ASSERT_EQ(plan.size(), 6u);
  EXPECT_EQ(plan.swept_paths(), (std::vector<std::string>{"train.lr", "train.batch_size"}));
  const double lr[] = {0.1, 0.1, 0.1, 0.01, 0.01, 0.01};
  const std::int64_t bs[] = {32, 64, 128, 32, 64, 128};
  for (std::uint64_t i = 0; i < 6; ++i) {
    const Params p = plan.point(i);
    EXPECT_DOUBLE_EQ(p.real("train.lr"), lr[i]) << "point " << i;
    EXPECT_EQ(p.integer("train.batch_size"), bs[i]) << "point " << i;
    EXPECT_EQ(p.integer("seed"), 10);
    EXPECT_EQ(p.integer("train.epochs"), 1);  // untouched: the default
  }
}

TEST(SweepPlan, AxisOrderIsGridZipPointsRandomWhateverTheFileOrder) {
  const Experiment e = parse(kTrain +
                             "sweep:\n"
                             "  random: {samples: 2, params: {train.lr: {uniform: [0.1, 0.2]}}}\n"
                             "  points: [{model.name: mlp}, {model.name: lenet5}]\n"
                             "  zip: [{train.epochs: [1, 2], data.subset: [10, 20]}]\n"
                             "  grid: {train.batch_size: [8, 16]}\n"
                             "  repeats: 3\n");
  ASSERT_EQ(e.axes.size(), 4u);
  EXPECT_EQ(e.axes[0].kind, Axis::Kind::Grid);
  EXPECT_EQ(e.axes[1].kind, Axis::Kind::Zip);
  EXPECT_EQ(e.axes[2].kind, Axis::Kind::Points);
  EXPECT_EQ(e.axes[3].kind, Axis::Kind::Random);
  const SweepPlan plan(e);
  EXPECT_EQ(plan.size(), 2u * 2u * 2u * 2u * 3u);
  EXPECT_EQ(plan.swept_paths(), (std::vector<std::string>{"train.batch_size", "train.epochs", "data.subset",
                                                          "model.name", "train.lr", "seed"}));
  // Repeats are the slowest digit: the first 16 points share seed 10, the next 16 seed 11.
  for (std::uint64_t i = 0; i < plan.size(); ++i) {
    const Params p = plan.point(i);
    EXPECT_EQ(p.integer("seed"), 10 + static_cast<std::int64_t>(i / 16));
    EXPECT_EQ(p.integer("train.batch_size"), (i / 8) % 2 == 0 ? 8 : 16);
    EXPECT_EQ(p.integer("train.epochs"), (i / 4) % 2 == 0 ? 1 : 2);
    EXPECT_EQ(p.integer("data.subset"), p.integer("train.epochs") * 10);  // zipped together
    EXPECT_EQ(p.text("model.name"), (i / 2) % 2 == 0 ? "mlp" : "lenet5");
  }
  // The random axis draws the same value at the same sample whatever the other digits.
  EXPECT_EQ(plan.point(0).real("train.lr"), plan.point(30).real("train.lr"));
  EXPECT_NE(plan.point(0).real("train.lr"), plan.point(1).real("train.lr"));
}

TEST(SweepPlan, PointsAxisSetsOnlyWhatEachPointNames) {
  const Experiment e = parse(kTrain +
                             "train: {lr: 0.3}\n"
                             "sweep:\n  points:\n"
                             "    - {train.lr: 0.1, train.epochs: 2}\n"
                             "    - {train.lr: 0.2}\n"
                             "    - {}\n");
  const SweepPlan plan(e);
  ASSERT_EQ(plan.size(), 3u);
  EXPECT_EQ(plan.swept_paths(), (std::vector<std::string>{"train.lr", "train.epochs"}));
  EXPECT_DOUBLE_EQ(plan.point(0).real("train.lr"), 0.1);
  EXPECT_EQ(plan.point(0).integer("train.epochs"), 2);
  EXPECT_DOUBLE_EQ(plan.point(1).real("train.lr"), 0.2);
  EXPECT_EQ(plan.point(1).integer("train.epochs"), 1);
  EXPECT_DOUBLE_EQ(plan.point(2).real("train.lr"), 0.3);
}

TEST(SweepPlan, PrecedenceDefaultsFileOverridesAxes) {
  const std::string text = kTrain +
                           "train: {lr: 0.3, epochs: 5}\n"
                           "sweep: {points: [{train.lr: 0.1}, {train.epochs: 7}]}\n";
  const Experiment e = parse(text, {"train.lr=0.2", "train.batch_size=16"});
  const SweepPlan plan(e);
  // A --set of a swept path replaces its axis (here: takes it out of the points list) and says so.
  EXPECT_DOUBLE_EQ(plan.point(0).real("train.lr"), 0.2);
  EXPECT_DOUBLE_EQ(plan.point(1).real("train.lr"), 0.2);  // --set beats the file
  ASSERT_EQ(e.notes.size(), 1u);
  EXPECT_NE(e.notes[0].find("replaces the sweep axis of 'train.lr'"), std::string::npos) << e.notes[0];
  EXPECT_EQ(plan.point(0).integer("train.epochs"), 5);  // the file beats the default
  EXPECT_EQ(plan.point(1).integer("train.epochs"), 7);
  EXPECT_EQ(plan.point(1).integer("train.batch_size"), 16);
  EXPECT_EQ(plan.point(0).text("model.name"), "mlp");  // the default
}

TEST(SweepPlan, AxisValuesAreCheckedLikeBaseValues) {
  const std::string s = kTrain + "sweep:\n";
  EXPECT_NE(error_of(s + "  grid: {train.epochs: [1, 2.5]}").find("wrong type"), std::string::npos);
  EXPECT_NE(error_of(s + "  grid: {train.epochs: [1, 0]}").find("plan.yaml:5:28"), std::string::npos);
  EXPECT_NE(error_of(s + "  grid: {model.name: [mlp, vgg]}").find("not allowed"), std::string::npos);
  EXPECT_NE(error_of(s + "  points: [{train.lr: -1}]").find("out of range"), std::string::npos);
  EXPECT_NE(error_of(s + "  zip: [{train.lr: [1, x]}]").find("wrong type"), std::string::npos);
  EXPECT_NE(
      error_of(s + "  random: {samples: 2, params: {model.name: {choice: [mlp, x]}}}").find("not allowed"),
      std::string::npos);
  EXPECT_NE(
      error_of(s + "  random: {samples: 2, params: {train.lr: {uniform: [-1, 1]}}}").find("out of range"),
      std::string::npos);
  // Int values for a real parameter are stored as reals.
  const Experiment e = parse(s + "  grid: {train.lr: [1, 2]}");
  EXPECT_TRUE(std::holds_alternative<double>(SweepPlan(e).point(1).entries().at("train.lr")));
}

TEST(SweepPlan, AxisErrors) {
  const std::string s = kTrain + "sweep:\n";
  EXPECT_NE(error_of(s + "  grid: {train.lr: []}").find("empty axis"), std::string::npos);
  EXPECT_NE(error_of(s + "  grid: {}").find("sweep.grid"), std::string::npos);
  EXPECT_NE(error_of(s + "  grid: {train.lr: 0.1}").find("expected a list of values"), std::string::npos);
  EXPECT_NE(error_of(s + "  grid: {train.lr: [0.1, 0.1]}").find("repeats an earlier one"), std::string::npos);
  EXPECT_NE(error_of(s + "  zip: [{train.lr: [1, 2], train.epochs: [1, 2, 3]}]")
                .find("zip lists of unequal length: 'train.epochs' has 3 values but 'train.lr' "
                      "has 2"),
            std::string::npos);
  EXPECT_NE(error_of(s + "  zip: {train.lr: [1]}").find("expected a list of groups"), std::string::npos);
  EXPECT_NE(error_of(s + "  points: []").find("non-empty list"), std::string::npos);
  EXPECT_NE(error_of(s + "  points: [0.1]").find("expected a mapping path: value"), std::string::npos);
  const std::string twice = error_of(s + "  grid: {train.lr: [1]}\n  points: [{train.lr: 2}]");
  EXPECT_NE(twice.find("'train.lr' is swept twice (first at line 5)"), std::string::npos) << twice;
  EXPECT_NE(error_of(s + "  repeats: 0").find("key 'sweep.repeats'"), std::string::npos);
  EXPECT_NE(error_of(s + "  repeats: -3").find("out of range"), std::string::npos);
  EXPECT_NE(error_of(s + "  grid: {seed: [1, 2]}\n  repeats: 2").find("'seed' is swept"), std::string::npos);
}

TEST(SweepPlan, RandomDistributionErrors) {
  const std::string s = kTrain + "sweep:\n  random:\n";
  const auto random_error = [&](const std::string& params) {
    return error_of(s + "    samples: 4\n    params: {" + params + "}\n");
  };
  EXPECT_NE(random_error("train.lr: {uniform: [0.9, 0.1]}").find("expected low <= high"), std::string::npos);
  EXPECT_NE(random_error("train.lr: {log_uniform: [0, 0.1]}").find("expected low > 0"), std::string::npos);
  EXPECT_NE(random_error("train.lr: {gauss: [0, 1]}").find("unknown distribution 'gauss'"),
            std::string::npos);
  EXPECT_NE(random_error("train.lr: {int_uniform: [1, 4]}").find("int_uniform draws ints"),
            std::string::npos);
  EXPECT_NE(random_error("train.epochs: {uniform: [1, 4]}").find("expected int_uniform or choice"),
            std::string::npos);
  EXPECT_NE(random_error("train.lr: {uniform: [0.1]}").find("expected [low, high]"), std::string::npos);
  EXPECT_NE(random_error("train.lr: {uniform: [0.1, 0.2], choice: [0.1]}").find("expected one distribution"),
            std::string::npos);
  EXPECT_NE(random_error("model.name: {choice: []}").find("non-empty list of choices"), std::string::npos);
  EXPECT_NE(error_of(s + "    params: {train.lr: {uniform: [0.1, 0.2]}}\n").find("samples"),
            std::string::npos);
  EXPECT_NE(
      error_of(s + "    samples: 0\n    params: {train.lr: {uniform: [0.1, 0.2]}}\n").find("out of range"),
      std::string::npos);
}

TEST(SweepPlan, RandomAxisIsDeterministicAndInRange) {
  const std::string text = kTrain +
                           "sweep:\n  random:\n    samples: 500\n    seed: 7\n    params:\n"
                           "      train.lr: {log_uniform: [1.0e-4, 1.0e-1]}\n"
                           "      synthetic.scale: {uniform: [0.0, 0.9]}\n";
  // synthetic.scale is not a train parameter: use unit kinds' own paths instead.
  const std::string unit_text =
      "name: u\nkind: unit\nseed: 2\nunit: {required: 1}\n"
      "sweep:\n  random:\n    samples: 500\n    seed: 7\n    params:\n"
      "      unit.ratio: {uniform: [0.0, 0.9]}\n"
      "      unit.count: {int_uniform: [2, 5]}\n"
      "      unit.tag: {choice: [p, q, r]}\n"
      "      unit.required: {log_uniform: [1.0e-4, 1.0e-1]}\n";
  EXPECT_NE(error_of(text).find("parameter of kind 'synthetic'"), std::string::npos);
  const Experiment a = parse(unit_text);
  const Experiment b = parse(unit_text);
  const SweepPlan plan_a(a), plan_b(b);
  ASSERT_EQ(plan_a.size(), 500u);
  std::set<std::int64_t> counts;
  std::set<std::string> tags;
  double log_sum = 0;
  for (std::uint64_t i = 0; i < plan_a.size(); ++i) {
    const Params p = plan_a.point(i);
    EXPECT_EQ(p.canonical_text(), plan_b.point(i).canonical_text()) << "point " << i;
    const double ratio = p.real("unit.ratio");
    EXPECT_GE(ratio, 0.0);
    EXPECT_LE(ratio, 0.9);
    const std::int64_t count = p.integer("unit.count");
    EXPECT_GE(count, 2);
    EXPECT_LE(count, 5);
    counts.insert(count);
    tags.insert(p.text("unit.tag"));
    const double lr = p.real("unit.required");
    EXPECT_GE(lr, 1e-4);
    EXPECT_LE(lr, 1e-1);
    log_sum += std::log10(lr);
  }
  EXPECT_EQ(counts.size(), 4u);  // both ends are reachable
  EXPECT_EQ(tags.size(), 3u);
  // log-uniform on [1e-4, 1e-1]: mean of log10 is -2.5 (500 samples: sd of the mean ~0.04).
  EXPECT_NEAR(log_sum / 500.0, -2.5, 0.2);

  // Another axis seed draws other values; no seed follows the experiment seed.
  std::string reseeded = unit_text;
  reseeded.replace(reseeded.find("seed: 7"), 7, "seed: 8");
  const Experiment c = parse(reseeded);
  EXPECT_NE(SweepPlan(c).point(0).canonical_text(), plan_a.point(0).canonical_text());
  std::string unseeded = unit_text;
  unseeded.erase(unseeded.find("    seed: 7\n"), 12);
  EXPECT_EQ(parse(unseeded).axes[0].seed, 2u);
  EXPECT_EQ(parse(unseeded, {"seed=5"}).axes[0].seed, 5u);
}

TEST(SweepPlan, TenMillionPointGridPlansInstantly) {
  std::string text = kTrain + "sweep:\n  max_points: 20000000\n  grid:\n";
  const auto values = [](int first, int count) {
    std::string list = "[";
    for (int i = 0; i < count; ++i) list += (i ? ", " : "") + std::to_string(first + i);
    return list + "]";
  };
  text += "    train.epochs: " + values(1, 100) + "\n";
  text += "    train.batch_size: " + values(1, 100) + "\n";
  text += "    data.subset: " + values(0, 100) + "\n";
  text += "    seed: " + values(0, 10) + "\n";
  const auto start = std::chrono::steady_clock::now();
  const Experiment e = parse(text);
  const SweepPlan plan(e);
  ASSERT_EQ(plan.size(), 10000000u);
  const Params last = plan.point(plan.size() - 1);
  EXPECT_EQ(last.integer("train.epochs"), 100);
  EXPECT_EQ(last.integer("train.batch_size"), 100);
  EXPECT_EQ(last.integer("data.subset"), 99);
  EXPECT_EQ(last.integer("seed"), 9);
  // index = ((e * 100 + b) * 100 + s) * 10 + seed, digits from 0.
  const Params p = plan.point(((41ull * 100 + 6) * 100 + 77) * 10 + 3);
  EXPECT_EQ(p.integer("train.epochs"), 42);
  EXPECT_EQ(p.integer("train.batch_size"), 7);
  EXPECT_EQ(p.integer("data.subset"), 77);
  EXPECT_EQ(p.integer("seed"), 3);
  for (std::uint64_t i = 0; i < 10000000u; i += 999983) plan.point(i);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_LT(seconds, 1.0);

  // Over max_points, or over 2^64, is refused before any point exists.
  text.replace(text.find("max_points: 20000000"), 20, "max_points: 9999999");
  const std::string over = error_of(text);
  EXPECT_NE(over.find("the sweep has 10000000 points"), std::string::npos) << over;
  EXPECT_NE(over.find("expected at most max_points = 9999999"), std::string::npos);
  const std::string overflow = error_of(kTrain + "sweep:\n  grid: {train.epochs: " + values(1, 100) +
                                        "}\n  random: {samples: 9000000000000000000, params: "
                                        "{train.lr: {uniform: [0.1, 0.2]}}}\n");
  EXPECT_NE(overflow.find("more than 2^64"), std::string::npos) << overflow;
}

TEST(SweepPlan, PointIdsStableAndDistinct) {
  const std::string text = kTrain +
                           "sweep:\n  grid: {train.lr: [0.1, 0.2, 0.3], train.epochs: [1, 2]}\n"
                           "  random: {samples: 5, seed: 1, params: {train.batch_size: "
                           "{int_uniform: [1, 1000000]}}}\n  repeats: 2\n";
  const Experiment a = parse(text);
  const Experiment b = parse(text);
  const SweepPlan plan_a(a), plan_b(b);
  std::set<std::string> ids;
  for (std::uint64_t i = 0; i < plan_a.size(); ++i) {
    const std::string id = point_id(plan_a.point(i));
    EXPECT_EQ(id, point_id(plan_b.point(i)));
    ids.insert(id);
  }
  EXPECT_EQ(ids.size(), plan_a.size());
  // A point's id depends on its parameters only, not on the plan that contains it.
  const Experiment forward = parse(kTrain + "sweep: {grid: {train.lr: [0.1, 0.2], train.epochs: [1, 2]}}");
  const Experiment backward = parse(kTrain + "sweep: {grid: {train.epochs: [2, 1], train.lr: [0.2, 0.1]}}");
  std::set<std::string> forward_ids, backward_ids;
  for (std::uint64_t i = 0; i < 4; ++i) {
    forward_ids.insert(point_id(SweepPlan(forward).point(i)));
    backward_ids.insert(point_id(SweepPlan(backward).point(i)));
  }
  EXPECT_EQ(forward_ids, backward_ids);
  EXPECT_EQ(forward_ids.size(), 4u);
}

}  // namespace
}  // namespace xbarsweep::config

namespace xbarsweep::config {
namespace {

// A parameter added after points were recorded keeps their ids at the value they computed with:
// at its default when the default is that value, and only at that value when the default has
// changed since (a point at the new default gets a new id, so a stored result of the old
// computation is never taken for it).
TEST(PointId, ParametersAddedLaterKeepOldIds) {
  using V = ValueType;
  const auto spec = [](std::string path, double value) {
    ParamSpec p;
    p.path = std::move(path);
    p.type = V::Real;
    p.default_value = value;
    return p;
  };
  Schema before;
  before.add(spec("later.base", 1.0));
  Schema after = before;
  ParamSpec same = spec("later.same", 2.0);
  same.id_neutral_default = true;
  ParamSpec moved = spec("later.moved", 1.5);  // computed with 1.0 before it existed
  moved.id_neutral_default = true;
  moved.id_neutral_value = 1.0;
  after.add(same).add(moved);
  const std::string text = "name: t\nkind: later\n";
  const auto id = [&](const Schema& schema, const std::vector<std::string>& overrides) {
    const Experiment e = parse_experiment(text, "later.yaml", overrides, {{"later", schema}});
    return point_id(SweepPlan(e).point(0));
  };
  const std::string old_id = id(before, {});
  EXPECT_EQ(id(after, {"later.moved=1.0"}), old_id) << "the old computation keeps its id";
  EXPECT_NE(id(after, {}), old_id) << "the new default is another computation";
  EXPECT_NE(id(after, {"later.same=3"}), id(after, {"later.moved=1.0"}));
}

}  // namespace
}  // namespace xbarsweep::config
