#include "xbarsweep/config/experiment.hpp"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <limits>
#include <optional>
#include <set>
#include <sstream>

namespace xbarsweep::config {

namespace {

constexpr std::size_t kMaxFileBytes = std::size_t{1} << 20;
constexpr std::size_t kMaxListedChoices = 24;  // longer lists of candidates are cut with "..."

const std::vector<std::string> kTopLevelKeys = {"name",   "kind",         "description", "seed",
                                                "output", "checkpoint_s", "sweep"};
const std::vector<std::string> kSweepKeys = {"grid", "zip", "points", "random", "repeats", "max_points"};
const std::vector<std::string> kRandomKeys = {"samples", "seed", "params"};
const std::vector<std::string> kDistributionKeys = {"uniform", "log_uniform", "int_uniform", "choice"};

std::string join(const std::vector<std::string>& items) {
  std::string out;
  for (std::size_t i = 0; i < items.size(); ++i) {
    if (i == kMaxListedChoices) return out + ", ...";
    if (i > 0) out += ", ";
    out += items[i];
  }
  return out;
}

std::string number_text(double v) {
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%g", v);
  return buffer;
}

// What a parameter accepts, in words: "a real >= 0 and <= 1".
std::string expectation(const ParamSpec& spec) {
  switch (spec.type) {
    case ValueType::Bool:
      return "true or false";
    case ValueType::String:
      return spec.choices.empty() ? "a string" : "one of " + join(spec.choices);
    case ValueType::Int:
    case ValueType::Real: {
      std::string out = spec.type == ValueType::Int ? "an int" : "a real";
      if (spec.min) out += (spec.min_exclusive ? " > " : " >= ") + number_text(*spec.min);
      if (spec.min && spec.max) out += " and";
      if (spec.max) out += (spec.max_exclusive ? " < " : " <= ") + number_text(*spec.max);
      return out;
    }
  }
  return {};
}

// What the user wrote, for messages: long scalars are cut so a message stays one line.
std::string described(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Null:
      return "nothing";
    case YAML::NodeType::Sequence:
      return "a list";
    case YAML::NodeType::Map:
      return "a mapping";
    case YAML::NodeType::Scalar: {
      const std::string& s = node.Scalar();
      return "'" + (s.size() > 40 ? s.substr(0, 40) + "..." : s) + "'";
    }
    default:
      return "an undefined value";
  }
}

// A quoted or !!str-tagged scalar is a string, never a number or a bool.
bool is_quoted(const YAML::Node& node) {
  const std::string& tag = node.Tag();
  return tag == "!" || tag == "tag:yaml.org,2002:str";
}

bool parse_int(std::string_view text, std::int64_t& out, bool& too_large) {
  if (!text.empty() && text.front() == '+') text.remove_prefix(1);
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  too_large = ec == std::errc::result_out_of_range;
  return ec == std::errc() && end == text.data() + text.size() && !text.empty();
}

bool parse_real(std::string_view text, double& out) {
  if (!text.empty() && text.front() == '+') text.remove_prefix(1);
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  return ec == std::errc() && end == text.data() + text.size() && !text.empty();
}

// YAML's spellings of infinity and NaN (.inf, -.Inf, .NAN, ...).
bool is_yaml_non_finite(std::string_view text) {
  if (!text.empty() && (text.front() == '+' || text.front() == '-')) text.remove_prefix(1);
  return text == ".inf" || text == ".Inf" || text == ".INF" || text == ".nan" || text == ".NaN" ||
         text == ".NAN";
}

bool in_range(const ParamSpec& spec, double v) {
  if (spec.min && (spec.min_exclusive ? !(v > *spec.min) : !(v >= *spec.min))) return false;
  if (spec.max && (spec.max_exclusive ? !(v < *spec.max) : !(v <= *spec.max))) return false;
  return true;
}

// Converts a scalar to the parameter's type and checks its range. Returns the problem ("" when
// the value is good); the caller adds what was expected.
std::string convert_scalar(const ParamSpec& spec, const YAML::Node& node, Value& out) {
  const std::string& text = node.Scalar();
  const bool quoted = is_quoted(node);
  const std::string got = "got " + described(node);
  switch (spec.type) {
    case ValueType::Bool:
      if (quoted) return "wrong type: " + got + " (a quoted string)";
      if (text == "true" || text == "True" || text == "TRUE")
        out = true;
      else if (text == "false" || text == "False" || text == "FALSE")
        out = false;
      else
        return "wrong type: " + got;
      return {};
    case ValueType::String:
      if (!spec.choices.empty()) {
        bool allowed = false;
        for (const std::string& c : spec.choices) allowed = allowed || c == text;
        if (!allowed) {
          const std::string guess = did_you_mean(text, spec.choices);
          return "value " + described(node) + " is not allowed" +
                 (guess.empty() ? "" : " (did you mean '" + guess + "'?)");
        }
      }
      if (spec.check_text) {
        if (std::string problem = spec.check_text(text); !problem.empty())
          return "value " + described(node) + ": " + problem;
      }
      out = text;
      return {};
    case ValueType::Int: {
      std::int64_t v = 0;
      bool too_large = false;
      if (quoted) return "wrong type: " + got + " (a quoted string)";
      if (!parse_int(text, v, too_large))
        return too_large ? "value " + described(node) + " does not fit a 64-bit int" : "wrong type: " + got;
      if (!in_range(spec, static_cast<double>(v))) return "value " + described(node) + " is out of range";
      out = v;
      return {};
    }
    case ValueType::Real: {
      double v = 0;
      if (quoted) return "wrong type: " + got + " (a quoted string)";
      if (is_yaml_non_finite(text)) return "value " + described(node) + " is not finite";
      if (!parse_real(text, v)) return "wrong type: " + got;
      if (!std::isfinite(v)) return "value " + described(node) + " is not finite";
      if (!in_range(spec, v)) return "value " + described(node) + " is out of range";
      out = v;
      return {};
    }
  }
  return "unsupported parameter type";
}

// The first position of a listed axis (grid, zip, points) that sets the same values as an earlier
// one: the same point twice.
std::optional<std::size_t> first_repeated_position(const Axis& axis) {
  std::set<std::string> seen;
  for (std::size_t i = 0; i < axis.settings.size(); ++i) {
    std::string text;
    for (const auto& [path, value] : axis.settings[i]) text += path + "=" + canonical(value) + "\n";
    if (!seen.insert(text).second) return i;
  }
  return std::nullopt;
}

bool has_default(const ParamSpec& spec) { return type_of(spec.default_value) == spec.type; }

std::string first_component(const std::string& path) { return path.substr(0, path.find('.')); }

std::string last_component(const std::string& path) {
  const std::size_t dot = path.rfind('.');
  return dot == std::string::npos ? path : path.substr(dot + 1);
}

bool valid_name(const std::string& name) {
  if (name.empty()) return false;
  for (const char c : name)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '.' && c != '-') return false;
  return true;
}

// Rejects what cannot be a YAML text before the parser sees it: NUL and control bytes, invalid
// UTF-8. Returns the offset of the first bad byte, or npos.
std::size_t first_binary_byte(const std::string& text) {
  std::size_t i = 0;
  while (i < text.size()) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c < 0x80) {
      if (c < 0x20 && c != '\t' && c != '\n' && c != '\r') return i;
      if (c == 0x7f) return i;
      ++i;
      continue;
    }
    std::size_t length = c >= 0xf0 && c <= 0xf4 ? 4 : c >= 0xe0 ? 3 : c >= 0xc2 && c < 0xe0 ? 2 : 0;
    if (c >= 0xf5) length = 0;
    if (length == 0 || i + length > text.size()) return i;
    for (std::size_t k = 1; k < length; ++k)
      if ((static_cast<unsigned char>(text[i + k]) & 0xc0) != 0x80) return i;
    i += length;
  }
  return std::string::npos;
}

SourceLocation location_of_offset(const std::string& file, const std::string& text, std::size_t offset) {
  SourceLocation at{file, 1, 1};
  for (std::size_t i = 0; i < offset; ++i) {
    if (text[i] == '\n') {
      ++at.line;
      at.column = 1;
    } else {
      ++at.column;
    }
  }
  return at;
}

// Reads one YAML file into an Experiment. Walks only the shapes the format defines (sections of
// scalars, axes of scalars), so aliases cannot make it do more work than the text is long.
class ExperimentReader {
 public:
  ExperimentReader(std::string file, const std::map<std::string, Schema>& schemas)
      : file_(std::move(file)), schemas_(schemas) {}

  Experiment read(const std::string& text, const std::vector<std::string>& overrides);

 private:
  [[noreturn]] void fail(const YAML::Node& at, const std::string& key, const std::string& problem) const {
    throw ConfigError(locate(at), key, problem);
  }

  SourceLocation locate(const YAML::Node& node) const {
    if (!override_.empty()) return SourceLocation{override_, 0, 0};
    const YAML::Mark mark = node.Mark();
    if (mark.line < 0) return SourceLocation{file_, 0, 0};
    return SourceLocation{file_, mark.line + 1, mark.column + 1};
  }

  // Calls visit(key, key_node, value) for each entry of a mapping; keys must be unique scalars.
  template <class Visit>
  void for_each_entry(const YAML::Node& map, const std::string& where, Visit visit) const {
    std::set<std::string> seen;
    for (auto it = map.begin(); it != map.end(); ++it) {
      const YAML::Node key = it->first;
      const YAML::Node value = it->second;
      if (!key.IsScalar()) fail(key, where, "a key is " + described(key) + "; expected a plain name");
      const std::string& name = key.Scalar();
      const std::string path = where.empty() ? name : where + "." + name;
      if (!seen.insert(name).second) fail(key, path, "duplicate key; expected each key once per mapping");
      visit(name, key, value);
    }
  }

  std::string text_of(const YAML::Node& node, const std::string& key, const std::string& expected) const {
    if (!node.IsScalar()) fail(node, key, "wrong type: got " + described(node) + "; expected " + expected);
    return node.Scalar();
  }

  Value value_of(const ParamSpec& spec, const YAML::Node& node, const std::string& key) const {
    if (!node.IsScalar())
      fail(node, key, "wrong type: got " + described(node) + "; expected " + expectation(spec));
    Value v;
    const std::string problem = convert_scalar(spec, node, v);
    if (!problem.empty()) fail(node, key, problem + "; expected " + expectation(spec));
    return v;
  }

  std::int64_t int_of(const YAML::Node& node, const std::string& key, std::int64_t min) const {
    ParamSpec spec;
    spec.path = key;
    spec.type = ValueType::Int;
    spec.min = static_cast<double>(min);
    return std::get<std::int64_t>(value_of(spec, node, key));
  }

  // checkpoint_s: seconds >= 0.
  double seconds_of(const YAML::Node& node, const std::string& key) const {
    ParamSpec spec;
    spec.path = key;
    spec.type = ValueType::Real;
    spec.min = 0.0;
    return std::get<double>(value_of(spec, node, key));
  }

  std::vector<std::string> schema_paths() const {
    std::vector<std::string> paths;
    for (const ParamSpec& spec : schema_->specs()) paths.push_back(spec.path);
    return paths;
  }

  // "unknown key 'train.lrr'; did you mean 'train.lr'?" or the list of what is accepted.
  std::string unknown_path(const std::string& path, std::vector<std::string> candidates) const {
    std::string guess = did_you_mean(path, candidates);
    if (guess.empty()) {
      // The right key in the wrong section: `train: {subset: 3}` means data.subset.
      for (const std::string& c : candidates)
        if (c.find('.') != std::string::npos && last_component(c) == last_component(path)) guess = c;
    }
    if (!guess.empty()) return "unknown key '" + path + "'; did you mean '" + guess + "'?";
    for (const auto& [kind, schema] : schemas_)
      if (kind != experiment_.kind && schema.find(path) != nullptr)
        return "unknown key '" + path + "': it is a parameter of kind '" + kind + "', not of kind '" +
               experiment_.kind + "'";
    return "unknown key '" + path + "'; expected one of " + join(candidates);
  }

  const ParamSpec& spec_for(const std::string& path, const YAML::Node& at, const std::string& key) const {
    if (path == "seed") return seed_spec_;
    if (const ParamSpec* spec = schema_->find(path)) return *spec;
    std::vector<std::string> candidates = schema_paths();
    candidates.push_back("seed");
    fail(at, key, unknown_path(path, candidates));
  }

  void read_kind(const YAML::Node& root);
  void read_top_level(const YAML::Node& root);
  void read_section(const YAML::Node& node, const std::string& prefix);
  void read_sweep(const YAML::Node& node);
  void read_grid(const YAML::Node& node);
  void read_zip(const YAML::Node& node);
  void read_points(const YAML::Node& node);
  void read_random(const YAML::Node& node);
  Distribution read_distribution(const ParamSpec& spec, const YAML::Node& node, const std::string& key) const;
  void claim(const std::string& path, const YAML::Node& at, const std::string& key);
  void reject_duplicate_settings(const Axis& axis, const YAML::Node& list, const std::string& key) const;
  void apply_override(const std::string& text);
  void unsweep(const std::string& path, const std::string& text);
  void finish(const YAML::Node& root);

  std::string file_;
  const std::map<std::string, Schema>& schemas_;
  const Schema* schema_ = nullptr;
  const ParamSpec seed_spec_ = [] {
    ParamSpec spec;
    spec.path = "seed";
    spec.type = ValueType::Int;
    spec.default_value = std::int64_t{0};
    return spec;
  }();
  Experiment experiment_;
  bool name_given_ = false;
  bool output_given_ = false;
  std::vector<std::size_t> random_axes_without_seed_;
  std::map<std::string, std::pair<std::size_t, SourceLocation>> swept_;  // path -> axis, where
  YAML::Node sweep_node_;
  bool has_sweep_ = false;
  std::string override_;  // while applying a --set: names it in place of file:line
};

Experiment ExperimentReader::read(const std::string& text, const std::vector<std::string>& overrides) {
  experiment_.path = file_;
  experiment_.source_text = text;
  experiment_.overrides = overrides;
  if (text.size() > kMaxFileBytes)
    throw ConfigError(SourceLocation{file_}, "",
                      "the file is too big (" + std::to_string(text.size()) +
                          " bytes); expected a YAML experiment of at most 1 MiB");
  if (const std::size_t bad = first_binary_byte(text); bad != std::string::npos) {
    char byte[8];
    std::snprintf(byte, sizeof byte, "0x%02x", static_cast<unsigned char>(text[bad]));
    throw ConfigError(location_of_offset(file_, text, bad), "",
                      std::string("binary data (byte ") + byte + ") in the file; expected a UTF-8 YAML text");
  }

  std::vector<YAML::Node> documents;
  try {
    std::vector<YAML::Node> loaded = YAML::LoadAll(text);
    documents.swap(loaded);
  } catch (const YAML::Exception& e) {
    SourceLocation at{file_};
    if (e.mark.line >= 0) at = SourceLocation{file_, e.mark.line + 1, e.mark.column + 1};
    throw ConfigError(at, "", "YAML syntax error: " + e.msg + "; expected valid YAML");
  }
  if (documents.empty() || documents.front().IsNull())
    throw ConfigError(SourceLocation{file_}, "",
                      "the file is empty or holds only comments; expected a mapping with at "
                      "least 'name' and 'kind'");
  if (documents.size() > 1)
    fail(documents[1], "", "a second YAML document ('---'); expected exactly one document");
  const YAML::Node root = documents.front();
  if (!root.IsMap())
    fail(root, "",
         "the top level is " + described(root) +
             "; expected a mapping with keys such as 'name', 'kind', 'sweep'");

  read_kind(root);
  read_top_level(root);
  for (const std::string& o : overrides) apply_override(o);
  finish(root);
  return std::move(experiment_);
}

void ExperimentReader::read_kind(const YAML::Node& root) {
  std::vector<std::string> kinds;
  for (const auto& [kind, schema] : schemas_) kinds.push_back(kind);
  auto entry = root.begin();
  while (entry != root.end() && !(entry->first.IsScalar() && entry->first.Scalar() == "kind")) ++entry;
  if (entry == root.end()) fail(root, "kind", "missing required key 'kind'; expected one of " + join(kinds));
  const YAML::Node kind_node = entry->second;
  const std::string kind = text_of(kind_node, "kind", "one of " + join(kinds));
  const auto found = schemas_.find(kind);
  if (found == schemas_.end()) {
    const std::string guess = did_you_mean(kind, kinds);
    fail(kind_node, "kind",
         "unknown kind '" + kind + "'" +
             (guess.empty() ? "; expected" : "; did you mean '" + guess + "'? Expected") + " one of " +
             join(kinds));
  }
  experiment_.kind = kind;
  schema_ = &found->second;
  for (const ParamSpec& spec : schema_->specs()) {
    if (has_default(spec)) experiment_.base.set(spec.path, spec.default_value);
    if (has_default(spec) && spec.id_neutral_default)
      experiment_.base.set_id_neutral(spec.path,
                                      spec.id_neutral_value ? *spec.id_neutral_value : spec.default_value);
  }
}

void ExperimentReader::read_top_level(const YAML::Node& root) {
  std::vector<std::string> sections;
  for (const ParamSpec& spec : schema_->specs()) {
    const std::string section = first_component(spec.path);
    if (std::find(sections.begin(), sections.end(), section) == sections.end()) sections.push_back(section);
  }
  for_each_entry(root, "", [&](const std::string& key, const YAML::Node& key_node, const YAML::Node& value) {
    if (key == "kind") return;  // read first: it decides which sections exist
    if (key == "name") {
      experiment_.name = text_of(value, key, "a name of letters, digits, '_', '.' or '-'");
      if (!valid_name(experiment_.name))
        fail(value, key,
             "invalid name " + described(value) + "; expected a name of letters, digits, '_', '.' or '-'");
      name_given_ = true;
    } else if (key == "description") {
      experiment_.description = value.IsNull() ? "" : text_of(value, key, "a string");
    } else if (key == "seed") {
      experiment_.seed = std::get<std::int64_t>(value_of(seed_spec_, value, key));
    } else if (key == "output") {
      experiment_.output = text_of(value, key, "a file path");
      if (experiment_.output.empty()) fail(value, key, "empty output path; expected a file path");
      output_given_ = true;
    } else if (key == "checkpoint_s") {
      experiment_.checkpoint_s = seconds_of(value, key);
    } else if (key == "sweep") {
      sweep_node_.reset(value);
      has_sweep_ = true;
      read_sweep(value);
    } else if (std::find(sections.begin(), sections.end(), key) != sections.end()) {
      if (const ParamSpec* spec = schema_->find(key)) {  // a parameter without a section
        experiment_.base.set(key, value_of(*spec, value, key));
        experiment_.where[key] = locate(value);
      } else
        read_section(value, key);
    } else {
      std::vector<std::string> allowed = kTopLevelKeys;
      allowed.insert(allowed.end(), sections.begin(), sections.end());
      for (const auto& [kind, schema] : schemas_) {
        if (kind == experiment_.kind) continue;
        for (const ParamSpec& spec : schema.specs())
          if (first_component(spec.path) == key)
            fail(key_node, key,
                 "section '" + key + "' belongs to kind '" + kind + "', not to kind '" + experiment_.kind +
                     "'; expected one of " + join(allowed));
      }
      const std::string guess = did_you_mean(key, allowed);
      fail(key_node, key,
           "unknown key '" + key + "'" +
               (guess.empty() ? "; expected one of " + join(allowed) : "; did you mean '" + guess + "'?"));
    }
  });
}

void ExperimentReader::read_section(const YAML::Node& node, const std::string& prefix) {
  if (node.IsNull()) return;  // every key commented out
  if (!node.IsMap())
    fail(node, prefix,
         "wrong type: got " + described(node) + "; expected a mapping of '" + prefix + "' parameters");
  for_each_entry(node, prefix,
                 [&](const std::string& key, const YAML::Node& key_node, const YAML::Node& value) {
                   const std::string path = prefix + "." + key;
                   if (const ParamSpec* spec = schema_->find(path)) {
                     experiment_.base.set(path, value_of(*spec, value, path));
                     experiment_.where[path] = locate(value);
                     return;
                   }
                   // Deeper sections ("crossbar.device.g_on") exist only where the schema declares them, so
                   // the recursion is bounded by the schema, never by the file.
                   const std::string deeper = path + ".";
                   for (const ParamSpec& spec : schema_->specs()) {
                     if (spec.path.compare(0, deeper.size(), deeper) == 0 && value.IsMap()) {
                       read_section(value, path);
                       return;
                     }
                   }
                   fail(key_node, path, unknown_path(path, schema_paths()));
                 });
}

void ExperimentReader::read_sweep(const YAML::Node& node) {
  if (node.IsNull()) return;
  if (!node.IsMap())
    fail(node, "sweep",
         "wrong type: got " + described(node) + "; expected a mapping with keys " + join(kSweepKeys));
  std::map<std::string, YAML::Node> parts;
  for_each_entry(node, "sweep",
                 [&](const std::string& key, const YAML::Node& key_node, const YAML::Node& value) {
                   if (std::find(kSweepKeys.begin(), kSweepKeys.end(), key) == kSweepKeys.end()) {
                     const std::string guess = did_you_mean(key, kSweepKeys);
                     fail(key_node, "sweep." + key,
                          "unknown key 'sweep." + key + "'" +
                              (guess.empty() ? "; expected one of " + join(kSweepKeys)
                                             : "; did you mean 'sweep." + guess + "'?"));
                   }
                   parts.emplace(key, value);
                 });
  // Axes in a fixed order whatever the order in the file: grid keys, zip groups, points, random.
  if (parts.count("grid")) read_grid(parts["grid"]);
  if (parts.count("zip")) read_zip(parts["zip"]);
  if (parts.count("points")) read_points(parts["points"]);
  if (parts.count("random")) read_random(parts["random"]);
  if (parts.count("repeats"))
    experiment_.repeats = static_cast<std::uint64_t>(int_of(parts["repeats"], "sweep.repeats", 1));
  if (parts.count("max_points"))
    experiment_.max_points = static_cast<std::uint64_t>(int_of(parts["max_points"], "sweep.max_points", 1));
}

void ExperimentReader::claim(const std::string& path, const YAML::Node& at, const std::string& key) {
  const std::size_t axis = experiment_.axes.size();  // the axis being read
  const auto [it, inserted] = swept_.emplace(path, std::make_pair(axis, locate(at)));
  if (!inserted && it->second.first != axis)
    fail(at, key,
         "'" + path + "' is swept twice (first at line " + std::to_string(it->second.second.line) +
             "); expected each path in one axis only");
}

void ExperimentReader::reject_duplicate_settings(const Axis& axis, const YAML::Node& list,
                                                 const std::string& key) const {
  if (const auto i = first_repeated_position(axis)) {
    const YAML::Node at = list.IsSequence() && *i < list.size() ? list[*i] : list;
    fail(at, key,
         "position " + std::to_string(*i + 1) +
             " repeats an earlier one (same parameters, same point); expected distinct values");
  }
}

void ExperimentReader::read_grid(const YAML::Node& node) {
  if (!node.IsMap() || node.size() == 0)
    fail(node, "sweep.grid",
         "got " + described(node) + "; expected a mapping of path: [values], one axis per path");
  for_each_entry(
      node, "sweep.grid", [&](const std::string& path, const YAML::Node& key_node, const YAML::Node& values) {
        const std::string key = "sweep.grid." + path;
        const ParamSpec& spec = spec_for(path, key_node, key);
        claim(path, key_node, key);
        if (!values.IsSequence())
          fail(values, key, "wrong type: got " + described(values) + "; expected a list of values");
        if (values.size() == 0) fail(values, key, "empty axis; expected at least one value");
        Axis axis;
        axis.kind = Axis::Kind::Grid;
        axis.paths = {path};
        axis.where = locate(key_node);
        for (const YAML::Node& v : values) {
          axis.settings.push_back({{path, value_of(spec, v, key)}});
          axis.value_where.push_back({locate(v)});
        }
        reject_duplicate_settings(axis, values, key);
        experiment_.axes.push_back(std::move(axis));
      });
}

void ExperimentReader::read_zip(const YAML::Node& node) {
  if (!node.IsSequence() || node.size() == 0)
    fail(node, "sweep.zip",
         "got " + described(node) +
             "; expected a list of groups, each a mapping of path: [values] of equal lengths");
  for (std::size_t g = 0; g < node.size(); ++g) {
    const YAML::Node group = node[g];
    const std::string where = "sweep.zip[" + std::to_string(g) + "]";
    if (!group.IsMap() || group.size() == 0)
      fail(group, where,
           "got " + described(group) + "; expected a mapping of path: [values] of equal lengths");
    Axis axis;
    axis.kind = Axis::Kind::Zip;
    axis.where = locate(group);
    std::vector<std::vector<Value>> columns;
    std::vector<std::vector<SourceLocation>> column_where;
    for_each_entry(
        group, where, [&](const std::string& path, const YAML::Node& key_node, const YAML::Node& values) {
          const std::string key = where + "." + path;
          const ParamSpec& spec = spec_for(path, key_node, key);
          claim(path, key_node, key);
          if (!values.IsSequence())
            fail(values, key, "wrong type: got " + described(values) + "; expected a list of values");
          if (values.size() == 0) fail(values, key, "empty axis; expected at least one value");
          if (!columns.empty() && values.size() != columns.front().size())
            fail(values, key,
                 "zip lists of unequal length: '" + path + "' has " + std::to_string(values.size()) +
                     " values but '" + axis.paths.front() + "' has " +
                     std::to_string(columns.front().size()) + "; expected equal lengths");
          std::vector<Value> column;
          std::vector<SourceLocation> where_column;
          for (const YAML::Node& v : values) {
            column.push_back(value_of(spec, v, key));
            where_column.push_back(locate(v));
          }
          axis.paths.push_back(path);
          columns.push_back(std::move(column));
          column_where.push_back(std::move(where_column));
        });
    for (std::size_t i = 0; i < columns.front().size(); ++i) {
      Setting setting;
      std::vector<SourceLocation> where;
      for (std::size_t c = 0; c < columns.size(); ++c) {
        setting.emplace_back(axis.paths[c], columns[c][i]);
        where.push_back(column_where[c][i]);
      }
      axis.settings.push_back(std::move(setting));
      axis.value_where.push_back(std::move(where));
    }
    reject_duplicate_settings(axis, group, where);
    experiment_.axes.push_back(std::move(axis));
  }
}

void ExperimentReader::read_points(const YAML::Node& node) {
  if (!node.IsSequence() || node.size() == 0)
    fail(node, "sweep.points",
         "got " + described(node) + "; expected a non-empty list of mappings path: value");
  Axis axis;
  axis.kind = Axis::Kind::Points;
  axis.where = locate(node);
  for (std::size_t i = 0; i < node.size(); ++i) {
    const YAML::Node point = node[i];
    const std::string where = "sweep.points[" + std::to_string(i) + "]";
    if (!point.IsMap())
      fail(point, where, "wrong type: got " + described(point) + "; expected a mapping path: value");
    Setting setting;
    std::vector<SourceLocation> setting_where;
    for_each_entry(point, where,
                   [&](const std::string& path, const YAML::Node& key_node, const YAML::Node& value) {
                     const std::string key = where + "." + path;
                     const ParamSpec& spec = spec_for(path, key_node, key);
                     claim(path, key_node, key);
                     if (std::find(axis.paths.begin(), axis.paths.end(), path) == axis.paths.end())
                       axis.paths.push_back(path);
                     setting.emplace_back(path, value_of(spec, value, key));
                     setting_where.push_back(locate(value));
                   });
    axis.settings.push_back(std::move(setting));
    axis.value_where.push_back(std::move(setting_where));
  }
  reject_duplicate_settings(axis, node, "sweep.points");
  experiment_.axes.push_back(std::move(axis));
}

Distribution ExperimentReader::read_distribution(const ParamSpec& spec, const YAML::Node& node,
                                                 const std::string& key) const {
  if (!node.IsMap() || node.size() != 1)
    fail(node, key,
         "got " + described(node) + "; expected one distribution: {" + join(kDistributionKeys) + ": ...}");
  const YAML::Node name_node = node.begin()->first;
  const YAML::Node args = node.begin()->second;
  const std::string name = text_of(name_node, key, "a distribution name");
  Distribution d;
  if (name == "choice") {
    d.kind = Distribution::Kind::Choice;
    if (!args.IsSequence() || args.size() == 0)
      fail(args, key, "got " + described(args) + "; expected a non-empty list of choices");
    for (const YAML::Node& v : args) d.choices.push_back(value_of(spec, v, key));
    return d;
  }
  if (name == "uniform")
    d.kind = Distribution::Kind::Uniform;
  else if (name == "log_uniform")
    d.kind = Distribution::Kind::LogUniform;
  else if (name == "int_uniform")
    d.kind = Distribution::Kind::IntUniform;
  else {
    const std::string guess = did_you_mean(name, kDistributionKeys);
    fail(name_node, key,
         "unknown distribution '" + name + "'" +
             (guess.empty() ? "; expected" : "; did you mean '" + guess + "'? Expected") + " one of " +
             join(kDistributionKeys));
  }
  const ValueType wanted = d.kind == Distribution::Kind::IntUniform ? ValueType::Int : ValueType::Real;
  if (spec.type != wanted)
    fail(name_node, key,
         name + " draws " + std::string(type_name(wanted)) + "s but '" + spec.path + "' is " +
             std::string(type_name(spec.type)) + "; expected " +
             (spec.type == ValueType::Int    ? "int_uniform or choice"
              : spec.type == ValueType::Real ? "uniform, log_uniform or choice"
                                             : "choice"));
  if (!args.IsSequence() || args.size() != 2)
    fail(args, key, "got " + described(args) + "; expected [low, high]");
  // The shape of the range first (its own mistake, whatever the parameter's bounds), then both
  // ends as values of the parameter, so that every draw is one.
  ParamSpec unbounded = spec;
  unbounded.min.reset();
  unbounded.max.reset();
  const Value low = value_of(unbounded, args[0], key);
  const Value high = value_of(unbounded, args[1], key);
  const auto as_double = [](const Value& v) {
    return std::holds_alternative<double>(v) ? std::get<double>(v)
                                             : static_cast<double>(std::get<std::int64_t>(v));
  };
  d.low = as_double(low);
  d.high = as_double(high);
  if (d.kind == Distribution::Kind::LogUniform && d.low <= 0)
    fail(args, key, "log_uniform low is " + display(low) + "; expected low > 0");
  if (d.low > d.high)
    fail(args, key, "low " + display(low) + " is above high " + display(high) + "; expected low <= high");
  value_of(spec, args[0], key);
  value_of(spec, args[1], key);
  if (d.kind == Distribution::Kind::IntUniform &&
      (std::abs(d.low) > 9007199254740992.0 || std::abs(d.high) > 9007199254740992.0))
    fail(args, key, "int_uniform bounds beyond 2^53; expected smaller bounds");
  return d;
}

void ExperimentReader::read_random(const YAML::Node& node) {
  if (!node.IsMap())
    fail(node, "sweep.random",
         "wrong type: got " + described(node) + "; expected a mapping with keys " + join(kRandomKeys));
  Axis axis;
  axis.kind = Axis::Kind::Random;
  axis.where = locate(node);
  axis.value_where.emplace_back();
  bool has_samples = false, has_seed = false, has_params = false;
  for_each_entry(
      node, "sweep.random", [&](const std::string& key, const YAML::Node& key_node, const YAML::Node& value) {
        if (key == "samples") {
          axis.samples = static_cast<std::uint64_t>(int_of(value, "sweep.random.samples", 1));
          has_samples = true;
        } else if (key == "seed") {
          axis.seed = static_cast<std::uint64_t>(
              std::get<std::int64_t>(value_of(seed_spec_, value, "sweep.random.seed")));
          has_seed = true;
        } else if (key == "params") {
          if (!value.IsMap() || value.size() == 0)
            fail(value, "sweep.random.params",
                 "got " + described(value) + "; expected a mapping of path: {distribution: ...}");
          has_params = true;
          for_each_entry(value, "sweep.random.params",
                         [&](const std::string& path, const YAML::Node& path_node, const YAML::Node& dist) {
                           const std::string full = "sweep.random.params." + path;
                           const ParamSpec& spec = spec_for(path, path_node, full);
                           claim(path, path_node, full);
                           axis.paths.push_back(path);
                           axis.distributions.emplace_back(path, read_distribution(spec, dist, full));
                           axis.value_where.front().push_back(locate(dist));
                         });
        } else {
          const std::string guess = did_you_mean(key, kRandomKeys);
          fail(key_node, "sweep.random." + key,
               "unknown key 'sweep.random." + key + "'" +
                   (guess.empty() ? "; expected one of " + join(kRandomKeys)
                                  : "; did you mean 'sweep.random." + guess + "'?"));
        }
      });
  if (!has_samples)
    fail(node, "sweep.random.samples", "missing required key; expected the number of samples");
  if (!has_params)
    fail(node, "sweep.random.params",
         "missing required key; expected a mapping of path: {distribution: ...}");
  if (!has_seed) random_axes_without_seed_.push_back(experiment_.axes.size());
  experiment_.axes.push_back(std::move(axis));
}

void ExperimentReader::apply_override(const std::string& text) {
  override_ = "--set '" + text + "'";
  const YAML::Node nowhere;
  const std::size_t eq = text.find('=');
  if (eq == std::string::npos || eq == 0)
    fail(nowhere, "", "malformed override; expected path=value, such as train.lr=0.01");
  const std::string path = text.substr(0, eq);
  YAML::Node value;
  try {
    value.reset(YAML::Load(text.substr(eq + 1)));
  } catch (const YAML::Exception& e) {
    fail(nowhere, path, "the value is not a YAML scalar (" + e.msg + "); expected a value");
  }
  if (path == "name") {
    experiment_.name = text_of(value, path, "a name of letters, digits, '_', '.' or '-'");
    if (!valid_name(experiment_.name))
      fail(value, path,
           "invalid name " + described(value) + "; expected a name of letters, digits, '_', '.' or '-'");
    name_given_ = true;
  } else if (path == "description") {
    experiment_.description = value.IsNull() ? "" : text_of(value, path, "a string");
  } else if (path == "output") {
    experiment_.output = text_of(value, path, "a file path");
    if (experiment_.output.empty()) fail(value, path, "empty output path; expected a file path");
    output_given_ = true;
  } else if (path == "checkpoint_s") {
    experiment_.checkpoint_s = seconds_of(value, path);
  } else if (path == "seed") {
    experiment_.seed = std::get<std::int64_t>(value_of(seed_spec_, value, path));
    unsweep(path, text);
  } else if (path == "kind") {
    fail(value, path, "the kind cannot be changed with --set; expected a parameter path");
  } else if (path == "sweep.repeats") {
    experiment_.repeats = static_cast<std::uint64_t>(int_of(value, path, 1));
  } else if (path == "sweep.max_points") {
    experiment_.max_points = static_cast<std::uint64_t>(int_of(value, path, 1));
  } else if (path == "sweep" || path.compare(0, 6, "sweep.") == 0) {
    fail(value, path,
         "sweep axes cannot be set with --set; expected sweep.repeats, sweep.max_points or a "
         "parameter path (edit the file to change axes)");
  } else if (const ParamSpec* spec = schema_->find(path)) {
    experiment_.base.set(path, value_of(*spec, value, path));
    experiment_.where[path] = SourceLocation{override_};
    unsweep(path, text);
  } else {
    std::vector<std::string> candidates = schema_paths();
    candidates.insert(candidates.end(), {"name", "description", "output", "checkpoint_s", "seed",
                                         "sweep.repeats", "sweep.max_points"});
    fail(value, path, unknown_path(path, candidates));
  }
  override_.clear();
}

// A --set of a swept path replaces its axis by the one value (nothing to do for a path no axis
// sweeps): the path leaves the axis, and an axis left with no path goes (finish() erases it, so that axis
// indices stay valid meanwhile).
void ExperimentReader::unsweep(const std::string& path, const std::string& text) {
  const auto swept = swept_.find(path);
  if (swept == swept_.end()) return;
  Axis& axis = experiment_.axes.at(swept->second.first);
  swept_.erase(swept);
  const std::string at = axis.where.str();
  const std::uint64_t positions = axis.size();
  axis.paths.erase(std::remove(axis.paths.begin(), axis.paths.end(), path), axis.paths.end());
  if (axis.kind == Axis::Kind::Random) {
    for (std::size_t j = axis.distributions.size(); j-- > 0;) {
      if (axis.distributions[j].first != path) continue;
      axis.distributions.erase(axis.distributions.begin() + static_cast<std::ptrdiff_t>(j));
      axis.value_where.front().erase(axis.value_where.front().begin() + static_cast<std::ptrdiff_t>(j));
    }
  } else {
    for (std::size_t i = 0; i < axis.settings.size(); ++i) {
      for (std::size_t j = axis.settings[i].size(); j-- > 0;) {
        if (axis.settings[i][j].first != path) continue;
        axis.settings[i].erase(axis.settings[i].begin() + static_cast<std::ptrdiff_t>(j));
        axis.value_where[i].erase(axis.value_where[i].begin() + static_cast<std::ptrdiff_t>(j));
      }
    }
    // What is left of a zip group or a points list must still name distinct points.
    if (!axis.paths.empty() && first_repeated_position(axis))
      throw ConfigError(SourceLocation{override_}, path,
                        "'" + path + "' is swept together with " + join(axis.paths) + " at " + at +
                            ", and without it two positions of that axis are the same point; "
                            "expected a path swept alone, or an edit of the file");
  }
  experiment_.notes.push_back("--set " + text + " replaces the sweep axis of '" + path + "' at " + at + " (" +
                              std::to_string(positions) + " values) by its one value");
}

void ExperimentReader::finish(const YAML::Node& root) {
  experiment_.axes.erase(std::remove_if(experiment_.axes.begin(), experiment_.axes.end(),
                                        [](const Axis& axis) { return axis.paths.empty(); }),
                         experiment_.axes.end());
  if (!name_given_)
    fail(root, "name",
         "missing required key 'name'; expected a name of letters, digits, '_', "
         "'.' or '-'");
  if (!output_given_) experiment_.output = "results/" + experiment_.name + ".h5";
  experiment_.base.set("seed", experiment_.seed);
  // A random axis without its own seed follows the experiment's: --set seed=N redraws it.
  for (const std::size_t a : random_axes_without_seed_)
    experiment_.axes[a].seed = static_cast<std::uint64_t>(experiment_.seed);

  const YAML::Node sweep_at = has_sweep_ ? sweep_node_ : root;
  if (swept_.count("seed") && experiment_.repeats > 1)
    fail(sweep_at, "sweep.repeats",
         "repeats is " + std::to_string(experiment_.repeats) +
             " but an axis sweeps 'seed' itself; expected repeats: 1 when 'seed' is swept");
  std::int64_t last_seed = 0;
  if (__builtin_add_overflow(experiment_.seed, static_cast<std::int64_t>(experiment_.repeats - 1),
                             &last_seed))
    fail(sweep_at, "sweep.repeats", "seed + repeats overflows a 64-bit int; expected a smaller seed");

  // A parameter without a default must get a value in every point.
  for (const ParamSpec& spec : schema_->specs()) {
    if (has_default(spec) || experiment_.base.contains(spec.path)) continue;
    bool always_set = false;
    for (const Axis& axis : experiment_.axes) {
      if (std::find(axis.paths.begin(), axis.paths.end(), spec.path) == axis.paths.end()) continue;
      always_set = true;
      if (axis.kind == Axis::Kind::Points)
        for (const Setting& s : axis.settings)
          always_set = always_set && std::any_of(s.begin(), s.end(),
                                                 [&](const auto& entry) { return entry.first == spec.path; });
    }
    if (!always_set)
      fail(root, spec.path,
           "missing required key '" + spec.path + "' (it has no default); expected " + expectation(spec) +
               " in section '" + first_component(spec.path) + "'");
  }

  // The product is checked for overflow factor by factor and never materialised.
  std::uint64_t total = experiment_.repeats;
  bool overflow = false;
  std::string factors;
  for (const Axis& axis : experiment_.axes) {
    overflow = overflow || __builtin_mul_overflow(total, axis.size(), &total);
    factors += std::to_string(axis.size()) + " x ";
  }
  factors += std::to_string(experiment_.repeats) + " repeats";
  if (overflow || total > experiment_.max_points)
    fail(sweep_at, "sweep",
         "the sweep has " + (overflow ? std::string("more than 2^64") : std::to_string(total)) + " points (" +
             factors + "); expected at most max_points = " + std::to_string(experiment_.max_points) +
             " (raise sweep.max_points if intended)");
}

}  // namespace

SourceLocation Experiment::where_of(const std::string& path_) const {
  const auto found = where.find(path_);
  return found != where.end() ? found->second : SourceLocation{path};
}

SourceLocation Axis::where_of(const std::string& path, std::uint64_t i) const {
  if (kind == Kind::Random) {
    for (std::size_t j = 0; j < distributions.size(); ++j)
      if (distributions[j].first == path && !value_where.empty() && j < value_where.front().size())
        return value_where.front()[j];
    return where;
  }
  if (i < settings.size() && i < value_where.size())
    for (std::size_t j = 0; j < settings[i].size() && j < value_where[i].size(); ++j)
      if (settings[i][j].first == path) return value_where[i][j];
  return where;
}

Experiment parse_experiment(const std::string& text, const std::string& path,
                            const std::vector<std::string>& overrides,
                            const std::map<std::string, Schema>& schemas) {
  return ExperimentReader(path, schemas).read(text, overrides);
}

Experiment load_experiment(const std::string& path, const std::vector<std::string>& overrides,
                           const std::map<std::string, Schema>& schemas) {
  namespace fs = std::filesystem;
  const SourceLocation at{path};
  std::error_code ec;
  const fs::file_status status = fs::status(path, ec);
  if (ec || !fs::exists(status)) throw ConfigError(at, "", "no such file; expected a YAML experiment file");
  if (fs::is_directory(status))
    throw ConfigError(at, "", "this is a directory; expected a YAML experiment file");
  if (!fs::is_regular_file(status))
    throw ConfigError(at, "", "not a regular file; expected a YAML experiment file");
  const std::uintmax_t size = fs::file_size(path, ec);
  if (!ec && size > kMaxFileBytes)
    throw ConfigError(at, "",
                      "the file is too big (" + std::to_string(size) +
                          " bytes); expected a YAML experiment of at most 1 MiB");
  std::ifstream in(path, std::ios::binary);
  if (!in) throw ConfigError(at, "", "cannot open the file for reading; expected a readable file");
  // Read at most one byte past the limit: a file that grows meanwhile is still refused.
  std::string text(kMaxFileBytes + 1, '\0');
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  if (in.bad()) throw ConfigError(at, "", "read error; expected a readable file");
  text.resize(static_cast<std::size_t>(in.gcount()));
  return parse_experiment(text, path, overrides, schemas);
}

}  // namespace xbarsweep::config
