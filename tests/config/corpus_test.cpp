// Every file of the bad-input corpus (tests/corpus/config) must be refused with a ConfigError
// that names the problem and, where the file has lines, where it is; quickly, whatever the file.
// The good corpus (tests/corpus/config-good) must load and plan.

#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <regex>
#include <set>

#include "test_schemas.hpp"
#include "xbarsweep/config/sweep_plan.hpp"

namespace xbarsweep::config {
namespace {

namespace fs = std::filesystem;

fs::path source_dir() {
  const char* dir = std::getenv("XBARSWEEP_SOURCE_DIR");
  return dir != nullptr ? fs::path(dir) : fs::path(".");
}

// "filename<TAB>substring" lines: expectations for files that cannot carry a comment.
std::map<std::string, std::string> read_expectations(const fs::path& file) {
  std::map<std::string, std::string> out;
  std::ifstream in(file);
  std::string line;
  while (std::getline(in, line)) {
    const std::size_t tab = line.find('\t');
    if (line.empty() || line[0] == '#' || tab == std::string::npos) continue;
    out[line.substr(0, tab)] = line.substr(tab + 1);
  }
  return out;
}

std::string first_line_expectation(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  std::string line;
  std::getline(in, line);
  const std::string marker = "# expect: ";
  if (line.compare(0, marker.size(), marker) != 0) return "";
  std::string expected = line.substr(marker.size());
  while (!expected.empty() && (expected.back() == '\r' || expected.back() == ' ')) expected.pop_back();
  return expected;
}

// Files whose mistake has no line: nothing in them has a position.
const std::set<std::string> kNoLine = {"empty.yaml", "only_comments.yaml"};

TEST(Corpus, EveryBadFileIsRefusedWithItsMessage) {
  const fs::path dir = source_dir() / "tests" / "corpus" / "config";
  ASSERT_TRUE(fs::is_directory(dir)) << dir;
  const auto expectations = read_expectations(dir / "EXPECTATIONS.txt");
  const auto schemas = test::corpus_schemas();
  std::size_t checked = 0;
  for (const fs::directory_entry& entry : fs::directory_iterator(dir)) {
    const std::string name = entry.path().filename().string();
    if (!entry.is_regular_file() || name == "EXPECTATIONS.txt") continue;
    SCOPED_TRACE(name);
    std::string expected = first_line_expectation(entry.path());
    if (const auto it = expectations.find(name); it != expectations.end()) expected = it->second;
    ASSERT_FALSE(expected.empty()) << "no '# expect:' line and no EXPECTATIONS.txt entry";

    const auto start = std::chrono::steady_clock::now();
    std::string message;
    try {
      load_experiment(entry.path().string(), {}, schemas);
    } catch (const ConfigError& e) {
      message = e.what();
    }
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    ASSERT_FALSE(message.empty()) << "accepted, expected an error containing: " << expected;
    EXPECT_NE(message.find(expected), std::string::npos)
        << "expected: " << expected << "\n     got: " << message;
    EXPECT_EQ(message.rfind(entry.path().string(), 0), 0u) << "does not name the file: " << message;
    if (!kNoLine.count(name)) {
      const std::regex located(
          "^" + std::regex_replace(entry.path().string(), std::regex(R"([.^$|()\[\]{}*+?\\])"), R"(\$&)") +
          R"(:\d+:\d+: )");
      EXPECT_TRUE(std::regex_search(message, located)) << "no line:column in: " << message;
    }
    EXPECT_LT(seconds, 2.0) << "took " << seconds << " s";
    ++checked;
  }
  EXPECT_GE(checked, 25u);
}

TEST(Corpus, GoodFilesLoadAndPlan) {
  const fs::path dir = source_dir() / "tests" / "corpus" / "config-good";
  ASSERT_TRUE(fs::is_directory(dir)) << dir;
  const auto schemas = test::corpus_schemas();
  std::size_t checked = 0;
  for (const fs::directory_entry& entry : fs::directory_iterator(dir)) {
    SCOPED_TRACE(entry.path().filename().string());
    const Experiment e = load_experiment(entry.path().string(), {}, schemas);
    const SweepPlan plan(e);
    EXPECT_GT(plan.size(), 1u);
    std::set<std::string> ids;
    for (std::uint64_t i = 0; i < plan.size(); ++i) ids.insert(point_id(plan.point(i)));
    EXPECT_EQ(ids.size(), plan.size()) << "two points with the same parameters";
    ++checked;
  }
  EXPECT_GE(checked, 1u);
}

TEST(Corpus, FullExampleUsesEveryAxisKind) {
  const fs::path file = source_dir() / "tests" / "corpus" / "config-good" / "full.yaml";
  const Experiment e = load_experiment(file.string(), {}, test::corpus_schemas());
  std::set<Axis::Kind> kinds;
  for (const Axis& axis : e.axes) kinds.insert(axis.kind);
  EXPECT_EQ(kinds.size(), 4u);
  EXPECT_GT(e.repeats, 1u);
}

}  // namespace
}  // namespace xbarsweep::config
