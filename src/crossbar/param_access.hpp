#pragma once
// Reading `crossbar.*` and `cost.*` parameters: private to src/crossbar/ (config_params.cpp,
// cost.cpp). A missing path gives the fallback; a value of the wrong type a CrossbarError naming it.

#include <optional>
#include <stdexcept>
#include <string>

#include "xbarsweep/config/schema.hpp"
#include "xbarsweep/config/value.hpp"
#include "xbarsweep/crossbar/error.hpp"

namespace xbarsweep::crossbar::impl {

inline double real_or(const config::Params& p, const char* path, double fallback) {
  if (!p.contains(path)) return fallback;
  try {
    return p.real(path);
  } catch (const std::out_of_range& e) {
    XBARSWEEP_CROSSBAR_THROW_IF(true, path << ": expected a number (" << e.what() << ")");
  }
  return fallback;
}

inline int int_or(const config::Params& p, const char* path, int fallback) {
  if (!p.contains(path)) return fallback;
  try {
    return static_cast<int>(p.integer(path));
  } catch (const std::out_of_range& e) {
    XBARSWEEP_CROSSBAR_THROW_IF(true, path << ": expected an integer (" << e.what() << ")");
  }
  return fallback;
}

inline std::string text_or(const config::Params& p, const char* path, const char* fallback) {
  if (!p.contains(path)) return fallback;
  try {
    return p.text(path);
  } catch (const std::out_of_range& e) {
    XBARSWEEP_CROSSBAR_THROW_IF(true, path << ": expected a string (" << e.what() << ")");
  }
  return fallback;
}

/// A schema entry whose type is that of its default.
inline config::ParamSpec spec(std::string path, config::Value def, std::string doc,
                       std::optional<double> min = std::nullopt, std::optional<double> max = std::nullopt) {
  config::ParamSpec s;
  s.path = std::move(path);
  s.type = config::type_of(def);
  s.default_value = std::move(def);
  s.min = min;
  s.max = max;
  s.doc = std::move(doc);
  return s;
}

}  // namespace xbarsweep::crossbar::impl
