#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>

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

xs::store::PointRecord seeded(xs::store::PointRecord r, std::int64_t seed) {
  r.params.set("seed", seed);
  return r;
}
}  // namespace

TEST(Report, RowsInPlanOrderWithSweptParamsAndMetrics) {
  xs::store::Results results;
  results.info.swept_paths = {"train.lr"};
  results.points = {point("b", 2, 0.1, 0.5), point("a", 0, 0.01, 0.25),
                    point("c", 1, 0.05, 0, xs::store::PointStatus::Failed)};
  const auto table = xs::report::results_table(results);
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
  const auto table = xs::report::results_table(results, {{"loss", "accuracy"}, {}});
  ASSERT_EQ(table.columns, (std::vector<std::string>{"id", "status", "train.lr", "loss", "accuracy"}));
  EXPECT_EQ(table.rows[0], (std::vector<std::string>{"a", "done", "0.01", "1.5", "0.25"}));
}

TEST(Report, MeanOverSeedsGroupsTheOtherParameters) {
  xs::store::Results results;
  results.info.swept_paths = {"train.lr", "seed"};
  // Two learning rates, three seeds each; one point of lr 0.1 failed.
  results.points = {
      seeded(point("a", 0, 0.01, 0.5), 1),  seeded(point("b", 1, 0.1, 0.75), 1),
      seeded(point("c", 2, 0.01, 0.25), 2), seeded(point("d", 3, 0.1, 0.25), 2),
      seeded(point("e", 4, 0.01, 0.75), 3), seeded(point("f", 5, 0.1, 0, xs::store::PointStatus::Failed), 3)};
  const auto table = xs::report::results_table(results, {{}, {"seed"}});
  ASSERT_EQ(table.columns, (std::vector<std::string>{"train.lr", "done", "failed", "accuracy_mean",
                                                     "accuracy_std", "accuracy_ci95"}));
  ASSERT_EQ(table.rows.size(), 2u);
  // lr 0.01: 0.5, 0.25, 0.75 -> mean 0.5, sample std 0.25.
  EXPECT_EQ(table.rows[0][0], "0.01");
  EXPECT_EQ(table.rows[0][1], "3");
  EXPECT_EQ(table.rows[0][2], "0");
  EXPECT_DOUBLE_EQ(std::stod(table.rows[0][3]), 0.5);
  EXPECT_DOUBLE_EQ(std::stod(table.rows[0][4]), 0.25);
  // 95% half-width: t(0.975, 2 dof) = 4.302652730 x 0.25 / sqrt(3).
  EXPECT_NEAR(std::stod(table.rows[0][5]), 4.302652730 * 0.25 / std::sqrt(3.0), 1e-9);
  // lr 0.1: 0.75, 0.25 (the failed point counted, not averaged) -> mean 0.5, std sqrt(0.125).
  EXPECT_EQ(table.rows[1][1], "2");
  EXPECT_EQ(table.rows[1][2], "1");
  EXPECT_DOUBLE_EQ(std::stod(table.rows[1][3]), 0.5);
  EXPECT_NEAR(std::stod(table.rows[1][4]), std::sqrt(0.125), 1e-15);

  // One value: a mean and no standard deviation.
  results.points.resize(2);
  const auto single = xs::report::results_table(results, {{"accuracy"}, {"seed"}});
  EXPECT_EQ(single.rows[1], (std::vector<std::string>{"0.1", "1", "0", "0.75", "", ""}));
}

TEST(Report, UnknownMetricsAndParametersAreNamed) {
  xs::store::Results results;
  results.info.swept_paths = {"train.lr"};
  results.points = {point("a", 0, 0.01, 0.25)};
  try {
    xs::report::results_table(results, {{"acuracy"}, {}});
    FAIL() << "an unknown metric must throw";
  } catch (const xs::report::ReportError& e) {
    EXPECT_NE(std::string(e.what()).find("`acuracy`"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("metrics: accuracy"), std::string::npos) << e.what();
  }
  try {
    xs::report::results_table(results, {{}, {"seed"}});
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
  const auto table = xs::report::results_table(results);
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

TEST(Report, NumbersAreTheShortestTextThatReadsBack) {
  for (const double v : {0.78, 0.47945205479452058, 1e-05, 123456789.0, -0.1, 5e-324, 1.0 / 3.0}) {
    const std::string text = xs::report::shortest(v);
    EXPECT_EQ(std::strtod(text.c_str(), nullptr), v) << text;  // stod refuses denormals
  }
  EXPECT_EQ(xs::report::shortest(0.78), "0.78");
  EXPECT_EQ(xs::report::shortest(0.1 + 0.2), "0.30000000000000004");
  EXPECT_EQ(xs::report::shortest(std::nan("")), "nan");
}

TEST(Report, WhereFiltersAndSortOrders) {
  xs::store::Results results;
  results.info.swept_paths = {"train.lr"};
  results.points = {point("a", 0, 0.01, 0.25), point("b", 1, 0.1, 0.75), point("c", 2, 0.05, 0.5),
                    point("d", 3, 0.2, 0, xs::store::PointStatus::Failed)};
  xs::report::TableOptions o;
  o.where = {xs::report::parse_where("train.lr=0.10")};  // numbers compare as numbers
  auto t = xs::report::results_table(results, o);
  ASSERT_EQ(t.rows.size(), 1u);
  EXPECT_EQ(t.rows[0][0], "b");
  o.where = {xs::report::parse_where("status=done")};
  xs::report::parse_sort("accuracy:desc", o);
  t = xs::report::results_table(results, o);
  ASSERT_EQ(t.rows.size(), 3u);
  EXPECT_EQ(t.rows[0][0], "b");
  EXPECT_EQ(t.rows[2][0], "a");
  o.where = {xs::report::parse_where("train.momentum=0.9")};
  EXPECT_THROW(xs::report::results_table(results, o), xs::report::ReportError);
  EXPECT_THROW(xs::report::parse_where("no-equals-sign"), xs::report::ReportError);
  EXPECT_THROW(xs::report::parse_sort("accuracy:up", o), xs::report::ReportError);
}

// Brute force: a point is on the front iff no other point is >= on every objective and > on one.
TEST(Report, ParetoFrontMatchesBruteForce) {
  std::mt19937 rng(7);
  for (int trial = 0; trial < 200; ++trial) {
    const std::size_t k = 2 + trial % 3, n = 1 + rng() % 40;
    std::vector<xs::report::Objective> objectives;
    for (std::size_t j = 0; j < k; ++j) objectives.push_back({"m" + std::to_string(j), rng() % 2 == 0});
    std::vector<std::vector<double>> values(n, std::vector<double>(k));
    for (auto& row : values)
      for (auto& x : row) x = rng() % 10 == 0 ? std::nan("") : static_cast<double>(rng() % 4);  // ties
    const auto front = xs::report::pareto_front(values, objectives);
    for (std::size_t i = 0; i < n; ++i) {
      bool nan = false, dominated = false;
      for (double x : values[i]) nan = nan || std::isnan(x);
      for (std::size_t j = 0; j < n && !nan; ++j) {
        bool all = true, some = false, has_nan = false;
        for (std::size_t m = 0; m < k; ++m) {
          has_nan = has_nan || std::isnan(values[j][m]);
          const double a = objectives[m].maximise ? values[j][m] : -values[j][m];
          const double b = objectives[m].maximise ? values[i][m] : -values[i][m];
          all = all && a >= b;
          some = some || a > b;
        }
        dominated = dominated || (j != i && !has_nan && all && some);
      }
      const bool on_front = std::find(front.begin(), front.end(), i) != front.end();
      ASSERT_EQ(on_front, !nan && !dominated) << "trial " << trial << " row " << i;
    }
  }
}

TEST(Report, ParetoTableKeepsDoneNonDominatedPoints) {
  xs::store::Results results;
  results.info.swept_paths = {"train.lr"};
  results.points = {point("a", 0, 0.01, 0.25), point("b", 1, 0.1, 0.75), point("c", 2, 0.05, 0.5),
                    point("d", 3, 0.2, 0, xs::store::PointStatus::Failed)};
  results.points[0].metrics["crossbars"] = 1;
  results.points[1].metrics["crossbars"] = 9;
  results.points[2].metrics["crossbars"] = 9;  // dominated by b
  xs::report::TableOptions o;
  o.pareto = xs::report::parse_objectives("accuracy:max,crossbars:min");
  const auto t = xs::report::results_table(results, o);
  ASSERT_EQ(t.rows.size(), 2u);
  EXPECT_EQ(t.rows[0][0], "a");
  EXPECT_EQ(t.rows[1][0], "b");
  EXPECT_THROW(xs::report::parse_objectives("accuracy:up"), xs::report::ReportError);
}

TEST(Report, StudentQuantiles) {
  EXPECT_NEAR(xs::report::student_t_975(1), 12.7062047, 1e-6);
  EXPECT_NEAR(xs::report::student_t_975(30), 2.0422725, 1e-6);
  EXPECT_NEAR(xs::report::student_t_975(40), 2.0210754, 1e-5);
  EXPECT_NEAR(xs::report::student_t_975(120), 1.9799304, 1e-5);
}

TEST(Report, JsonAndLatex) {
  xs::report::Table t;
  t.columns = {"id", "status", "model.name", "accuracy_mean", "accuracy_std", "crossbars"};
  t.rows = {{"1234567890123456", "done", "a_b&c", "0.78", "0.01", "12"},
            {"x", "failed", "nan", "", "", "nan"}};
  const std::string json = xs::report::to_json(t);
  EXPECT_NE(json.find("\"id\": \"1234567890123456\""), std::string::npos) << json;
  EXPECT_NE(json.find("\"accuracy_mean\": 0.78"), std::string::npos) << json;
  EXPECT_NE(json.find("\"accuracy_mean\": null"), std::string::npos) << json;
  EXPECT_NE(json.find("\"crossbars\": null"), std::string::npos) << json;      // NaN: no JSON number
  EXPECT_NE(json.find("\"model.name\": \"nan\""), std::string::npos) << json;  // a string stays one
  std::string latex = xs::report::to_latex(t, {"Paper A, Table I", "tab:a"});
  EXPECT_NE(latex.find("a\\_b\\&c"), std::string::npos) << latex;
  EXPECT_NE(latex.find("\\begin{tabular}{lllr@{}lr@{}l}"), std::string::npos) << latex;
  EXPECT_NE(latex.find("0 & .78 $\\pm$ 0.01"), std::string::npos) << latex;
  t.rows[1][5] = "1e-05";
  latex = xs::report::to_latex(t, {"Paper A, Table I", "tab:a"});
  EXPECT_NE(latex.find("1 & $\\times 10^{-5}$"), std::string::npos) << latex;
  EXPECT_NE(latex.find("\\caption{Paper A, Table I}"), std::string::npos) << latex;
  EXPECT_NE(latex.find("\\toprule"), std::string::npos) << latex;
}

// Runs read as one (each with its own --set) differ in parameters that no run swept: those get
// columns too, after the swept ones; parameters equal everywhere do not.
TEST(Report, ParametersThatDifferAmongThePointsAreColumns) {
  xs::store::Results results;
  results.info.swept_paths = {"train.lr"};
  results.points = {point("a", 0, 0.01, 0.25), point("b", 1, 0.1, 0.5)};
  results.points[0].params.set("admm.keep", 0.5);
  results.points[1].params.set("admm.keep", 0.4);
  results.points[1].params.set("admm.levels", std::int64_t(8));  // only in one point
  const auto table = xs::report::results_table(results);
  ASSERT_EQ(table.columns,
            (std::vector<std::string>{"id", "status", "train.lr", "admm.keep", "admm.levels", "accuracy"}));
  EXPECT_EQ(table.rows[0], (std::vector<std::string>{"a", "done", "0.01", "0.5", "", "0.25"}));
  EXPECT_EQ(table.rows[1], (std::vector<std::string>{"b", "done", "0.1", "0.4", "8", "0.5"}));
}

// --relative-to: each point against the done point equal in every other parameter (same seed),
// averaged over seeds as any metric; no reference (failed, or other settings) leaves the cell
// empty; a reference value no point has, or an unknown path, is named.
TEST(Report, DifferencesAgainstAReferencePointOfTheSameSeed) {
  xs::store::Results results;
  results.info.swept_paths = {"train.lr", "seed"};
  // lr 0.01 is the reference; lr 0.1 differs from it by -0.25 and -0.5 on seeds 1 and 2; seed 3's
  // reference failed; one lr 0.1 point has another setting and so no reference.
  results.points = {seeded(point("a", 0, 0.01, 0.75), 1),
                    seeded(point("b", 1, 0.1, 0.5), 1),
                    seeded(point("c", 2, 0.01, 1.0), 2),
                    seeded(point("d", 3, 0.1, 0.5), 2),
                    seeded(point("e", 4, 0.01, 0, xs::store::PointStatus::Failed), 3),
                    seeded(point("f", 5, 0.1, 0.25), 3),
                    seeded(point("g", 6, 0.1, 0.25), 1)};
  results.points[6].params.set("model.name", std::string("mlp"));
  xs::report::TableOptions options;
  options.metrics = {"accuracy", "accuracy_diff"};
  options.relative_to = {"train.lr", "0.010"};  // numbers compare as numbers
  const auto table = xs::report::results_table(results, options);
  ASSERT_EQ(table.rows.size(), 7u);
  const auto diff_of = [&](const std::string& id) {
    for (const auto& row : table.rows)
      if (row[0] == id) return row.back();
    return std::string("missing");
  };
  EXPECT_EQ(diff_of("a"), "0");
  EXPECT_EQ(diff_of("b"), "-0.25");
  EXPECT_EQ(diff_of("d"), "-0.5");
  EXPECT_EQ(diff_of("f"), "");  // the reference failed
  EXPECT_EQ(diff_of("g"), "");  // another model: no reference
  EXPECT_EQ(diff_of("e"), "");  // failed itself

  options.mean_over = {"seed"};
  options.where = {{"model.name", "lenet5"}, {"train.lr", "0.1"}};
  const auto averaged = xs::report::results_table(results, options);
  ASSERT_EQ(averaged.rows.size(), 1u);
  // accuracy_diff over seeds 1 and 2: mean -0.375, std sqrt(0.03125).
  EXPECT_EQ(averaged.columns[6], "accuracy_diff_mean");
  EXPECT_DOUBLE_EQ(std::stod(averaged.rows[0][6]), -0.375);
  EXPECT_NEAR(std::stod(averaged.rows[0][7]), std::sqrt(0.03125), 1e-15);

  options = {};
  options.relative_to = {"train.lr", "0.5"};
  EXPECT_THROW(xs::report::results_table(results, options), xs::report::ReportError);
  options.relative_to = {"train.lrr", "0.01"};
  EXPECT_THROW(xs::report::results_table(results, options), xs::report::ReportError);
}
