#pragma once
/// \file
/// \brief One declaration per parameter: a section of parameters bound to the fields of a typed
/// struct. The schema (types, defaults, ranges, choices, units, docs), `xbarsweep kinds`,
/// docs/parameters.md (`xbarsweep kinds --format markdown`) and the conversion from a point's
/// Params to the struct all come from it. Defaults are the struct's own member initialisers: written once.
///
/// \code
/// const config::Section<CrossbarConfig> section =
///     config::Section<CrossbarConfig>("crossbar")
///         .add("rows", &CrossbarConfig::rows, "crossbar rows = inputs per tile", {1, 4096})
///         .choice("mapping", &CrossbarConfig::mapping,
///                 {{"differential", Mapping::Differential}, {"offset", Mapping::Offset}}, "...");
/// CrossbarConfig c = section.read(params);
/// \endcode

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "xbarsweep/config/schema.hpp"
#include "xbarsweep/config/value.hpp"
#include "xbarsweep/error.hpp"

namespace xbarsweep::config {

/// \brief The range of a numeric parameter (inclusive unless marked).
struct Range {
  std::optional<double> min;
  std::optional<double> max;
  bool min_exclusive = false;
  bool max_exclusive = false;

  Range() = default;
  Range(double lo, double hi) : min(lo), max(hi) {}
  static Range at_least(double lo) {
    Range r;
    r.min = lo;
    return r;
  }
  static Range above(double lo) {
    Range r = at_least(lo);
    r.min_exclusive = true;
    return r;
  }
  /// \brief [lo, hi).
  static Range below(double lo, double hi) {
    Range r(lo, hi);
    r.max_exclusive = true;
    return r;
  }
  /// \brief (lo, hi].
  static Range above_to(double lo, double hi) {
    Range r(lo, hi);
    r.min_exclusive = true;
    return r;
  }
};

/// \brief The parameters of one section ("crossbar", "train", ...) bound to the fields of \p T.
template <class T>
class Section {
 public:
  /// \param prefix the section's name: parameters are "prefix.key"
  /// \param defaults the struct whose field values are the defaults (T{} unless given)
  explicit Section(std::string prefix, T defaults = T{})
      : prefix_(std::move(prefix)), defaults_(std::move(defaults)) {}

  /// \brief A parameter that fills the field \p field (int, std::int64_t, std::uint64_t, double,
  /// bool or std::string), with \p field's value in the defaults as its default.
  template <class F>
  Section& add(const std::string& key, F T::*field, std::string doc, Range range = {}) {
    return add_field<F>(
        key, [field](T& t) -> F& { return t.*field; }, std::move(doc), range);
  }

  /// \brief The same for a field reached through \p access (a nested field:
  /// `[](TrainOptions& o) -> double& { return o.optimizer.lr; }`).
  template <class F>
  Section& add_field(const std::string& key, std::function<F&(T&)> access, std::string doc,
                     Range range = {}) {
    ParamSpec spec;
    spec.path = prefix_ + "." + key;
    spec.type = value_type<F>();
    T copy = defaults_;
    spec.default_value = to_value(access(copy));
    spec.min = range.min;
    spec.max = range.max;
    spec.min_exclusive = range.min_exclusive;
    spec.max_exclusive = range.max_exclusive;
    if constexpr (std::is_unsigned_v<F> && !std::is_same_v<F, bool>) {
      if (!spec.min) spec.min = 0.0;
    }
    spec.doc = std::move(doc);
    const std::string path = spec.path;
    entries_.push_back({std::move(spec), [access, path](T& t, const Params& p) {
                          if (const Value* v = p.find(path)) access(t) = from_value<F>(*v, path);
                        }});
    return *this;
  }

  /// \brief A string parameter whose choices map onto the values of an enum field.
  template <class E>
  Section& choice(const std::string& key, E T::*field, std::vector<std::pair<std::string, E>> choices,
                  std::string doc) {
    ParamSpec spec;
    spec.path = prefix_ + "." + key;
    spec.type = ValueType::String;
    for (const auto& [text, value] : choices) {
      spec.choices.push_back(text);
      if (value == defaults_.*field) spec.default_value = text;
    }
    if (type_of(spec.default_value) != ValueType::String)
      throw InternalError("section: the default of '" + spec.path + "' is none of its choices");
    spec.doc = std::move(doc);
    const std::string path = spec.path;
    entries_.push_back({std::move(spec), [field, choices, path](T& t, const Params& p) {
                          const Value* v = p.find(path);
                          if (v == nullptr) return;
                          for (const auto& [text, value] : choices)
                            if (std::get<std::string>(*v) == text) {
                              t.*field = value;
                              return;
                            }
                          throw InternalError("parameter '" + path + "' holds an unknown choice");
                        }});
    return *this;
  }

  /// \brief Gives the last parameter added its unit ("uS", "mW", ...).
  Section& unit(std::string text) {
    entries_.back().spec.unit = std::move(text);
    return *this;
  }

  /// \brief Marks the last parameter added as added after points were recorded, with a default
  /// that reproduces what those points computed: a point at the default keeps the id it had
  /// before the parameter existed (ParamSpec::id_neutral_default), so results files resume.
  Section& added_later() {
    entries_.back().spec.id_neutral_default = true;
    return *this;
  }

  /// \brief The same for a parameter whose default has changed since: points recorded before it
  /// existed computed with \p then, so a point at \p then keeps its old id and a point at the
  /// new default gets a new one (never a stored result of another computation under its id).
  template <class Then>
  Section& added_later(Then then) {
    entries_.back().spec.id_neutral_default = true;
    entries_.back().spec.id_neutral_value = Value(then);
    return *this;
  }

  /// \brief Restricts the last parameter added (a String) to \p allowed.
  Section& choices(std::vector<std::string> allowed) {
    entries_.back().spec.choices = std::move(allowed);
    return *this;
  }

  /// \brief Gives the last parameter added a syntax check of its text (String parameters).
  Section& check_text(std::function<std::string(const std::string&)> check) {
    entries_.back().spec.check_text = std::move(check);
    return *this;
  }

  /// \brief Every parameter of the section.
  Schema schema() const {
    Schema s;
    for (const Entry& e : entries_) s.add(e.spec);
    return s;
  }

  /// \brief The struct: the defaults, with every parameter present in \p params assigned.
  T read(const Params& params) const {
    T out = defaults_;
    for (const Entry& e : entries_)
      if (e.assign) e.assign(out, params);
    return out;
  }

 private:
  struct Entry {
    ParamSpec spec;
    std::function<void(T&, const Params&)> assign;
  };

  template <class F>
  static constexpr ValueType value_type() {
    if constexpr (std::is_same_v<F, bool>)
      return ValueType::Bool;
    else if constexpr (std::is_integral_v<F>)
      return ValueType::Int;
    else if constexpr (std::is_floating_point_v<F>)
      return ValueType::Real;
    else {
      static_assert(std::is_same_v<F, std::string>,
                    "a parameter field is bool, integral, floating or string");
      return ValueType::String;
    }
  }

  template <class F>
  static Value to_value(const F& v) {
    if constexpr (std::is_same_v<F, bool>)
      return Value(v);
    else if constexpr (std::is_integral_v<F>)
      return Value(static_cast<std::int64_t>(v));
    else if constexpr (std::is_floating_point_v<F>)
      return Value(static_cast<double>(v));
    else
      return Value(v);
  }

  template <class F>
  static F from_value(const Value& v, const std::string& path) {
    if constexpr (std::is_same_v<F, bool>) {
      if (const bool* b = std::get_if<bool>(&v)) return *b;
    } else if constexpr (std::is_integral_v<F>) {
      if (const std::int64_t* i = std::get_if<std::int64_t>(&v)) return static_cast<F>(*i);
    } else if constexpr (std::is_floating_point_v<F>) {
      if (const double* d = std::get_if<double>(&v)) return static_cast<F>(*d);
      if (const std::int64_t* i = std::get_if<std::int64_t>(&v)) return static_cast<F>(*i);
    } else {
      if (const std::string* s = std::get_if<std::string>(&v)) return *s;
    }
    throw InternalError("parameter '" + path + "' holds a " + std::string(type_name(type_of(v))) +
                        ", not a " + std::string(type_name(value_type<F>())));
  }

  std::string prefix_;
  T defaults_;
  std::vector<Entry> entries_;
};

}  // namespace xbarsweep::config
