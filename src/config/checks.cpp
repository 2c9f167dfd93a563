#include "xbarsweep/config/checks.hpp"

#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <unordered_set>

#include "xbarsweep/config/hashing.hpp"
#include "xbarsweep/error.hpp"

namespace xbarsweep::config {

bool reads_path(const std::vector<std::string>& reads, const std::string& path) {
  for (const std::string& r : reads) {
    if (r == path) return true;
    if (!r.empty() && r.back() == '.' && path.compare(0, r.size(), r) == 0) return true;
  }
  return false;
}

std::optional<std::string> unreadable_file(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) return "no such file '" + path + "'; expected a readable file";
  if (!std::filesystem::is_regular_file(path, ec))
    return "'" + path + "' is not a regular file; expected a readable file";
  if (::access(path.c_str(), R_OK) != 0) return "cannot read '" + path + "'; expected a readable file";
  return std::nullopt;
}

Check readable_file(const std::string& key) {
  return {{key}, [key](const Params& p) -> std::optional<Problem> {
            const std::string& path = p.text(key);
            if (path.empty()) return std::nullopt;
            if (auto problem = unreadable_file(path)) return Problem{key, *problem};
            return std::nullopt;
          }};
}

Check writable_file(const std::string& key) {
  return {{key}, [key](const Params& p) -> std::optional<Problem> {
            const std::string& path = p.text(key);
            if (path.empty()) return std::nullopt;
            std::error_code ec;
            if (std::filesystem::is_directory(path, ec))
              return Problem{key, "'" + path + "' is a directory; expected a file path"};
            std::filesystem::path dir = std::filesystem::path(path).parent_path();
            if (dir.empty()) dir = ".";
            if (!std::filesystem::is_directory(dir, ec))
              return Problem{key, "the directory '" + dir.string() + "' of '" + path +
                                      "' does not exist; expected a path in an existing directory"};
            if (::access(dir.c_str(), W_OK) != 0)
              return Problem{key, "cannot write in '" + dir.string() + "'; expected a writable directory"};
            return std::nullopt;
          }};
}

namespace {

// Walks the distinct combinations of the values one check reads: the product of the positions of
// the axes that set a path it reads (and of the repeats when it reads the seed), last axis
// fastest. Every other path keeps its base value, so no point is built in full.
class CombinationWalk {
 public:
  CombinationWalk(const Experiment& experiment, const Check& check)
      : experiment_(experiment), check_(check), params_(experiment.base) {
    for (std::size_t a = 0; a < experiment.axes.size(); ++a) {
      const Axis& axis = experiment.axes[a];
      if (std::any_of(axis.paths.begin(), axis.paths.end(),
                      [&](const std::string& p) { return reads_path(check.reads, p); }))
        axes_.push_back(a);
      seed_swept_ = seed_swept_ || std::count(axis.paths.begin(), axis.paths.end(), "seed") > 0;
    }
    repeats_ = !seed_swept_ && reads_path(check.reads, "seed") ? experiment.repeats : 1;
    position_.assign(axes_.size(), 0);
  }

  // Runs the check on every combination; throws at the first problem.
  void run() {
    std::unordered_set<std::uint64_t> seen;
    while (true) {
      const std::uint64_t key = apply();
      if (seen.insert(key).second) {
        if (std::optional<Problem> problem = check_.run(params_)) fail(*problem);
      }
      if (!advance()) return;
    }
  }

 private:
  // Sets the current combination's values into params_; returns a hash of the values read.
  std::uint64_t apply() {
    std::string text;
    for (std::size_t k = 0; k < axes_.size(); ++k) {
      const Axis& axis = experiment_.axes[axes_[k]];
      // A points axis may set a path at one position and not at another: back to base first.
      if (axis.kind == Axis::Kind::Points)
        for (const std::string& path : axis.paths) restore(path);
      for (auto& [path, value] : axis.at(position_[k])) {
        if (reads_path(check_.reads, path)) text += path + "=" + canonical(value) + "\n";
        params_.set(path, std::move(value));
      }
    }
    if (repeats_ > 1) {
      params_.set("seed", experiment_.seed + static_cast<std::int64_t>(repeat_));
      text += "seed=" + std::to_string(repeat_);
    }
    return fnv1a64(text);
  }

  void restore(const std::string& path) {
    if (const Value* base = experiment_.base.find(path)) params_.set(path, *base);
  }

  bool advance() {
    for (std::size_t k = axes_.size(); k-- > 0;) {
      if (++position_[k] < experiment_.axes[axes_[k]].size()) return true;
      position_[k] = 0;
    }
    return ++repeat_ < repeats_;
  }

  [[noreturn]] void fail(const Problem& problem) const {
    SourceLocation where;
    std::optional<SourceLocation> read_where;  // where a value the check read was written
    bool found = false;
    std::string others;
    for (std::size_t k = 0; k < axes_.size(); ++k) {
      const Axis& axis = experiment_.axes[axes_[k]];
      for (const auto& [path, value] : axis.at(position_[k])) {
        if (path == problem.key) {
          where = axis.where_of(path, position_[k]);
          found = true;
        } else if (reads_path(check_.reads, path)) {
          others += (others.empty() ? "" : ", ") + path + "=" + display(value);
          if (!read_where) read_where = axis.where_of(path, position_[k]);
        }
      }
    }
    if (repeats_ > 1)
      others += (others.empty() ? "" : ", ") + std::string("seed=") +
                std::to_string(experiment_.seed + static_cast<std::int64_t>(repeat_));
    std::string message = problem.message;
    if (!found && experiment_.where.count(problem.key) != 0) {
      where = experiment_.where_of(problem.key);
    } else if (!found) {
      // The key is at its default: point at a value the user wrote that made it wrong.
      message += " (the default value)";
      for (const auto& [path, at] : experiment_.where)
        if (!read_where && reads_path(check_.reads, path)) read_where = at;
      where = read_where ? *read_where : SourceLocation{experiment_.path};
    }
    if (!others.empty()) message += " (at the point with " + others + ")";
    throw ConfigError(where, problem.key, message);
  }

  const Experiment& experiment_;
  const Check& check_;
  Params params_;
  std::vector<std::size_t> axes_;  // indices of the axes the check reads
  std::vector<std::uint64_t> position_;
  bool seed_swept_ = false;
  std::uint64_t repeats_ = 1;
  std::uint64_t repeat_ = 0;
};

}  // namespace

void check_plan(const Experiment& experiment, const std::vector<Check>& checks) {
  for (const Check& check : checks) CombinationWalk(experiment, check).run();
}

}  // namespace xbarsweep::config
