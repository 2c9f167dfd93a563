#include <gtest/gtest.h>

#include <cmath>

#include "xbarsweep/report/table.hpp"

namespace xs = xbarsweep;

namespace {
xs::store::PointRecord point(const std::string& id, std::uint64_t index, double lr, double acc,
                             xs::store::PointStatus status = xs::store::PointStatus::Done) {
  xs::store::PointRecord r;
  r.id = id;
  r.index = index;
  r.status = status;
  r.params.set("train.lr", lr);
  r.params.set("model.name", std::string("lenet5"));
  if (status == xs::store::PointStatus::Done)
    r.metrics["accuracy"] = acc;
  else
    r.error = "boom, \"quoted\"";
  return r;
}
}  // namespace

TEST(Report, RowsInPlanOrderWithSweptParamsAndMetrics) {
  xs::store::Results results;
  results.info.swept_paths = {"train.lr"};
  results.points = {point("b", 2, 0.1, 0.5), point("a", 0, 0.01, 0.25),
                    point("c", 1, 0.05, 0, xs::store::PointStatus::Failed)};
  const auto table = xs::report::results_table(results, xs::report::Precision::Brief);
  ASSERT_EQ(table.columns, (std::vector<std::string>{"id", "status", "train.lr", "accuracy"}));
  ASSERT_EQ(table.rows.size(), 3u);
  EXPECT_EQ(table.rows[0], (std::vector<std::string>{"a", "done", "0.01", "0.25"}));
  EXPECT_EQ(table.rows[1], (std::vector<std::string>{"c", "failed", "0.05", ""}));
  EXPECT_EQ(table.rows[2], (std::vector<std::string>{"b", "done", "0.1", "0.5"}));
}

TEST(Report, ChosenMetricsInTheirOrder) {
  xs::store::Results results;
  results.info.swept_paths = {"train.lr"};
  results.points = {point("a", 0, 0.01, 0.25)};
  results.points[0].metrics["loss"] = 1.5;
  const auto table =
      xs::report::results_table(results, xs::report::Precision::Brief, {{"loss", "accuracy"}, {}});
  ASSERT_EQ(table.columns, (std::vector<std::string>{"id", "status", "train.lr", "loss", "accuracy"}));
  EXPECT_EQ(table.rows[0], (std::vector<std::string>{"a", "done", "0.01", "1.5", "0.25"}));
}

TEST(Report, MeanOverSeedsGroupsTheOtherParameters) {
  xs::store::Results results;
  results.info.swept_paths = {"train.lr", "seed"};
  const auto seeded = [](xs::store::PointRecord r, std::int64_t seed) {
    r.params.set("seed", seed);
    return r;
  };
  // Two learning rates, three seeds each; one point of lr 0.1 failed.
  results.points = {
      seeded(point("a", 0, 0.01, 0.5), 1),  seeded(point("b", 1, 0.1, 0.75), 1),
      seeded(point("c", 2, 0.01, 0.25), 2), seeded(point("d", 3, 0.1, 0.25), 2),
      seeded(point("e", 4, 0.01, 0.75), 3), seeded(point("f", 5, 0.1, 0, xs::store::PointStatus::Failed), 3)};
  const auto table = xs::report::results_table(results, xs::report::Precision::Exact, {{}, {"seed"}});
  ASSERT_EQ(table.columns,
            (std::vector<std::string>{"train.lr", "done", "failed", "accuracy_mean", "accuracy_std"}));
  ASSERT_EQ(table.rows.size(), 2u);
  // lr 0.01: 0.5, 0.25, 0.75 -> mean 0.5, sample std 0.25.
  EXPECT_EQ(table.rows[0][0], "0.01");
  EXPECT_EQ(table.rows[0][1], "3");
  EXPECT_EQ(table.rows[0][2], "0");
  EXPECT_DOUBLE_EQ(std::stod(table.rows[0][3]), 0.5);
  EXPECT_DOUBLE_EQ(std::stod(table.rows[0][4]), 0.25);
  // lr 0.1: 0.75, 0.25 (the failed point counted, not averaged) -> mean 0.5, std sqrt(0.125).
  EXPECT_EQ(table.rows[1][1], "2");
  EXPECT_EQ(table.rows[1][2], "1");
  EXPECT_DOUBLE_EQ(std::stod(table.rows[1][3]), 0.5);
  EXPECT_NEAR(std::stod(table.rows[1][4]), std::sqrt(0.125), 1e-15);

  // One value: a mean and no standard deviation.
  results.points.resize(2);
  const auto single =
      xs::report::results_table(results, xs::report::Precision::Brief, {{"accuracy"}, {"seed"}});
  EXPECT_EQ(single.rows[1], (std::vector<std::string>{"0.1", "1", "0", "0.75", ""}));
}

TEST(Report, UnknownMetricsAndParametersAreNamed) {
  xs::store::Results results;
  results.info.swept_paths = {"train.lr"};
  results.points = {point("a", 0, 0.01, 0.25)};
  try {
    xs::report::results_table(results, xs::report::Precision::Brief, {{"acuracy"}, {}});
    FAIL() << "an unknown metric must throw";
  } catch (const xs::report::ReportError& e) {
    EXPECT_NE(std::string(e.what()).find("`acuracy`"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("metrics: accuracy"), std::string::npos) << e.what();
  }
  try {
    xs::report::results_table(results, xs::report::Precision::Brief, {{}, {"seed"}});
    FAIL() << "averaging over a parameter the sweep does not vary must throw";
  } catch (const xs::report::ReportError& e) {
    EXPECT_NE(std::string(e.what()).find("`seed`"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("train.lr"), std::string::npos) << e.what();
  }
}

TEST(Report, ExactPrecisionRoundTrips) {
  xs::store::Results results;
  results.info.swept_paths = {"train.lr"};
  results.points = {point("a", 0, 0.1, 1.0 / 3.0)};
  const auto table = xs::report::results_table(results, xs::report::Precision::Exact);
  EXPECT_EQ(std::stod(table.rows[0][3]), 1.0 / 3.0);
  EXPECT_EQ(std::stod(table.rows[0][2]), 0.1);
}

TEST(Report, CsvQuotesAndMarkdownEscapes) {
  xs::report::Table t{{"id", "note"}, {{"x", "a,b"}, {"y", "say \"hi\""}, {"z", "p|q"}}};
  EXPECT_EQ(xs::report::to_csv(t), "id,note\nx,\"a,b\"\ny,\"say \"\"hi\"\"\"\nz,p|q\n");
  const std::string md = xs::report::to_markdown(t);
  EXPECT_NE(md.find("p\\|q"), std::string::npos) << md;
  EXPECT_EQ(md.substr(0, 6), "| id  ");
}

TEST(Report, StatusCountsAndFailures) {
  xs::store::Results results;
  results.info.planned_points = 5;
  results.points = {point("a", 0, 0.1, 0.5), point("b", 1, 0.2, 0, xs::store::PointStatus::Failed)};
  const auto s = xs::report::summarize(results);
  EXPECT_EQ(s.done, 1u);
  EXPECT_EQ(s.failed, 1u);
  EXPECT_EQ(s.planned, 5u);
  ASSERT_EQ(s.failures.size(), 1u);
  EXPECT_EQ(s.failures[0].first, "b");
}
