#pragma once
/// \file
/// \brief Results as a table: one row per point, for terminals, spreadsheets and papers.

#include <string>
#include <vector>

#include "xbarsweep/store/results_store.hpp"

namespace xbarsweep::report {

/// \brief A rectangular table of text cells.
struct Table {
  std::vector<std::string> columns;
  std::vector<std::vector<std::string>> rows;
};

/// \brief How numbers are written: exactly (round-trip, for CSV) or briefly (for reading).
enum class Precision { Exact, Brief };

/// \brief Columns `id`, `status`, every swept parameter by dotted path, then every scalar metric
/// (sorted by name). Rows in plan order (index, then id), so a report does not depend on which
/// rank computed what or in which order.
Table results_table(const store::Results& results, Precision precision);

/// \brief RFC 4180 CSV (quotes where needed), one header line.
std::string to_csv(const Table& table);

/// \brief A GitHub-flavoured Markdown table.
std::string to_markdown(const Table& table);

/// \brief Counts by status, and the failures.
struct StatusSummary {
  std::size_t done = 0;
  std::size_t failed = 0;
  std::uint64_t planned = 0;  ///< 0 when the file does not say
  std::vector<std::pair<std::string, std::string>> failures;  ///< (id, error)
};

StatusSummary summarize(const store::Results& results);

}  // namespace xbarsweep::report
