#pragma once
/// \file
/// \brief Results as a table: one row per point, for terminals, spreadsheets and papers.

#include <stdexcept>
#include <string>
#include <vector>

#include "xbarsweep/error.hpp"
#include "xbarsweep/store/results_store.hpp"

namespace xbarsweep::report {

/// \brief A rectangular table of text cells.
struct Table {
  std::vector<std::string> columns;
  std::vector<std::vector<std::string>> rows;
};

/// \brief How numbers are written: exactly (round-trip, for CSV) or briefly (for reading).
enum class Precision { Exact, Brief };

/// \brief Which columns a report has and whether points are averaged.
struct TableOptions {
  /// Metric columns in this order; empty = every scalar metric, sorted by name.
  std::vector<std::string> metrics;
  /// Swept parameters to average over (typically `seed`); empty = one row per point. Points that
  /// agree on every other swept parameter form one row: those parameters, `done` and `failed`
  /// counts, and per metric `<metric>_mean` and `<metric>_std` (sample standard deviation) over
  /// the group's done points that have it; `_std` is empty below two values.
  std::vector<std::string> mean_over;
};

/// \brief Columns `id`, `status`, every swept parameter by dotted path, then the metrics.
/// Rows in plan order (index, then id), so a report does not depend on which rank computed what
/// or in which order; averaged rows in the plan order of their first point.
/// \throws ReportError for a metric no point has or a `mean_over` path the sweep does not vary.
Table results_table(const store::Results& results, Precision precision, const TableOptions& options = {});

/// \brief RFC 4180 CSV (quotes where needed), one header line.
std::string to_csv(const Table& table);

/// \brief A GitHub-flavoured Markdown table.
std::string to_markdown(const Table& table);

/// \brief Counts by status, and the failures.
struct StatusSummary {
  std::size_t done = 0;
  std::size_t failed = 0;
  std::uint64_t planned = 0;                                  ///< 0 when the file does not say
  std::vector<std::pair<std::string, std::string>> failures;  ///< (id, error)
};

StatusSummary summarize(const store::Results& results);

}  // namespace xbarsweep::report
