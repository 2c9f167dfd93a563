#include "xbarsweep/config/schema.hpp"

#include "xbarsweep/error.hpp"

namespace xbarsweep::config {

Schema& Schema::add(ParamSpec spec) {
  if (spec.path.empty()) throw InternalError("schema: a parameter needs a path");
  if (find(spec.path) != nullptr) throw InternalError("schema: parameter '" + spec.path + "' declared twice");
  // Defaults written as literals are often ints for real parameters (`0` for 0.0).
  if (spec.type == ValueType::Real && type_of(spec.default_value) == ValueType::Int)
    spec.default_value = static_cast<double>(std::get<std::int64_t>(spec.default_value));
  const ValueType given = type_of(spec.default_value);
  // A default left as Value{} (false) on a non-bool parameter means "no default: required".
  if (given != spec.type && given != ValueType::Bool)
    throw InternalError("schema: default of '" + spec.path + "' is a " + std::string(type_name(given)) +
                        ", the parameter a " + std::string(type_name(spec.type)));
  specs_.push_back(std::move(spec));
  return *this;
}

Schema& Schema::merge(const Schema& other) {
  for (const ParamSpec& spec : other.specs()) {
    // Shared sections may reach a kind along two routes; the same parameter twice is fine.
    if (const ParamSpec* mine = find(spec.path)) {
      if (mine->type != spec.type)
        throw InternalError("schema: parameter '" + spec.path + "' merged with two different types");
      continue;
    }
    add(spec);
  }
  return *this;
}

const ParamSpec* Schema::find(std::string_view path) const {
  for (const ParamSpec& spec : specs_)
    if (spec.path == path) return &spec;
  return nullptr;
}

}  // namespace xbarsweep::config
