#include <gtest/gtest.h>

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
  if (status == xs::store::PointStatus::Done) r.metrics["accuracy"] = acc;
  else r.error = "boom, \"quoted\"";
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
