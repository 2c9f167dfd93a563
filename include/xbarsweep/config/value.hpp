#pragma once
/// \file
/// \brief A parameter value: the scalar types a YAML experiment may hold.

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <variant>

namespace xbarsweep::config {

/// \brief The types a parameter can have.
enum class ValueType { Bool, Int, Real, String };

/// \brief One scalar parameter value.
using Value = std::variant<bool, std::int64_t, double, std::string>;

/// \brief The type held by \p v.
ValueType type_of(const Value& v);

/// \brief "bool", "int", "real" or "string".
std::string_view type_name(ValueType t);

/// \brief \p s as a JSON string literal (quotes, backslash escapes, \\u00XX for control bytes).
/// Part of canonical(): never change it.
std::string quoted(const std::string& s);

/// \brief Canonical text of a value: round-trips, identical on every machine (reals as %.17g).
std::string canonical(const Value& v);

/// \brief Short human text of a value (reals as %g).
std::string display(const Value& v);

/// \brief Resolved parameters of one point, keyed by dotted path ("train.lr", "seed").
class Params {
 public:
  void set(const std::string& path, Value v) { values_[path] = std::move(v); }
  /// \brief Leaves \p path out of canonical_text() while its value equals \p neutral (a
  /// parameter added later whose default reproduces the points recorded before it existed).
  void set_id_neutral(const std::string& path, Value neutral) { id_neutral_[path] = std::move(neutral); }
  /// \brief The value at \p path, or nullptr.
  const Value* find(std::string_view path) const;
  bool contains(std::string_view path) const { return find(path) != nullptr; }

  /// \brief Typed getters. \throws InternalError naming the path when it is absent or of
  /// another type (an int is accepted where a real is asked for).
  double real(std::string_view path) const;
  std::int64_t integer(std::string_view path) const;
  bool boolean(std::string_view path) const;
  const std::string& text(std::string_view path) const;

  const std::map<std::string, Value, std::less<>>& entries() const { return values_; }

  /// \brief The entries whose path \p keep accepts, with their id-neutral values: a cache key
  /// made of some of a point's parameters stays as it was when a parameter is added later.
  template <class Keep>
  Params only(Keep&& keep) const {
    Params out;
    for (const auto& [path, value] : values_)
      if (keep(path)) out.values_.emplace(path, value);
    for (const auto& [path, value] : id_neutral_)
      if (keep(path)) out.id_neutral_.emplace(path, value);
    return out;
  }

  /// \brief "path=canonical-value" lines, sorted by path: the input of the point id. Paths at
  /// their id-neutral value (set_id_neutral) are left out.
  std::string canonical_text() const;

 private:
  std::map<std::string, Value, std::less<>> values_;
  std::map<std::string, Value, std::less<>> id_neutral_;
};

/// \brief A point's stable identity: 16 hex digits of a 64-bit FNV-1a hash of
/// Params::canonical_text(). Independent of plan order, rank count and machine.
std::string point_id(const Params& params);

}  // namespace xbarsweep::config
