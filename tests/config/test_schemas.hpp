#pragma once
/// \file
/// \brief The fixed schemas the config tests load against. The corpus in tests/corpus/config
/// uses only these parameters, which the real `synthetic` and `train` kinds also accept.

#include <limits>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "xbarsweep/config/schema.hpp"

namespace xbarsweep::config::test {

inline ParamSpec param(std::string path, ValueType type, Value default_value,
                       std::optional<double> min = std::nullopt, std::optional<double> max = std::nullopt,
                       std::vector<std::string> choices = {}) {
  ParamSpec spec;
  spec.path = std::move(path);
  spec.type = type;
  spec.default_value = std::move(default_value);
  spec.min = min;
  spec.max = max;
  spec.choices = std::move(choices);
  return spec;
}

/// \brief "synthetic" and "train", as the corpus expects them.
inline std::map<std::string, Schema> corpus_schemas() {
  using V = ValueType;
  Schema synthetic;
  synthetic.add(param("synthetic.work_ms", V::Real, 0.0, 0.0))
      .add(param("synthetic.fail_rate", V::Real, 0.0, 0.0, 1.0))
      .add(param("synthetic.nan_rate", V::Real, 0.0, 0.0, 1.0))
      .add(param("synthetic.scale", V::Real, 1.0))
      .add(
          param("synthetic.label", V::String, std::string("a"), std::nullopt, std::nullopt, {"a", "b", "c"}));
  Schema train;
  train.add(param("train.lr", V::Real, 0.01, std::numeric_limits<double>::min()))
      .add(param("train.epochs", V::Int, std::int64_t{1}, 1.0))
      .add(param("train.batch_size", V::Int, std::int64_t{32}, 1.0))
      .add(param("data.subset", V::Int, std::int64_t{0}, 0.0))
      .add(param("model.name", V::String, std::string("mlp"), std::nullopt, std::nullopt, {"mlp", "lenet5"}));
  return {{"synthetic", synthetic}, {"train", train}};
}

/// \brief The corpus schemas plus "unit", a kind with a bool, a bounded int, a free string and a
/// parameter without a default (required).
inline std::map<std::string, Schema> unit_schemas() {
  using V = ValueType;
  auto schemas = corpus_schemas();
  Schema unit;
  unit.add(param("unit.flag", V::Bool, false))
      .add(param("unit.count", V::Int, std::int64_t{3}, 0.0, 10.0))
      .add(param("unit.tag", V::String, std::string("x")))
      .add(param("unit.required", V::Real, Value{}))
      .add(param("unit.ratio", V::Real, std::int64_t{0}, 0.0, 1.0));  // an int default for a real
  ParamSpec pair = param("unit.pair", V::String, std::string("a=b"));
  pair.check_text = [](const std::string& text) -> std::string {
    return text.find('=') == std::string::npos ? "expected KEY=VALUE" : "";
  };
  unit.add(std::move(pair));
  schemas.emplace("unit", unit);
  return schemas;
}

}  // namespace xbarsweep::config::test
