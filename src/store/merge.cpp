// Merging results files: glob expansion, deduplication by point id, atomic output.
#include "xbarsweep/store/merge.hpp"

#include <glob.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <map>
#include <sstream>

namespace xbarsweep::store {

namespace {

// The config text without its `output:` line and `--set output=` override, which say where
// results go, not what they are.
std::string experiment_text(const std::string& config) {
  std::istringstream in(config);
  std::string line, out;
  while (std::getline(in, line)) {
    if (line.rfind("output:", 0) == 0 || line.rfind("#   --set output=", 0) == 0) continue;
    out += line + '\n';
  }
  return out;
}

// The first line where two texts differ, for the message.
std::string first_difference(const std::string& a, const std::string& b) {
  std::istringstream ia(a), ib(b);
  std::string la, lb;
  for (int n = 1;; ++n) {
    const bool more_a = static_cast<bool>(std::getline(ia, la)),
               more_b = static_cast<bool>(std::getline(ib, lb));
    if (!more_a && !more_b) return "";
    if (!more_a || !more_b || la != lb)
      return "line " + std::to_string(n) + ": '" + (more_a ? la : "") + "' against '" + (more_b ? lb : "") +
             "'";
  }
}

bool later(const PointRecord& candidate, const PointRecord& kept) {
  const bool done = candidate.status == PointStatus::Done, kept_done = kept.status == PointStatus::Done;
  if (done != kept_done) return done;
  return candidate.end_time >= kept.end_time;
}

}  // namespace

std::vector<std::string> expand_result_paths(const std::vector<std::string>& patterns) {
  std::vector<std::string> out;
  const auto add = [&out](const std::string& path) {
    if (std::find(out.begin(), out.end(), path) == out.end()) out.push_back(path);
  };
  for (const std::string& pattern : patterns) {
    if (pattern.find_first_of("*?[") == std::string::npos) {
      std::error_code ec;
      // A file whose snapshot is not published yet has only its journal.
      XBARSWEEP_THROW_IF(
          !std::filesystem::exists(pattern, ec) && !std::filesystem::exists(pattern + ".journal", ec),
          StoreError, pattern << ": no such results file");
      add(pattern);
      continue;
    }
    glob_t found{};
    const int rc = ::glob(pattern.c_str(), 0, nullptr, &found);
    std::vector<std::string> matches;
    for (std::size_t i = 0; rc == 0 && i < found.gl_pathc; ++i) matches.emplace_back(found.gl_pathv[i]);
    ::globfree(&found);
    XBARSWEEP_THROW_IF(matches.empty(), StoreError, pattern << ": matches no file");
    std::sort(matches.begin(), matches.end());
    for (const auto& m : matches) add(m);
  }
  return out;
}

Combined combine_results(const std::vector<std::string>& paths, bool force) {
  XBARSWEEP_THROW_IF(paths.empty(), StoreError, "no results files to combine");
  Combined c;
  std::map<std::string, std::size_t> position;  // id -> index in c.results.points
  std::map<std::string, std::string> source;    // id -> the input its record came from
  std::string first_text;
  for (std::size_t i = 0; i < paths.size(); ++i) {
    Results r = read_results(paths[i]);
    if (std::find(c.experiments.begin(), c.experiments.end(), r.info.experiment) == c.experiments.end())
      c.experiments.push_back(r.info.experiment);
    if (i == 0) {
      c.results.info = r.info;
      c.results.info.planned_points = 0;
      c.results.info.merged_from.clear();
      first_text = experiment_text(r.info.config_text);
    } else if (!force) {
      XBARSWEEP_THROW_IF(
          r.info.kind != c.results.info.kind, StoreError,
          paths[i] << " is a '" << r.info.kind << "' experiment, " << paths[0] << " a '"
                   << c.results.info.kind
                   << "' one; expected results of one experiment (--force combines them anyway)");
      const std::string text = experiment_text(r.info.config_text);
      XBARSWEEP_THROW_IF(text != first_text, StoreError,
                         paths[i] << " and " << paths[0]
                                  << " are different experiments (their configs differ at "
                                  << first_difference(text, first_text)
                                  << "); expected results of one experiment (--force combines them anyway)");
    }
    for (const auto& p : r.info.swept_paths)
      if (std::find(c.results.info.swept_paths.begin(), c.results.info.swept_paths.end(), p) ==
          c.results.info.swept_paths.end())
        c.results.info.swept_paths.push_back(p);
    std::ostringstream from;
    from << paths[i] << ": experiment " << r.info.experiment << ", kind " << r.info.kind << ", "
         << r.points.size() << " points, planned " << r.info.planned_points;
    for (const auto& [name, version] : r.info.versions) from << ", " << name << " " << version;
    c.results.info.merged_from.push_back(from.str());
    for (const std::string& earlier : r.info.merged_from)
      c.results.info.merged_from.push_back("  " + earlier);

    for (PointRecord& record : r.points) {
      const auto it = position.find(record.id);
      if (it == position.end()) {
        position.emplace(record.id, c.results.points.size());
        source[record.id] = paths[i];
        c.results.points.push_back(std::move(record));
        continue;
      }
      PointRecord& kept = c.results.points[it->second];
      const bool both_done = kept.status == PointStatus::Done && record.status == PointStatus::Done;
      const bool replace = later(record, kept);
      if (both_done)
        c.notes.push_back("point " + record.id + " is done in " + source[record.id] + " and " + paths[i] +
                          ": kept " + (replace ? paths[i] : source[record.id]) + "'s (it ended later)");
      if (replace) {
        kept = std::move(record);
        source[kept.id] = paths[i];
      }
    }
  }
  return c;
}

void write_results(const std::string& path, const Results& results) {
  const std::string temporary = path + ".merge." + std::to_string(::getpid());
  {
    ResultsWriter lock(path, results.info);  // refuses a file a sweep is writing
    {
      ResultsWriter writer(temporary, results.info);
      for (const PointRecord& r : results.points) writer.append(r);
      writer.publish();
    }
    std::error_code ec;
    std::filesystem::rename(temporary, path, ec);
    XBARSWEEP_THROW_IF(ec, StoreError, path << ": cannot replace it with the merged file: " << ec.message());
    std::filesystem::remove(path + ".journal", ec);  // its records are in the inputs or were never ours
  }
  std::error_code ec;
  std::filesystem::remove(temporary + ".journal", ec);
  std::filesystem::remove(temporary + ".lock", ec);
}

}  // namespace xbarsweep::store
