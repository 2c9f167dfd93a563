#pragma once
/// \file
/// \brief Results as a table: one row per point (or per group of repeats), filtered, sorted or
/// reduced to a Pareto front, for terminals (Markdown), spreadsheets (CSV), scripts (JSON) and
/// papers (LaTeX). Numbers are written as the shortest text that reads back to the same double.

#include <cstdint>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "xbarsweep/error.hpp"
#include "xbarsweep/store/results_store.hpp"

namespace xbarsweep::report {

/// \brief A rectangular table of text cells.
struct Table {
  std::vector<std::string> columns;
  std::vector<std::vector<std::string>> rows;
};

/// \brief The shortest decimal text that reads back (strtod) to exactly \p v: "0.78", "1e-05",
/// "nan", "inf".
std::string shortest(double v);

/// \brief One objective of a Pareto front: a metric, maximised or minimised.
struct Objective {
  std::string metric;
  bool maximise = true;
};

/// \brief "accuracy:max,crossbars:min" as objectives. \throws ReportError for a malformed list.
std::vector<Objective> parse_objectives(const std::string& text);

/// \brief The indices of \p values' rows (one vector of objective values each, in the order of
/// \p objectives) that no other row dominates: no other row is at least as good on every
/// objective and better on one. Rows equal on every objective are all kept. Rows with a NaN
/// are never on the front.
std::vector<std::size_t> pareto_front(const std::vector<std::vector<double>>& values,
                                      const std::vector<Objective>& objectives);

/// \brief The 0.975 quantile of Student's t with \p dof degrees of freedom (dof >= 1): the
/// half-width of a 95% confidence interval of a mean is t * std / sqrt(n) with dof = n - 1.
double student_t_975(std::int64_t dof);

/// \brief Which rows and columns a report has.
struct TableOptions {
  /// Metric columns in this order; empty = every scalar metric, sorted by name.
  std::vector<std::string> metrics;
  /// Swept parameters to average over (typically `seed`); empty = one row per point. Points that
  /// agree on every other swept parameter form one row: those parameters, `done` and `failed`
  /// counts, and per metric `<metric>_mean`, `<metric>_std` (sample standard deviation) and
  /// `<metric>_ci95` (half-width of the 95% Student-t confidence interval of the mean) over the
  /// group's done points that have it; `_std` and `_ci95` are empty below two values.
  std::vector<std::string> mean_over;
  /// Keep only the points whose parameter (or `status`) equals the value: (path, value) pairs,
  /// all of which must hold. Numbers compare as numbers ("0.10" = "0.1").
  std::vector<std::pair<std::string, std::string>> where;
  /// Sort rows by this metric or parameter (averaged: its mean); empty = plan order. Rows
  /// without a value go last.
  std::string sort;
  bool descending = false;
  /// Keep only the non-dominated done points (before averaging) on these metrics.
  std::vector<Objective> pareto;
  /// A reference by (path, value), e.g. (clstm.block_size, 1): every metric m gets a companion
  /// `m_diff` = m - m of the reference point, the done point whose parameters all equal this
  /// point's except that path, which has the value (same seed, same settings: an accuracy
  /// loss against the dense model is -accuracy_diff). Empty where there is no such point or it
  /// lacks m. Computed before filtering, averaging and the Pareto front, so `_diff` metrics
  /// average over seeds and can be objectives. Empty path = none.
  std::pair<std::string, std::string> relative_to;
};

/// \brief "path=value" as a (path, value) pair. \throws ReportError without '=', naming \p option.
std::pair<std::string, std::string> parse_where(const std::string& text,
                                                const std::string& option = "--where");

/// \brief "metric" or "metric:desc" / "metric:asc" into options.sort and options.descending.
/// \throws ReportError for another suffix.
void parse_sort(const std::string& text, TableOptions& options);

/// \brief Columns `id`, `status`, every swept parameter by dotted path, then the metrics.
/// Rows in plan order (index, then id), so a report does not depend on which rank computed what
/// or in which order; averaged rows in the plan order of their first point.
/// \throws ReportError for a metric no point has, a `mean_over` path the sweep does not vary, a
///   `where` path no point has, or a sort key that is neither.
Table results_table(const store::Results& results, const TableOptions& options = {});

/// \brief RFC 4180 CSV (quotes where needed), one header line.
std::string to_csv(const Table& table);

/// \brief A GitHub-flavoured Markdown table.
std::string to_markdown(const Table& table);

/// \brief A JSON array of objects, one per row: numbers as numbers, empty cells as null, `id`
/// and `status` always strings.
std::string to_json(const Table& table);

/// \brief What a LaTeX table says beside its cells.
struct LatexOptions {
  std::string caption;
  std::string label;
};

/// \brief A booktabs `table` environment: text escaped, numeric columns aligned on the decimal
/// point (`r@{}l`), `<m>_mean` and `<m>_std` columns merged into one `mean ± std` column.
/// Needs `\usepackage{booktabs}`.
std::string to_latex(const Table& table, const LatexOptions& options = {});

/// \brief Counts by status, and the failures.
struct StatusSummary {
  std::size_t done = 0;
  std::size_t failed = 0;
  std::uint64_t planned = 0;                                  ///< 0 when the file does not say
  std::vector<std::pair<std::string, std::string>> failures;  ///< (id, error)
};

StatusSummary summarize(const store::Results& results);

}  // namespace xbarsweep::report
