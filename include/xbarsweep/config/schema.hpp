#pragma once
/// \file
/// \brief The parameters a kind accepts: types, defaults, ranges, documentation.

#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "xbarsweep/config/value.hpp"

namespace xbarsweep::config {

/// \brief One accepted parameter, addressed by its dotted path ("section.key").
struct ParamSpec {
  ParamSpec() = default;
  ParamSpec(std::string path_, ValueType type_, Value default_value_, std::optional<double> min_ = {},
            std::optional<double> max_ = {}, std::vector<std::string> choices_ = {}, std::string doc_ = {},
            std::function<std::string(const std::string&)> check_text_ = {})
      : path(std::move(path_)),
        type(type_),
        default_value(std::move(default_value_)),
        min(min_),
        max(max_),
        choices(std::move(choices_)),
        doc(std::move(doc_)),
        check_text(std::move(check_text_)) {}

  std::string path;
  ValueType type = ValueType::Real;
  Value default_value;
  std::optional<double> min;         ///< inclusive lower bound for Int/Real
  std::optional<double> max;         ///< inclusive upper bound for Int/Real
  bool min_exclusive = false;        ///< min itself is out of range ("> min")
  bool max_exclusive = false;        ///< max itself is out of range ("< max")
  std::vector<std::string> choices;  ///< allowed values for String, empty = any
  std::string unit;                  ///< "uS", "mW", ...; empty for counts, fractions and choices
  std::string doc;                   ///< one line, with the source of the default where it has one
  /// Added after points were recorded; at the value those points computed with (the default,
  /// unless id_neutral_value says otherwise) the parameter is left out of the point id, so ids
  /// (and resumed results files) stay as they were before it existed.
  bool id_neutral_default = false;
  /// The value points recorded before the parameter existed computed with, when the default has
  /// changed since: a point at it keeps its old id, a point at the new default gets a new one.
  std::optional<Value> id_neutral_value;
  /// \brief For String: checks the text's own syntax; returns "" when it is good, else what is
  /// wrong and what was expected (the loader adds the file, line and key).
  std::function<std::string(const std::string&)> check_text;
};

/// \brief The set of parameters of an experiment kind (its own section plus shared sections).
class Schema {
 public:
  Schema& add(ParamSpec spec);
  /// \brief Adds every parameter of \p other (shared sections such as `data` or `crossbar`).
  Schema& merge(const Schema& other);
  const ParamSpec* find(std::string_view path) const;
  const std::vector<ParamSpec>& specs() const& { return specs_; }
  /// \brief On a temporary (`kind.schema().specs()`), a copy: a reference would dangle.
  std::vector<ParamSpec> specs() && { return std::move(specs_); }

 private:
  std::vector<ParamSpec> specs_;
};

}  // namespace xbarsweep::config
