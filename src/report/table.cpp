#include "xbarsweep/report/table.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <numeric>
#include <set>
#include <utility>

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

// Each of \p wanted that is not in \p have, as a ReportError listing what there is.
void require_known(const std::vector<std::string>& wanted, const std::vector<std::string>& have,
                   const std::string& what) {
  for (const auto& w : wanted) {
    if (std::find(have.begin(), have.end(), w) != have.end()) continue;
    std::string list;
    for (const auto& h : have) list += (list.empty() ? "" : ", ") + h;
    throw ReportError("no " + what + " `" + w + "` in these results (" + what +
                      "s: " + (list.empty() ? "none" : list) + ")");
  }
}

// Point positions in plan order (index, then id).
std::vector<std::size_t> plan_order(const store::Results& results) {
  std::vector<std::size_t> order(results.points.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
    const auto& pa = results.points[a];
    const auto& pb = results.points[b];
    return pa.index != pb.index ? pa.index < pb.index : pa.id < pb.id;
  });
  return order;
}

std::string param_cell(const store::PointRecord& p, const std::string& path, Precision precision) {
  const auto* v = p.params.find(path);
  return v ? param_text(*v, precision) : "";
}

// Mean and sample standard deviation cells of \p values ("" where undefined).
std::pair<std::string, std::string> mean_and_std(const std::vector<double>& values, Precision precision) {
  if (values.empty()) return {"", ""};
  const double n = static_cast<double>(values.size());
  const double mean = std::accumulate(values.begin(), values.end(), 0.0) / n;
  if (values.size() < 2) return {number(mean, precision), ""};
  double squares = 0.0;
  for (const double v : values) squares += (v - mean) * (v - mean);
  return {number(mean, precision), number(std::sqrt(squares / (n - 1.0)), precision)};
}

// One row per point.
Table point_table(const store::Results& results, Precision precision,
                  const std::vector<std::string>& metrics) {
  const auto& swept = results.info.swept_paths;
  Table table;
  table.columns = {"id", "status"};
  table.columns.insert(table.columns.end(), swept.begin(), swept.end());
  table.columns.insert(table.columns.end(), metrics.begin(), metrics.end());
  for (const std::size_t k : plan_order(results)) {
    const auto& p = results.points[k];
    std::vector<std::string> row = {p.id, std::string(store::status_name(p.status))};
    for (const auto& path : swept) row.push_back(param_cell(p, path, precision));
    for (const auto& name : metrics) {
      auto it = p.metrics.find(name);
      row.push_back(it == p.metrics.end() ? "" : number(it->second, precision));
    }
    table.rows.push_back(std::move(row));
  }
  return table;
}

// One row per group of points that differ only in the \p mean_over parameters.
Table averaged_table(const store::Results& results, Precision precision,
                     const std::vector<std::string>& metrics, const std::vector<std::string>& mean_over) {
  std::vector<std::string> kept;  // the swept parameters that tell groups apart
  for (const auto& path : results.info.swept_paths) {
    if (std::find(mean_over.begin(), mean_over.end(), path) == mean_over.end()) kept.push_back(path);
  }
  struct Group {
    std::vector<std::string> params;
    std::size_t done = 0, failed = 0;
    std::vector<std::vector<double>> values;  // per metric, of the done points
  };
  std::vector<Group> groups;
  std::map<std::vector<std::string>, std::size_t> group_of;  // exact parameter texts -> group
  for (const std::size_t k : plan_order(results)) {
    const auto& p = results.points[k];
    std::vector<std::string> key;
    for (const auto& path : kept) key.push_back(param_cell(p, path, Precision::Exact));
    const auto [it, added] = group_of.emplace(key, groups.size());
    if (added) {
      Group g;
      for (const auto& path : kept) g.params.push_back(param_cell(p, path, precision));
      g.values.resize(metrics.size());
      groups.push_back(std::move(g));
    }
    Group& g = groups[it->second];
    if (p.status != store::PointStatus::Done) {
      ++g.failed;
      continue;
    }
    ++g.done;
    for (std::size_t m = 0; m < metrics.size(); ++m) {
      const auto value = p.metrics.find(metrics[m]);
      if (value != p.metrics.end()) g.values[m].push_back(value->second);
    }
  }

  Table table;
  table.columns = kept;
  table.columns.insert(table.columns.end(), {"done", "failed"});
  for (const auto& name : metrics) table.columns.insert(table.columns.end(), {name + "_mean", name + "_std"});
  for (const auto& g : groups) {
    std::vector<std::string> row = g.params;
    row.push_back(std::to_string(g.done));
    row.push_back(std::to_string(g.failed));
    for (const auto& values : g.values) {
      const auto [mean, std] = mean_and_std(values, precision);
      row.push_back(mean);
      row.push_back(std);
    }
    table.rows.push_back(std::move(row));
  }
  return table;
}

}  // namespace

Table results_table(const store::Results& results, Precision precision, const TableOptions& options) {
  std::set<std::string> names;
  for (const auto& p : results.points) {
    for (const auto& [name, value] : p.metrics) names.insert(name);
  }
  const std::vector<std::string> all_metrics(names.begin(), names.end());
  require_known(options.metrics, all_metrics, "metric");
  require_known(options.mean_over, results.info.swept_paths, "swept parameter");
  const auto& metrics = options.metrics.empty() ? all_metrics : options.metrics;
  return options.mean_over.empty() ? point_table(results, precision, metrics)
                                   : averaged_table(results, precision, metrics, options.mean_over);
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
  for (std::size_t i = 0; i < table.columns.size(); ++i)
    width[i] = std::max(width[i], cell(table.columns[i]).size());
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
