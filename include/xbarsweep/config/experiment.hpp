#pragma once
/// \file
/// \brief An experiment: one YAML file, validated into immutable typed structs.

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "xbarsweep/config/schema.hpp"
#include "xbarsweep/config/value.hpp"
#include "xbarsweep/error.hpp"

namespace xbarsweep::config {

/// \brief One choice of values along an axis: the paths it sets and their values.
using Setting = std::vector<std::pair<std::string, Value>>;

/// \brief A random distribution for one path of a random axis.
struct Distribution {
  enum class Kind { Uniform, LogUniform, IntUniform, Choice } kind = Kind::Uniform;
  double low = 0, high = 1;    ///< Uniform, LogUniform, IntUniform (inclusive)
  std::vector<Value> choices;  ///< Choice
};

/// \brief One dimension of the sweep. Points are the cartesian product of all axes (last axis
/// varies fastest), times the seed repeats.
struct Axis {
  enum class Kind { Grid, Zip, Points, Random } kind = Kind::Grid;
  std::vector<std::string> paths;  ///< every path this axis can set
  std::vector<Setting> settings;   ///< Grid, Zip, Points: one entry per position
  // Random: `samples` positions, drawn by a counter-based generator from `seed`.
  std::uint64_t samples = 0;
  std::uint64_t seed = 0;
  std::vector<std::pair<std::string, Distribution>> distributions;
  SourceLocation where;  ///< the axis entry (grid key, zip group, points list, random mapping)
  /// Where each value was written: value_where[i][j] for settings[i][j] (Grid, Zip, Points), or
  /// value_where[0][j] for distributions[j] (Random).
  std::vector<std::vector<SourceLocation>> value_where;

  std::uint64_t size() const { return kind == Kind::Random ? samples : settings.size(); }
  /// \brief The setting at position \p i (computed on demand for Random).
  Setting at(std::uint64_t i) const;
  /// \brief Where the value of \p path at position \p i was written (its distribution for
  /// Random); the axis entry when not recorded.
  SourceLocation where_of(const std::string& path, std::uint64_t i) const;
};

/// \brief A validated experiment. Immutable once loaded.
struct Experiment {
  std::string path;                    ///< the YAML file
  std::string source_text;             ///< its text, as read
  std::vector<std::string> overrides;  ///< --set path=value, as given
  std::string name;
  std::string kind;
  std::string description;
  std::string output;  ///< results file (relative to the working directory)
  /// Points that checkpoint (train, admm, clstm, pretraining) save their state at most this
  /// often, in seconds (mid-epoch too); 0 = at the end of every epoch (and ADMM iteration);
  /// a large value (1e9) = only when a stop signal asks.
  double checkpoint_s = 60.0;
  std::int64_t seed = 0;                 ///< base seed; repeat r uses seed + r
  std::uint64_t repeats = 1;             ///< sweep.repeats
  std::uint64_t max_points = 100000000;  ///< sweep.max_points: guard against accidental grids
  Params base;                           ///< every parameter of the kind, defaults filled in, plus "seed"
  /// Where each base value not left at its default was written (the file, or the --set).
  std::map<std::string, SourceLocation> where;
  std::vector<Axis> axes;
  /// One line each for what the loader changed on the user's behalf (a --set that replaced a
  /// sweep axis); `plan` and `run` print them.
  std::vector<std::string> notes;

  /// \brief Where the base value of \p path comes from: the file or the --set that gave it, or
  /// the file alone (with no line) for a default.
  SourceLocation where_of(const std::string& path) const;
};

/// \brief Loads, validates and resolves an experiment.
/// \param path YAML file
/// \param overrides "dotted.path=value" strings (from --set), applied after the file
/// \param schemas the schema of every registered kind, by kind name
/// \throws ConfigError for any problem in the file or the overrides; nothing is written.
Experiment load_experiment(const std::string& path, const std::vector<std::string>& overrides,
                           const std::map<std::string, Schema>& schemas);

/// \brief Same, from text in memory (\p path names it in messages).
Experiment parse_experiment(const std::string& text, const std::string& path,
                            const std::vector<std::string>& overrides,
                            const std::map<std::string, Schema>& schemas);

/// \brief The closest candidate by edit distance, or "" when none is close.
std::string did_you_mean(const std::string& word, const std::vector<std::string>& candidates);

}  // namespace xbarsweep::config
