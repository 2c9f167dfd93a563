#include "xbarsweep/config/experiment.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "test_schemas.hpp"

namespace xbarsweep::config {
namespace {

const std::map<std::string, Schema>& schemas() {
  static const auto s = test::unit_schemas();
  return s;
}

Experiment parse(const std::string& text, const std::vector<std::string>& overrides = {}) {
  return parse_experiment(text, "test.yaml", overrides, schemas());
}

// The message of the ConfigError that parsing \p text throws ("" if none).
std::string error_of(const std::string& text, const std::vector<std::string>& overrides = {}) {
  try {
    parse(text, overrides);
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "";
}

#define EXPECT_ERROR(text, substring)                                                            \
  do {                                                                                           \
    const std::string message_ = error_of(text);                                                 \
    EXPECT_NE(message_.find(substring), std::string::npos)                                       \
        << "expected an error containing \"" << (substring) << "\", got \"" << message_ << "\""; \
  } while (0)

const char* const kTrain = "name: t\nkind: train\n";

TEST(Experiment, DefaultsFilledIn) {
  const Experiment e = parse(kTrain);
  EXPECT_EQ(e.name, "t");
  EXPECT_EQ(e.kind, "train");
  EXPECT_EQ(e.output, "results/t.h5");
  EXPECT_EQ(e.seed, 0);
  EXPECT_EQ(e.repeats, 1u);
  EXPECT_EQ(e.max_points, 100000000u);
  EXPECT_DOUBLE_EQ(e.base.real("train.lr"), 0.01);
  EXPECT_EQ(e.base.integer("train.batch_size"), 32);
  EXPECT_EQ(e.base.text("model.name"), "mlp");
  EXPECT_EQ(e.base.integer("seed"), 0);
  EXPECT_TRUE(e.axes.empty());
  EXPECT_EQ(e.source_text, kTrain);
}

TEST(Experiment, SectionValuesAndTopLevelKeys) {
  const Experiment e = parse(
      "name: q.1-x\nkind: train\ndescription: hello\nseed: 5\noutput: out/q.h5\n"
      "train:\n  lr: 1\n  epochs: 4\ndata: {subset: 200}\nmodel: {name: lenet5}\n");
  EXPECT_EQ(e.description, "hello");
  EXPECT_EQ(e.output, "out/q.h5");
  EXPECT_EQ(e.base.integer("seed"), 5);
  // An int is accepted for a real parameter and stored as a real.
  ASSERT_TRUE(std::holds_alternative<double>(*e.base.find("train.lr")));
  EXPECT_DOUBLE_EQ(e.base.real("train.lr"), 1.0);
  EXPECT_EQ(e.base.integer("train.epochs"), 4);
  EXPECT_EQ(e.base.integer("data.subset"), 200);
  EXPECT_EQ(e.base.text("model.name"), "lenet5");
}

TEST(Experiment, TypeChecks) {
  const std::string t = kTrain;
  EXPECT_ERROR(t + "train: {epochs: 2.5}", "test.yaml:3:17: key 'train.epochs': wrong type");
  EXPECT_ERROR(t + "train: {epochs: 2.5}", "expected an int >= 1");
  EXPECT_ERROR(t + "train: {epochs: \"3\"}", "quoted string");
  EXPECT_ERROR(t + "train: {lr: fast}", "wrong type: got 'fast'; expected a real");
  EXPECT_ERROR(t + "train: {lr: .nan}", "not finite");
  EXPECT_ERROR(t + "train: {lr: [0.1]}", "wrong type: got a list");
  EXPECT_ERROR(t + "train: {lr: }", "wrong type: got nothing");
  EXPECT_ERROR(t + "train: {epochs: 99999999999999999999}", "does not fit a 64-bit int");
  EXPECT_ERROR(t + "train: 3", "expected a mapping of 'train' parameters");
  EXPECT_ERROR("name: u\nkind: unit\nunit: {required: 1, flag: yes}", "key 'unit.flag'");
  EXPECT_ERROR("name: u\nkind: unit\nunit: {required: 1, flag: yes}", "expected true or false");
  const Experiment u = parse("name: u\nkind: unit\nunit: {required: 1, flag: true, tag: 12}");
  EXPECT_TRUE(u.base.boolean("unit.flag"));
  EXPECT_EQ(u.base.text("unit.tag"), "12");  // a string parameter takes any scalar's text
  EXPECT_DOUBLE_EQ(u.base.real("unit.ratio"), 0.0);
  EXPECT_ERROR(t + "seed: 1.5", "key 'seed': wrong type");
  EXPECT_ERROR(t + "description: [a]", "key 'description': wrong type");
}

TEST(Experiment, RangeChecks) {
  const std::string t = kTrain;
  EXPECT_ERROR(t + "train: {epochs: 0}", "value '0' is out of range; expected an int >= 1");
  EXPECT_ERROR(t + "train: {lr: 0}", "out of range");
  EXPECT_ERROR(t + "model: {name: resnet}", "value 'resnet' is not allowed");
  EXPECT_ERROR(t + "model: {name: lenet}", "did you mean 'lenet5'?");
  EXPECT_ERROR(t + "model: {name: lenet}", "expected one of mlp, lenet5");
  EXPECT_ERROR("name: u\nkind: unit\nunit: {required: 1, count: 11}", "<= 10");
  EXPECT_ERROR("name: s\nkind: synthetic\nsynthetic: {fail_rate: 1.5}", "expected a real >= 0 and <= 1");
  EXPECT_NO_THROW(parse("name: s\nkind: synthetic\nsynthetic: {fail_rate: 1}"));
}

TEST(Experiment, StringSyntaxChecksReportFileLineAndKey) {
  const std::string u = "name: u\nkind: unit\nunit:\n  required: 1\n  pair: ab\n";
  EXPECT_ERROR(u, "test.yaml:5:");
  EXPECT_ERROR(u, "unit.pair");
  EXPECT_ERROR(u, "value 'ab': expected KEY=VALUE");
  EXPECT_NO_THROW(parse("name: u\nkind: unit\nunit: {required: 1, pair: x=y}"));
  // Sweep values are checked too.
  EXPECT_ERROR("name: u\nkind: unit\nunit: {required: 1}\nsweep:\n  grid:\n    unit.pair: [x=y, z]\n",
               "expected KEY=VALUE");
}

TEST(Experiment, UnknownKeysSuggest) {
  const std::string t = kTrain;
  EXPECT_ERROR(t + "train: {lrr: 0.1}", "unknown key 'train.lrr'; did you mean 'train.lr'?");
  EXPECT_ERROR(t + "train: {subset: 3}", "did you mean 'data.subset'?");
  EXPECT_ERROR(t + "trian: {lr: 0.1}", "unknown key 'trian'; did you mean 'train'?");
  EXPECT_ERROR(t + "zzz: 1", "expected one of name, kind, description");
  EXPECT_ERROR(t + "synthetic: {scale: 1}", "section 'synthetic' belongs to kind 'synthetic'");
  EXPECT_ERROR(t + "sweep: {gird: {}}", "did you mean 'sweep.grid'?");
  EXPECT_ERROR(t + "sweep: {grid: {train.batchsize: [1]}}", "did you mean 'train.batch_size'?");
  EXPECT_ERROR(t + "sweep: {grid: {synthetic.scale: [1]}}", "parameter of kind 'synthetic'");
  EXPECT_ERROR(t + "sweep: {random: {samples: 2, sed: 1}}", "did you mean 'sweep.random.seed'?");
  EXPECT_ERROR("name: t\nkind: trian\n", "unknown kind 'trian'; did you mean 'train'?");
  EXPECT_ERROR("name: t\nkind: gan\n", "expected one of synthetic, train, unit");
  EXPECT_ERROR(t + "train: {lr: 1, lr: 2}", "key 'train.lr': duplicate key");
}

TEST(Experiment, RequiredKeys) {
  EXPECT_ERROR("kind: train\n", "test.yaml:1:1: key 'name': missing required key 'name'");
  EXPECT_ERROR("name: x\n", "missing required key 'kind'; expected one of synthetic, train");
  EXPECT_ERROR("name: u\nkind: unit\n", "missing required key 'unit.required'");
  EXPECT_NO_THROW(parse("name: u\nkind: unit\n", {"unit.required=0.5"}));
  // Set by an axis at every point: fine without a base value.
  EXPECT_NO_THROW(parse("name: u\nkind: unit\nsweep: {grid: {unit.required: [1, 2]}}"));
  EXPECT_ERROR("name: u\nkind: unit\nsweep: {points: [{unit.required: 1}, {unit.count: 2}]}",
               "missing required key 'unit.required'");
  EXPECT_ERROR("name: a b\nkind: train\n", "invalid name 'a b'");
}

TEST(Experiment, DocumentShape) {
  EXPECT_ERROR("", "empty or holds only comments");
  EXPECT_ERROR("# nothing\n\n# at all\n", "empty or holds only comments");
  EXPECT_ERROR("- a\n- b\n", "test.yaml:1:1: the top level is a list; expected a mapping");
  EXPECT_ERROR("just text\n", "the top level is 'just text'");
  EXPECT_ERROR("name: a\n---\nname: b\n", "second YAML document");
  EXPECT_ERROR("name: t\nkind: train\ntrain: {lr: [0.1, 0.2}\n", "test.yaml:3:22: YAML syntax error");
  EXPECT_ERROR(std::string("name: t\nkind: tr\0ain\n", 20), "test.yaml:2:9: binary data");
  EXPECT_ERROR("name: t\nkind: \xff\n", "binary data (byte 0xff)");
  EXPECT_NO_THROW(parse("name: t\nkind: train\ndescription: \"caf\xc3\xa9\"\n"));
  EXPECT_ERROR(std::string(kTrain) + "description: \"" + std::string(1100000, 'x') + "\"\n", "too big");
}

TEST(Experiment, Overrides) {
  const std::string t = "name: t\nkind: train\nseed: 4\ntrain: {lr: 0.5}\n";
  const Experiment e = parse(t, {"train.lr=0.25", "seed=3", "name=other", "model.name=lenet5",
                                 "sweep.repeats=2", "description=from the command line"});
  EXPECT_DOUBLE_EQ(e.base.real("train.lr"), 0.25);
  EXPECT_EQ(e.seed, 3);
  EXPECT_EQ(e.base.integer("seed"), 3);
  EXPECT_EQ(e.name, "other");
  EXPECT_EQ(e.output, "results/other.h5");
  EXPECT_EQ(e.base.text("model.name"), "lenet5");
  EXPECT_EQ(e.repeats, 2u);
  EXPECT_EQ(e.description, "from the command line");
  EXPECT_EQ(e.overrides.size(), 6u);
  EXPECT_EQ(parse(t, {"output=x/y.h5"}).output, "x/y.h5");
  // Later overrides win.
  EXPECT_DOUBLE_EQ(parse(t, {"train.lr=0.1", "train.lr=0.2"}).base.real("train.lr"), 0.2);

  const auto override_error = [&](const std::string& o) { return error_of(t, {o}); };
  EXPECT_NE(override_error("train.lr=abc").find("--set 'train.lr=abc': key 'train.lr': wrong type"),
            std::string::npos);
  EXPECT_NE(override_error("train.epochs=0").find("out of range"), std::string::npos);
  EXPECT_NE(override_error("train.lrr=1").find("did you mean 'train.lr'?"), std::string::npos);
  EXPECT_NE(override_error("train.lr").find("expected path=value"), std::string::npos);
  EXPECT_NE(override_error("train.lr=[1, 2]").find("wrong type: got a list"), std::string::npos);
  EXPECT_NE(override_error("train.lr={a: 1").find("not a YAML scalar"), std::string::npos);
  EXPECT_NE(override_error("sweep.grid.train.lr=1").find("cannot be set with --set"), std::string::npos);
  EXPECT_NE(override_error("kind=synthetic").find("cannot be changed"), std::string::npos);
  EXPECT_NE(override_error("seed=x").find("key 'seed'"), std::string::npos);
  EXPECT_NE(override_error("name=a/b").find("invalid name"), std::string::npos);
}

TEST(Experiment, LoadFromDisk) {
  namespace fs = std::filesystem;
  const fs::path dir = fs::temp_directory_path() / ("xbarsweep_config_test_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  const auto message = [&](const fs::path& p) {
    try {
      load_experiment(p.string(), {}, schemas());
    } catch (const ConfigError& e) {
      return std::string(e.what());
    }
    return std::string();
  };
  EXPECT_NE(message(dir / "absent.yaml").find("no such file"), std::string::npos);
  EXPECT_NE(message(dir).find("directory"), std::string::npos);
  {
    std::ofstream big(dir / "big.yaml");
    big << "name: t\nkind: train\n";
    for (int i = 0; i < 60000; ++i) big << "# padding padding padding\n";
  }
  EXPECT_NE(message(dir / "big.yaml").find("too big"), std::string::npos);
  {
    std::ofstream good(dir / "good.yaml");
    good << "name: t\nkind: train\n";
  }
  EXPECT_EQ(load_experiment((dir / "good.yaml").string(), {}, schemas()).path, (dir / "good.yaml").string());
  fs::remove_all(dir);
}

TEST(DidYouMean, ClosestWithinReach) {
  const std::vector<std::string> keys = {"train.lr", "train.epochs", "train.batch_size"};
  EXPECT_EQ(did_you_mean("train.lrr", keys), "train.lr");
  EXPECT_EQ(did_you_mean("train.epoch", keys), "train.epochs");
  EXPECT_EQ(did_you_mean("train.batchsize", keys), "train.batch_size");
  EXPECT_EQ(did_you_mean("TRAIN.LR", keys), "train.lr");
  EXPECT_EQ(did_you_mean("trian", {"train", "synthetic"}), "train");  // a transposition
  EXPECT_EQ(did_you_mean("optimizer", keys), "");
  EXPECT_EQ(did_you_mean("", keys), "");
  EXPECT_EQ(did_you_mean("lr", {"bs"}), "");
  EXPECT_EQ(did_you_mean("x", {}), "");
}

}  // namespace
}  // namespace xbarsweep::config
