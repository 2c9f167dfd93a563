// crossbar.* parameters: schema defaults, parsing, errors that name the key.
#include <gtest/gtest.h>

#include <string>

#include "xbarsweep/config/schema.hpp"
#include "xbarsweep/config/value.hpp"
#include "xbarsweep/crossbar/config.hpp"
#include "xbarsweep/error.hpp"

namespace xbarsweep::crossbar {
namespace {

TEST(CrossbarSchema, DefaultsMatchTheStructAndEveryNonIdealityIsOff) {
  const config::Schema s = crossbar_schema();
  config::Params p;
  for (const auto& spec : s.specs()) {
    EXPECT_EQ(spec.path.rfind("crossbar.", 0), 0u) << spec.path;
    EXPECT_FALSE(spec.doc.empty()) << spec.path;
    p.set(spec.path, spec.default_value);
  }
  const CrossbarConfig from_schema = crossbar_config_from_params(p);
  const CrossbarConfig def;
  EXPECT_EQ(from_schema.rows, def.rows);
  EXPECT_EQ(from_schema.levels, 0);
  EXPECT_EQ(from_schema.sigma, 0.0);
  EXPECT_EQ(from_schema.prog_noise, 0.0);
  EXPECT_EQ(from_schema.read_noise, 0.0);
  EXPECT_EQ(from_schema.stuck_min_rate + from_schema.stuck_max_rate, 0.0);
  EXPECT_EQ(from_schema.wire_ohm, 0.0);
  EXPECT_EQ(from_schema.dac_bits + from_schema.adc_bits, 0);
  EXPECT_EQ(from_schema.g_min_us, 0.0);
  EXPECT_EQ(from_schema.drift, Drift::None);
  for (const char* key : {"crossbar.sigma", "crossbar.adc_bits", "crossbar.wire_ohm", "crossbar.mapping"})
    EXPECT_NE(s.find(key), nullptr) << key;
}

// Drift read times: a list of seconds, each entry checked, and only with drift on.
TEST(CrossbarSchema, DriftTimesAreCheckedEntryByEntry) {
  CrossbarConfig c;
  c.drift = Drift::PowerLaw;
  c.drift_times = " 1, 3600 ,86400, 3.15e7";
  EXPECT_EQ(c.drift_time_list(), (std::vector<double>{1.0, 3600.0, 86400.0, 3.15e7}));
  EXPECT_FALSE(c.problem().has_value());
  for (const std::string bad : {"1, 1h", "1,,2", "-5", "nan", "1, "}) {
    c.drift_times = bad;
    const auto p = c.problem();
    ASSERT_TRUE(p.has_value()) << bad;
    EXPECT_EQ(p->key, "crossbar.drift_times") << bad;
    EXPECT_NE(p->message.find("expected"), std::string::npos) << p->message;
    EXPECT_THROW(c.drift_time_list(), CrossbarError) << bad;
  }
  c.drift_times = "1, 3600";
  c.drift = Drift::None;
  ASSERT_TRUE(c.problem().has_value());
  EXPECT_NE(c.problem()->message.find("crossbar.drift"), std::string::npos);
}

TEST(CrossbarSchema, ParsesValuesAndNamesTheKeyOnError) {
  config::Params p;
  p.set("crossbar.rows", std::int64_t{64});
  p.set("crossbar.levels", std::int64_t{16});
  p.set("crossbar.mapping", std::string("offset"));
  p.set("crossbar.sigma", 0.1);
  p.set("crossbar.read_noise_mode", std::string("proportional"));
  p.set("crossbar.adc_range", std::string("theoretical"));
  const CrossbarConfig c = crossbar_config_from_params(p);
  EXPECT_EQ(c.rows, 64);
  EXPECT_EQ(c.levels, 16);
  EXPECT_EQ(c.mapping, Mapping::Offset);
  EXPECT_EQ(c.read_noise_mode, ReadNoiseMode::Proportional);
  EXPECT_EQ(c.adc_range, AdcRange::Theoretical);
  EXPECT_DOUBLE_EQ(c.sigma, 0.1);

  // The loader admits only declared choices; a Params built by hand with another is a bug.
  p.set("crossbar.mapping", std::string("diagonal"));
  EXPECT_THROW(crossbar_config_from_params(p), xbarsweep::InternalError);
  p.set("crossbar.mapping", std::string("offset"));
  p.set("crossbar.stuck_min_rate", 0.7);
  p.set("crossbar.stuck_max_rate", 0.7);
  const auto problem = crossbar_section().read(p).problem();
  ASSERT_TRUE(problem.has_value());
  EXPECT_EQ(problem->key, "crossbar.stuck_max_rate");
  EXPECT_NE(problem->message.find("sum <= 1"), std::string::npos) << problem->message;
  try {
    crossbar_config_from_params(p);
    FAIL() << "expected a CrossbarError";
  } catch (const CrossbarError& e) {
    EXPECT_NE(std::string(e.what()).find("crossbar.stuck_max_rate"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace xbarsweep::crossbar
