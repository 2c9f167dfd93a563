#include "xbarsweep/config/value.hpp"

#include <cstdio>

#include "xbarsweep/config/hashing.hpp"
#include "xbarsweep/error.hpp"

namespace xbarsweep::config {

namespace {

std::string format_real(const char* format, double v) {
  if (v == 0.0) v = 0.0;  // -0 and 0 are the same parameter value: one canonical text
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, format, v);
  return buffer;
}

[[noreturn]] void wrong_type(std::string_view path, const Value& v, std::string_view wanted) {
  throw InternalError("parameter '" + std::string(path) + "' is " + std::string(type_name(type_of(v))) +
                      ", not " + std::string(wanted));
}

const Value& require(const Params& params, std::string_view path) {
  const Value* v = params.find(path);
  if (v == nullptr) throw InternalError("parameter '" + std::string(path) + "' is absent");
  return *v;
}

}  // namespace

// JSON-style quoting; in canonical texts, so that the string "1" and the int 1 never share one.
std::string quoted(const std::string& s) {
  std::string out = "\"";
  for (const char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          char buffer[8];
          std::snprintf(buffer, sizeof buffer, "\\u%04x", static_cast<unsigned>(c));
          out += buffer;
        } else {
          out += c;
        }
    }
  }
  return out + "\"";
}

ValueType type_of(const Value& v) {
  switch (v.index()) {
    case 0:
      return ValueType::Bool;
    case 1:
      return ValueType::Int;
    case 2:
      return ValueType::Real;
    default:
      return ValueType::String;
  }
}

std::string_view type_name(ValueType t) {
  switch (t) {
    case ValueType::Bool:
      return "bool";
    case ValueType::Int:
      return "int";
    case ValueType::Real:
      return "real";
    case ValueType::String:
      return "string";
  }
  return "?";
}

std::string canonical(const Value& v) {
  switch (type_of(v)) {
    case ValueType::Bool:
      return std::get<bool>(v) ? "true" : "false";
    case ValueType::Int:
      return std::to_string(std::get<std::int64_t>(v));
    case ValueType::Real:
      return format_real("%.17g", std::get<double>(v));
    case ValueType::String:
      return quoted(std::get<std::string>(v));
  }
  return {};
}

std::string display(const Value& v) {
  switch (type_of(v)) {
    case ValueType::Real:
      return format_real("%g", std::get<double>(v));
    case ValueType::String:
      return std::get<std::string>(v);
    default:
      return canonical(v);
  }
}

const Value* Params::find(std::string_view path) const {
  const auto it = values_.find(path);
  return it == values_.end() ? nullptr : &it->second;
}

double Params::real(std::string_view path) const {
  const Value& v = require(*this, path);
  if (const auto* d = std::get_if<double>(&v)) return *d;
  if (const auto* i = std::get_if<std::int64_t>(&v)) return static_cast<double>(*i);
  wrong_type(path, v, "real");
}

std::int64_t Params::integer(std::string_view path) const {
  const Value& v = require(*this, path);
  if (const auto* i = std::get_if<std::int64_t>(&v)) return *i;
  wrong_type(path, v, "int");
}

bool Params::boolean(std::string_view path) const {
  const Value& v = require(*this, path);
  if (const auto* b = std::get_if<bool>(&v)) return *b;
  wrong_type(path, v, "bool");
}

const std::string& Params::text(std::string_view path) const {
  const Value& v = require(*this, path);
  if (const auto* s = std::get_if<std::string>(&v)) return *s;
  wrong_type(path, v, "string");
}

std::string Params::canonical_text() const {
  std::string out;
  for (const auto& [path, value] : values_) {
    const auto neutral = id_neutral_.find(path);
    if (neutral != id_neutral_.end() && neutral->second == value) continue;
    out += path;
    out += '=';
    out += canonical(value);
    out += '\n';
  }
  return out;
}

std::string point_id(const Params& params) {
  char buffer[17];
  std::snprintf(buffer, sizeof buffer, "%016llx",
                static_cast<unsigned long long>(fnv1a64(params.canonical_text())));
  return buffer;
}

}  // namespace xbarsweep::config
