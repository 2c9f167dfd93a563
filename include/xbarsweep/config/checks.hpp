#pragma once
/// \file
/// \brief Semantic checks: constraints across parameters, against the model and against the file
/// system, run on every point of a plan before any point starts.
///
/// The schema checks each value alone (type, range, choices). A Check sees a point's resolved
/// parameters and says what is wrong with their combination. check_plan() runs each check once
/// per distinct combination of the values it reads, so a plan of 10^6 points whose axes a check
/// does not read costs that check one call.

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "xbarsweep/config/experiment.hpp"
#include "xbarsweep/config/value.hpp"

namespace xbarsweep::config {

/// \brief What a check found wrong: the key at fault and "<problem>; expected <what>".
struct Problem {
  std::string key;
  std::string message;
};

/// \brief One semantic check.
struct Check {
  /// The paths whose values decide the result. An entry ending in '.' stands for every path
  /// under that section ("crossbar."); "seed" for the point's seed.
  std::vector<std::string> reads;
  /// The check itself: a Problem, or nothing when the point is good. It must not throw for bad
  /// values (say what is wrong instead) and must depend only on the paths in `reads`.
  std::function<std::optional<Problem>(const Params&)> run;
};

/// \brief What keeps \p path from being read as a file ("no such file '...'", "... is not a regular
/// file", "cannot read ..."), each ending "; expected a readable file"; nothing when it can be read.
std::optional<std::string> unreadable_file(const std::string& path);

/// \brief A check that the String parameter \p key, unless empty, names a readable regular file.
Check readable_file(const std::string& key);

/// \brief A check that the String parameter \p key, unless empty, names a file that can be written:
/// its directory exists and is writable, and the path is not a directory.
Check writable_file(const std::string& key);

/// \brief Whether \p path is one of \p reads (or under a section entry of it).
bool reads_path(const std::vector<std::string>& reads, const std::string& path);

/// \brief Runs every check on every distinct combination of the values it reads over the points
/// of \p experiment.
/// \throws ConfigError at the first problem, at the file:line:column where the value at fault
/// was written (its place in a sweep axis, or the file entry or --set that gave it; for a key left
/// at its default, where a value the check read was written), naming the key, what was expected,
/// and the point's other swept values that the check read.
void check_plan(const Experiment& experiment, const std::vector<Check>& checks);

}  // namespace xbarsweep::config
