#include "xbarsweep/report/table.hpp"

#include <algorithm>
#include <cstdio>
#include <numeric>
#include <set>

namespace xbarsweep::report {
namespace {

std::string number(double v, Precision precision) {
  char buf[40];
  std::snprintf(buf, sizeof buf, precision == Precision::Exact ? "%.17g" : "%.6g", v);
  return buf;
}

std::string param_text(const config::Value& v, Precision precision) {
  if (const auto* s = std::get_if<std::string>(&v)) return *s;
  if (const auto* d = std::get_if<double>(&v)) return number(*d, precision);
  return config::display(v);
}

}  // namespace

Table results_table(const store::Results& results, Precision precision) {
  Table table;
  table.columns = {"id", "status"};
  for (const auto& path : results.info.swept_paths) table.columns.push_back(path);
  std::set<std::string> metric_names;
  for (const auto& p : results.points) {
    for (const auto& [name, value] : p.metrics) metric_names.insert(name);
  }
  table.columns.insert(table.columns.end(), metric_names.begin(), metric_names.end());

  std::vector<std::size_t> order(results.points.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
    const auto& pa = results.points[a];
    const auto& pb = results.points[b];
    return pa.index != pb.index ? pa.index < pb.index : pa.id < pb.id;
  });
  for (std::size_t k : order) {
    const auto& p = results.points[k];
    std::vector<std::string> row = {p.id, std::string(store::status_name(p.status))};
    for (const auto& path : results.info.swept_paths) {
      const auto* v = p.params.find(path);
      row.push_back(v ? param_text(*v, precision) : "");
    }
    for (const auto& name : metric_names) {
      auto it = p.metrics.find(name);
      row.push_back(it == p.metrics.end() ? "" : number(it->second, precision));
    }
    table.rows.push_back(std::move(row));
  }
  return table;
}

std::string to_csv(const Table& table) {
  auto cell = [](const std::string& s) {
    if (s.find_first_of(",\"\n\r") == std::string::npos) return s;
    std::string q = "\"";
    for (char c : s) q += c == '"' ? std::string("\"\"") : std::string(1, c);
    return q + "\"";
  };
  std::string out;
  auto line = [&](const std::vector<std::string>& cells) {
    for (std::size_t i = 0; i < cells.size(); ++i) out += (i ? "," : "") + cell(cells[i]);
    out += "\n";
  };
  line(table.columns);
  for (const auto& row : table.rows) line(row);
  return out;
}

std::string to_markdown(const Table& table) {
  auto cell = [](std::string s) {
    std::string out;
    for (char c : s) out += c == '|' ? std::string("\\|") : c == '\n' ? std::string(" ") : std::string(1, c);
    return out;
  };
  std::vector<std::size_t> width(table.columns.size(), 3);
  for (std::size_t i = 0; i < table.columns.size(); ++i) width[i] = std::max(width[i], cell(table.columns[i]).size());
  for (const auto& row : table.rows) {
    for (std::size_t i = 0; i < row.size(); ++i) width[i] = std::max(width[i], cell(row[i]).size());
  }
  std::string out;
  auto line = [&](const std::vector<std::string>& cells) {
    out += "|";
    for (std::size_t i = 0; i < cells.size(); ++i) {
      const std::string c = cell(cells[i]);
      out += " " + c + std::string(width[i] - c.size(), ' ') + " |";
    }
    out += "\n";
  };
  line(table.columns);
  out += "|";
  for (auto w : width) out += std::string(w + 2, '-') + "|";
  out += "\n";
  for (const auto& row : table.rows) line(row);
  return out;
}

StatusSummary summarize(const store::Results& results) {
  StatusSummary s;
  s.planned = results.info.planned_points;
  for (const auto& p : results.points) {
    if (p.status == store::PointStatus::Done) {
      ++s.done;
    } else {
      ++s.failed;
      s.failures.emplace_back(p.id, p.error);
    }
  }
  return s;
}

}  // namespace xbarsweep::report
