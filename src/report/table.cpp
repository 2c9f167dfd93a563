// Tables of results: which points (where, Pareto front), in which order, averaged or not.
#include "xbarsweep/report/table.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <map>
#include <numeric>
#include <optional>
#include <set>
#include <utility>

namespace xbarsweep::report {

std::string shortest(double v) {
  if (std::isnan(v)) return "nan";
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  char buf[32];
  const auto end = std::to_chars(buf, buf + sizeof buf, v).ptr;
  return std::string(buf, end);
}

std::pair<std::string, std::string> parse_where(const std::string& text, const std::string& option) {
  const auto eq = text.find('=');
  XBARSWEEP_THROW_IF(eq == std::string::npos || eq == 0, ReportError,
                     option << " '" << text << "'; expected path=value (e.g. admm.levels=16)");
  return {text.substr(0, eq), text.substr(eq + 1)};
}

void parse_sort(const std::string& text, TableOptions& options) {
  const auto colon = text.rfind(':');
  const std::string suffix = colon == std::string::npos ? "" : text.substr(colon + 1);
  XBARSWEEP_THROW_IF(colon != std::string::npos && suffix != "desc" && suffix != "asc", ReportError,
                     "--sort '" << text << "'; expected metric, metric:asc or metric:desc");
  options.sort = colon == std::string::npos ? text : text.substr(0, colon);
  options.descending = suffix == "desc";
}

namespace {

std::string param_text(const config::Value& v) {
  if (const auto* s = std::get_if<std::string>(&v)) return *s;
  if (const auto* d = std::get_if<double>(&v)) return shortest(*d);
  return config::display(v);
}

std::optional<double> as_number(const std::string& text) {
  double v = 0.0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || end != text.data() + text.size() || text.empty()) return std::nullopt;
  return v;
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

std::string param_cell(const store::PointRecord& p, const std::string& path) {
  const auto* v = p.params.find(path);
  return v ? param_text(*v) : "";
}

// The parameter columns: the swept parameters, then every other parameter whose value differs
// among the points shown (several runs read as one, each with its own --set), in path order.
std::vector<std::string> parameter_columns(const store::Results& results,
                                           const std::vector<std::size_t>& selected) {
  std::vector<std::string> columns = results.info.swept_paths;
  std::map<std::string, std::pair<std::string, std::size_t>> seen;  // path -> first text, points holding it
  std::set<std::string> varying;
  for (const std::size_t k : selected) {
    for (const auto& [path, value] : results.points[k].params.entries()) {
      const std::string text = param_text(value);
      auto [it, added] = seen.emplace(path, std::make_pair(text, std::size_t(0)));
      ++it->second.second;
      if (!added && it->second.first != text) varying.insert(path);
    }
  }
  for (const auto& [path, first] : seen)
    if (first.second != selected.size()) varying.insert(path);
  for (const auto& path : varying)
    if (std::find(columns.begin(), columns.end(), path) == columns.end()) columns.push_back(path);
  return columns;
}

// Does point \p p hold value \p want at \p path (a parameter, or `status`)?
bool matches(const store::PointRecord& p, const std::string& path, const std::string& want) {
  const std::string have = path == "status" ? std::string(store::status_name(p.status)) : param_cell(p, path);
  if (have == want) return true;
  const auto a = as_number(have), b = as_number(want);
  return a && b && *a == *b;
}

// The value that orders a point: a metric, else a numeric parameter.
std::optional<double> sort_value(const store::PointRecord& p, const std::string& key) {
  if (const auto it = p.metrics.find(key); it != p.metrics.end()) return it->second;
  if (const auto* v = p.params.find(key)) {
    if (const auto* d = std::get_if<double>(v)) return *d;
    if (const auto* i = std::get_if<std::int64_t>(v)) return static_cast<double>(*i);
  }
  return std::nullopt;
}

// Stable order by \p value (missing last), ascending or not.
template <class Value>
void order_by(std::vector<std::size_t>& rows, Value&& value, bool descending) {
  std::stable_sort(rows.begin(), rows.end(), [&](std::size_t a, std::size_t b) {
    const std::optional<double> va = value(a), vb = value(b);
    if (!va || !vb) return va.has_value() && !vb.has_value();
    return descending ? *va > *vb : *va < *vb;
  });
}

// Mean, sample standard deviation and 95% confidence half-width of \p values (none where
// undefined).
struct Summary {
  std::optional<double> mean, std, ci95;
};
Summary summary_of(const std::vector<double>& values) {
  Summary s;
  if (values.empty()) return s;
  const double n = static_cast<double>(values.size());
  s.mean = std::accumulate(values.begin(), values.end(), 0.0) / n;
  if (values.size() < 2) return s;
  double squares = 0.0;
  for (const double v : values) squares += (v - *s.mean) * (v - *s.mean);
  s.std = std::sqrt(squares / (n - 1.0));
  s.ci95 = student_t_975(static_cast<std::int64_t>(values.size()) - 1) * *s.std / std::sqrt(n);
  return s;
}

std::string cell(const std::optional<double>& v) { return v ? shortest(*v) : std::string(); }

// One row per point.
Table point_table(const store::Results& results, const std::vector<std::size_t>& selected,
                  const std::vector<std::string>& metrics) {
  const auto swept = parameter_columns(results, selected);
  Table table;
  table.columns = {"id", "status"};
  table.columns.insert(table.columns.end(), swept.begin(), swept.end());
  table.columns.insert(table.columns.end(), metrics.begin(), metrics.end());
  for (const std::size_t k : selected) {
    const auto& p = results.points[k];
    std::vector<std::string> row = {p.id, std::string(store::status_name(p.status))};
    for (const auto& path : swept) row.push_back(param_cell(p, path));
    for (const auto& name : metrics) {
      auto it = p.metrics.find(name);
      row.push_back(it == p.metrics.end() ? "" : shortest(it->second));
    }
    table.rows.push_back(std::move(row));
  }
  return table;
}

// One row per group of points that differ only in the \p mean_over parameters.
Table averaged_table(const store::Results& results, const std::vector<std::size_t>& selected,
                     const std::vector<std::string>& metrics, const TableOptions& options) {
  const auto& mean_over = options.mean_over;
  std::vector<std::string> kept;  // the parameters that tell groups apart
  for (const auto& path : parameter_columns(results, selected)) {
    if (std::find(mean_over.begin(), mean_over.end(), path) == mean_over.end()) kept.push_back(path);
  }
  struct Group {
    std::vector<std::string> params;
    std::size_t done = 0, failed = 0;
    std::vector<std::vector<double>> values;  // per metric, of the done points
  };
  std::vector<Group> groups;
  std::map<std::vector<std::string>, std::size_t> group_of;  // exact parameter texts -> group
  for (const std::size_t k : selected) {
    const auto& p = results.points[k];
    std::vector<std::string> key;
    for (const auto& path : kept) key.push_back(param_cell(p, path));
    const auto [it, added] = group_of.emplace(key, groups.size());
    if (added) {
      Group g;
      for (const auto& path : kept) g.params.push_back(param_cell(p, path));
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

  std::vector<std::vector<Summary>> summaries;
  for (const auto& g : groups) {
    summaries.emplace_back();
    for (const auto& values : g.values) summaries.back().push_back(summary_of(values));
  }
  std::vector<std::size_t> order(groups.size());
  std::iota(order.begin(), order.end(), 0);
  if (!options.sort.empty()) {
    const auto m = std::find(metrics.begin(), metrics.end(), options.sort);
    const auto k = std::find(kept.begin(), kept.end(), options.sort);
    XBARSWEEP_THROW_IF(
        m == metrics.end() && k == kept.end(), ReportError,
        "--sort " << options.sort << ": neither a reported metric nor a parameter of the rows");
    order_by(
        order,
        [&](std::size_t g) -> std::optional<double> {
          if (m != metrics.end()) return summaries[g][static_cast<std::size_t>(m - metrics.begin())].mean;
          return as_number(groups[g].params[static_cast<std::size_t>(k - kept.begin())]);
        },
        options.descending);
  }

  Table table;
  table.columns = kept;
  table.columns.insert(table.columns.end(), {"done", "failed"});
  for (const auto& name : metrics)
    table.columns.insert(table.columns.end(), {name + "_mean", name + "_std", name + "_ci95"});
  for (const std::size_t gi : order) {
    const Group& g = groups[gi];
    std::vector<std::string> row = g.params;
    row.push_back(std::to_string(g.done));
    row.push_back(std::to_string(g.failed));
    for (const Summary& s : summaries[gi]) {
      row.push_back(cell(s.mean));
      row.push_back(cell(s.std));
      row.push_back(cell(s.ci95));
    }
    table.rows.push_back(std::move(row));
  }
  return table;
}

// \p results with `<m>_diff` metrics against the reference points of options.relative_to
// (TableOptions::relative_to).
store::Results with_differences(const store::Results& results, const std::string& path,
                                const std::string& value) {
  // Each point's parameters without \p path, as text: the key its reference shares.
  const auto key_of = [&](const store::PointRecord& p) {
    std::vector<std::pair<std::string, std::string>> key;
    for (const auto& [name, v] : p.params.entries())
      if (name != path) key.emplace_back(name, param_text(v));
    std::sort(key.begin(), key.end());
    return key;
  };
  std::map<std::vector<std::pair<std::string, std::string>>, std::size_t> reference_of;
  bool any = false;
  for (std::size_t k = 0; k < results.points.size(); ++k) {
    const auto& p = results.points[k];
    if (!matches(p, path, value)) continue;
    any = true;
    if (p.status == store::PointStatus::Done) reference_of.emplace(key_of(p), k);
  }
  XBARSWEEP_THROW_IF(!any, ReportError,
                     "--relative-to " << path << "=" << value << ": no point has that value (the reference)");
  store::Results out;  // what a table reads: the points without their curves
  out.info = results.info;
  for (const auto& p : results.points) {
    store::PointRecord q;
    q.id = p.id;
    q.index = p.index;
    q.status = p.status;
    q.error = p.error;
    q.params = p.params;
    q.metrics = p.metrics;
    if (const auto ref = reference_of.find(key_of(p)); ref != reference_of.end()) {
      const auto& reference = results.points[ref->second].metrics;
      for (const auto& [name, v] : p.metrics)
        if (const auto it = reference.find(name); it != reference.end())
          q.metrics[name + "_diff"] = v - it->second;
    }
    out.points.push_back(std::move(q));
  }
  return out;
}

}  // namespace

Table results_table(const store::Results& given, const TableOptions& options) {
  std::optional<store::Results> differenced;
  if (!options.relative_to.first.empty()) {
    bool known = false;
    for (const auto& p : given.points) known = known || p.params.find(options.relative_to.first) != nullptr;
    XBARSWEEP_THROW_IF(
        !known, ReportError,
        "--relative-to " << options.relative_to.first << ": no parameter of that name in these results");
    differenced = with_differences(given, options.relative_to.first, options.relative_to.second);
  }
  const store::Results& results = differenced ? *differenced : given;
  std::set<std::string> names, params;
  for (const auto& p : results.points) {
    for (const auto& [name, value] : p.metrics) names.insert(name);
    for (const auto& [path, value] : p.params.entries()) params.insert(path);
  }
  params.insert("status");
  const std::vector<std::string> all_metrics(names.begin(), names.end());
  require_known(options.metrics, all_metrics, "metric");
  require_known(options.mean_over, results.info.swept_paths, "swept parameter");
  for (const auto& [path, value] : options.where)
    require_known({path}, std::vector<std::string>(params.begin(), params.end()), "parameter");
  std::vector<std::string> objective_metrics;
  for (const auto& o : options.pareto) objective_metrics.push_back(o.metric);
  require_known(objective_metrics, all_metrics, "metric");
  const auto& metrics = options.metrics.empty() ? all_metrics : options.metrics;

  std::vector<std::size_t> selected;
  for (const std::size_t k : plan_order(results)) {
    bool keep = true;
    for (const auto& [path, value] : options.where) keep = keep && matches(results.points[k], path, value);
    if (keep) selected.push_back(k);
  }
  if (!options.pareto.empty()) {  // among the done points that have every objective
    std::vector<std::size_t> candidates;
    std::vector<std::vector<double>> values;
    for (const std::size_t k : selected) {
      const auto& p = results.points[k];
      if (p.status != store::PointStatus::Done) continue;
      std::vector<double> v;
      for (const auto& o : options.pareto) {
        const auto it = p.metrics.find(o.metric);
        v.push_back(it == p.metrics.end() ? std::nan("") : it->second);
      }
      candidates.push_back(k);
      values.push_back(std::move(v));
    }
    selected.clear();
    for (const std::size_t i : pareto_front(values, options.pareto)) selected.push_back(candidates[i]);
  }
  if (!options.mean_over.empty()) return averaged_table(results, selected, metrics, options);
  if (!options.sort.empty()) {
    XBARSWEEP_THROW_IF(!names.count(options.sort) && !params.count(options.sort), ReportError,
                       "--sort " << options.sort << ": no metric or parameter of that name in these results");
    order_by(
        selected, [&](std::size_t k) { return sort_value(results.points[k], options.sort); },
        options.descending);
  }
  return point_table(results, selected, metrics);
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
