// Validation of CrossbarConfig (no dependency on the config library's definitions).
#include "xbarsweep/crossbar/config.hpp"

#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <sstream>
#include <string>

#include "xbarsweep/error.hpp"

namespace xbarsweep::crossbar {

int CrossbarConfig::input_planes() const {
  if (dac_bits <= 0) return 1;
  const int total = effective_input_bits();
  return (total + dac_bits - 1) / dac_bits;
}

CodeMapping code_mapping(const CrossbarConfig& c) {
  CodeMapping m;
  m.quantized = c.levels > 0;
  m.differential = c.mapping == Mapping::Differential;
  m.levels = m.quantized ? c.levels : 1;
  m.codes = 1;
  m.factor_sum = 0.0;
  for (int s = 0; s < (m.quantized ? c.slices : 1); ++s) {
    m.factor_sum += static_cast<double>(m.codes);
    m.codes *= m.levels;
  }
  if (!m.quantized) m.codes = 2;
  // differential: magnitude code in [0, q_top]; offset: signed code in [-q_top, q_top] + q_top
  m.q_top = m.quantized ? (m.differential ? double(m.codes - 1) : double((m.codes - 1) / 2))
                        : (m.differential ? 1.0 : 0.5);
  m.unit = m.quantized ? (c.g_max_us - c.g_min_us) / double(m.levels - 1) : (c.g_max_us - c.g_min_us);
  return m;
}

double CrossbarConfig::drift_log_time(double t) const {
  if (drift == Drift::None || !(t > drift_t0)) return 0.0;
  return std::log(t / drift_t0);
}

double CrossbarConfig::read_noise_gain(double t) const {
  return 1.0 + drift_read_noise_growth * drift_log_time(t);
}

namespace {

// The entries of a comma-separated list of times, or the problem with the first bad one.
std::vector<double> parse_times(const std::string& text, std::string& problem) {
  std::vector<double> out;
  std::istringstream items(text);
  std::string item;
  while (std::getline(items, item, ',')) {
    const auto first = item.find_first_not_of(" \t"), last = item.find_last_not_of(" \t");
    if (first == std::string::npos) {
      problem =
          "has an empty entry; expected seconds after programming separated by commas, e.g. \"1, "
          "3600, 86400, 3.15e7\"";
      return {};
    }
    const std::string word = item.substr(first, last - first + 1);
    char* end = nullptr;
    const double t = std::strtod(word.c_str(), &end);
    if (end != word.c_str() + word.size() || !(t >= 0.0) || !std::isfinite(t)) {
      problem =
          "entry '" + word + "' is not a number of seconds >= 0; expected e.g. \"1, 3600, 86400, 3.15e7\"";
      return {};
    }
    out.push_back(t);
  }
  return out;
}

}  // namespace

std::vector<double> CrossbarConfig::drift_time_list() const {
  std::string problem;
  auto times = parse_times(drift_times, problem);
  if (!problem.empty()) throw CrossbarError("crossbar.drift_times: " + problem);
  return times;
}

namespace {

std::optional<config::Problem> problem_if(bool bad, const char* key, const std::string& message) {
  if (!bad) return std::nullopt;
  return config::Problem{key, message};
}

std::string text(double v) {
  std::ostringstream out;
  out << v;
  return out.str();
}

}  // namespace

std::optional<config::Problem> CrossbarConfig::problem() const {
  std::optional<config::Problem> p;
  const auto first = [&p](std::optional<config::Problem> q) {
    if (!p) p = std::move(q);
  };
  first(problem_if(rows < 1, "crossbar.rows", "is " + std::to_string(rows) + "; expected >= 1"));
  first(problem_if(cols < 1, "crossbar.cols", "is " + std::to_string(cols) + "; expected >= 1"));
  first(problem_if(levels == 1 || levels < 0, "crossbar.levels",
                   "is " + std::to_string(levels) +
                       ": a cell of one level stores nothing; expected 0 (unlimited) or at least 2"));
  first(problem_if(slices < 1, "crossbar.slices", "is " + std::to_string(slices) + "; expected >= 1"));
  first(problem_if(levels == 0 && slices != 1, "crossbar.slices",
                   "is " + std::to_string(slices) +
                       " with crossbar.levels 0 (unlimited): slicing needs cells of finite levels; expected "
                       "slices 1, or crossbar.levels >= 2"));
  if (levels > 1) {
    double codes = 1.0;
    for (int s = 0; s < slices; ++s) codes *= levels;
    first(problem_if(codes > 16777216.0, "crossbar.slices",
                     "crossbar.levels^crossbar.slices = " + text(codes) +
                         " codes exceed 2^24 (float-exact codes); expected fewer slices or levels"));
  }
  first(problem_if(!(g_min_us >= 0.0), "crossbar.g_min_us", "is " + text(g_min_us) + "; expected >= 0"));
  first(problem_if(!(g_max_us > g_min_us), "crossbar.g_min_us",
                   "is " + text(g_min_us) + " with crossbar.g_max_us " + text(g_max_us) +
                       "; expected g_min_us < g_max_us"));
  first(problem_if(!(sigma >= 0.0), "crossbar.sigma", "is " + text(sigma) + "; expected >= 0"));
  first(
      problem_if(!(prog_noise >= 0.0), "crossbar.prog_noise", "is " + text(prog_noise) + "; expected >= 0"));
  first(
      problem_if(!(read_noise >= 0.0), "crossbar.read_noise", "is " + text(read_noise) + "; expected >= 0"));
  first(
      problem_if(!(stuck_min_rate >= 0.0 && stuck_max_rate >= 0.0 && stuck_min_rate + stuck_max_rate <= 1.0),
                 "crossbar.stuck_max_rate",
                 "is " + text(stuck_max_rate) + " with crossbar.stuck_min_rate " + text(stuck_min_rate) +
                     ": more than every device stuck; expected rates >= 0 with a sum <= 1"));
  first(problem_if(!(wire_ohm >= 0.0), "crossbar.wire_ohm", "is " + text(wire_ohm) + "; expected >= 0"));
  first(problem_if(dac_bits < 0 || dac_bits > 16, "crossbar.dac_bits",
                   "is " + std::to_string(dac_bits) + "; expected 0..16"));
  first(problem_if(input_bits < 0 || input_bits > 24, "crossbar.input_bits",
                   "is " + std::to_string(input_bits) + "; expected 0..24"));
  first(problem_if(input_bits > 0 && dac_bits == 0, "crossbar.input_bits",
                   "is " + std::to_string(input_bits) +
                       " with ideal inputs (crossbar.dac_bits 0), where it has no effect; expected "
                       "crossbar.dac_bits >= 1, or input_bits 0"));
  first(problem_if(adc_bits < 0 || adc_bits > 24, "crossbar.adc_bits",
                   "is " + std::to_string(adc_bits) + "; expected 0..24"));
  first(problem_if(!(drift_nu_mean >= 0.0 && drift_nu_std >= 0.0), "crossbar.drift_nu_std",
                   "is " + text(drift_nu_std) + " with crossbar.drift_nu_mean " + text(drift_nu_mean) +
                       "; expected both >= 0"));
  first(problem_if(!(drift_t0 > 0.0), "crossbar.drift_t0", "is " + text(drift_t0) + " s; expected > 0"));
  first(problem_if(!(t_inference >= 0.0), "crossbar.t_inference",
                   "is " + text(t_inference) + " s; expected >= 0 (seconds after programming)"));
  {
    std::string bad;
    parse_times(drift_times, bad);
    first(problem_if(!bad.empty(), "crossbar.drift_times", bad));
    first(problem_if(!drift_times.empty() && bad.empty() && drift == Drift::None, "crossbar.drift_times",
                     "is \"" + drift_times +
                         "\" with crossbar.drift none, where every read is the same; expected crossbar.drift "
                         "power_law or pcm, or no drift_times"));
  }
  first(problem_if(!(drift_read_noise_growth >= 0.0), "crossbar.drift_read_noise_growth",
                   "is " + text(drift_read_noise_growth) + "; expected >= 0"));
  return p;
}

void CrossbarConfig::validate() const {
  if (const auto p = problem()) throw CrossbarError(p->key + ": " + p->message);
}

}  // namespace xbarsweep::crossbar
