#pragma once
// Google Benchmark glue shared by the programs in bench/*/: start it with the program's own
// defaults (any --benchmark_* flag on the command line overrides them), keep each benchmark's
// median time from the run, and print figures as `name: value (note)`, the lines scripts/bench.sh
// collects. A figure is a ratio of two medians of the same run, never a stored number.
#include <benchmark/benchmark.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace xbarsweep::bench {

/// \brief Initialises Google Benchmark.
///
/// The flags passed to Google Benchmark are, in order: random interleaving of repetitions (so that
/// a thing and its baseline alternate and drift in the machine's load favours neither), display of
/// the aggregates only, the program's \p defaults, then the command line's arguments, so that a
/// flag given there wins. `--reps=N` is short for `--benchmark_repetitions=N`.
/// \return the arguments Google Benchmark did not take (the program's own options), less the
/// `--kokkos-*` ones, which Kokkos reads from the unchanged \p argv.
inline std::vector<std::string> initialize(int argc, char** argv, const std::vector<std::string>& defaults) {
  static std::vector<std::string> storage;  // Google Benchmark may keep pointers into argv
  storage = {"--benchmark_enable_random_interleaving=true", "--benchmark_display_aggregates_only=true"};
  storage.insert(storage.end(), defaults.begin(), defaults.end());
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    storage.push_back(a.rfind("--reps=", 0) == 0 ? "--benchmark_repetitions=" + a.substr(7) : a);
  }
  static std::vector<char*> args;
  args = {argv[0]};
  for (auto& s : storage) args.push_back(s.data());
  int n = static_cast<int>(args.size());
  benchmark::Initialize(&n, args.data());
  std::vector<std::string> left;
  for (int i = 1; i < n; ++i) {
    if (std::string(args[i]).rfind("--kokkos-", 0) != 0) left.emplace_back(args[i]);
  }
  return left;
}

/// \brief Takes the option `--name=value` out of \p args (the last one given wins); none when absent.
inline std::optional<std::string> take_text(std::vector<std::string>& args, const std::string& name) {
  const std::string prefix = name + "=";
  std::optional<std::string> value;
  for (auto it = args.begin(); it != args.end();) {
    if (it->rfind(prefix, 0) == 0) {
      value = it->substr(prefix.size());
      it = args.erase(it);
    } else {
      ++it;
    }
  }
  return value;
}

/// \brief Takes the option `--name=value` out of \p args; \p fallback when absent.
inline std::string take_option(std::vector<std::string>& args, const std::string& name,
                               const std::string& fallback) {
  return take_text(args, name).value_or(fallback);
}

/// \brief Takes the integer option `--name=value` out of \p args; \p fallback when absent.
/// Exits with status 2 when the value is not a positive integer.
inline long take_option(std::vector<std::string>& args, const std::string& name, long fallback) {
  const std::optional<std::string> text = take_text(args, name);
  if (!text) return fallback;
  char* end = nullptr;
  const long value = std::strtol(text->c_str(), &end, 10);
  if (end == text->c_str() || *end != '\0' || value <= 0) {
    std::fprintf(stderr, "%s: expected a positive integer, got '%s'\n", name.c_str(), text->c_str());
    std::exit(2);
  }
  return value;
}

/// \brief Exits with status 2 and \p usage when arguments are left that nothing took.
inline void require_no_arguments_left(const std::vector<std::string>& args, const char* program,
                                      const char* usage) {
  if (args.empty()) return;
  std::fprintf(stderr,
               "%s: unknown argument '%s'\nusage: %s %s\n  (and any Google Benchmark flag: %s --help)\n",
               program, args.front().c_str(), program, usage, program);
  std::exit(2);
}

/// \brief Google Benchmark's console output, plus each benchmark's median real time (manual time
/// for benchmarks registered with UseManualTime()) in seconds per iteration, keyed by the name
/// the benchmark was registered under.
class MedianReporter : public benchmark::ConsoleReporter {
 public:
  MedianReporter() : ConsoleReporter(::isatty(STDOUT_FILENO) ? OO_Color : OO_None) {}

  void ReportRuns(const std::vector<Run>& runs) override {
    for (const Run& run : runs) {
      if (run.error_occurred) ++errors_;
      if (run.error_occurred || run.iterations <= 0) continue;
      const std::string& name = run.run_name.function_name;
      // Both kinds hold accumulated seconds over `iterations` (for an aggregate, the statistic
      // over the repetitions times their count).
      const double s = run.real_accumulated_time / static_cast<double>(run.iterations);
      if (run.run_type == Run::RT_Iteration) {
        per_repetition_s_[name].push_back(s);
      } else if (run.aggregate_name == "median") {
        median_s_[name] = s;
      }
    }
    ConsoleReporter::ReportRuns(runs);
  }

  /// \brief Median seconds per iteration of benchmark \p name over this run's repetitions; none
  /// when it did not run (filtered out, or skipped with an error).
  std::optional<double> median_s(const std::string& name) const {
    if (const auto it = median_s_.find(name); it != median_s_.end()) return it->second;
    const auto it = per_repetition_s_.find(name);
    if (it == per_repetition_s_.end() || it->second.empty()) return std::nullopt;
    auto v = it->second;
    std::sort(v.begin(), v.end());
    const std::size_t n = v.size();
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
  }

  /// \brief How many runs were skipped with an error.
  int errors() const { return errors_; }

 private:
  int errors_ = 0;
  std::map<std::string, double> median_s_;
  std::map<std::string, std::vector<double>> per_repetition_s_;
};

/// \brief num / den, or none when either is missing.
inline std::optional<double> ratio(std::optional<double> num, std::optional<double> den) {
  if (!num || !den || *den <= 0.0) return std::nullopt;
  return *num / *den;
}

/// \brief A value scaled by \p factor, or none.
inline std::optional<double> scaled(std::optional<double> v, double factor) {
  if (!v) return std::nullopt;
  return *v * factor;
}

/// \brief Prints the figure line `name: value (note)` with \p decimals digits, or
/// `name: n/a (note)` when a benchmark it needs did not run.
inline void print_figure(const char* name, std::optional<double> value, int decimals,
                         const std::string& note) {
  if (value) {
    std::printf("%s: %.*f (%s)\n", name, decimals, *value, note.c_str());
  } else {
    std::printf("%s: n/a (%s)\n", name, note.c_str());
  }
}

}  // namespace xbarsweep::bench
