// Costs of the results store at sweep scale: encoding + journaling 10^5 small records, publishing
// and reading back a 10^5-point snapshot, one Google Benchmark benchmark per step, each building
// what it starts from outside its timer. Google Benchmark prints wall ("Time") and CPU time per
// step, and the CPU time per point; the journal's fdatasync count is printed beside it (counter
// `fdatasyncs`; a publish is one fsync) because their cost depends on the filesystem, not on this
// code. No figure line: nothing here has a baseline.
//
// Usage: bench_store [--points=100000] [--dir=/tmp] [--reps=1] [Google Benchmark flags]

#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "bench_figures.hpp"
#include "xbarsweep/store/results_store.hpp"

namespace {

using namespace xbarsweep::store;

/// 10 params, 5 metrics: the "small record" of the requirements.
PointRecord small_record(std::uint64_t i) {
  PointRecord r;
  r.id = std::to_string(1000000000000000ull + i);
  r.index = i;
  r.rank = static_cast<std::int32_t>(i % 64);
  r.host = "node" + std::to_string(i % 16);
  r.start_time = 1.7e9 + static_cast<double>(i);
  r.end_time = r.start_time + 1.5;
  r.params.set("train.lr", 1e-3 * static_cast<double>(i % 7 + 1));
  r.params.set("train.epochs", std::int64_t(10));
  r.params.set("train.batch", std::int64_t(64));
  r.params.set("model.name", std::string(i % 2 ? "vgg16" : "resnet18"));
  r.params.set("model.width", std::int64_t(16 << (i % 3)));
  r.params.set("crossbar.size", std::int64_t(128));
  r.params.set("crossbar.ideal", i % 2 == 0);
  r.params.set("crossbar.noise", 0.01 * static_cast<double>(i % 4));
  r.params.set("compress.rho", 0.5);
  r.params.set("seed", std::int64_t(i));
  r.metrics["accuracy"] = 0.9;
  r.metrics["loss"] = 0.3;
  r.metrics["energy_nj"] = 12.5;
  r.metrics["latency_us"] = 3.25;
  r.metrics["area_mm2"] = 0.125;
  return r;
}

/// The files of one results store, removed at construction and destruction.
struct StoreFiles {
  std::string path;
  explicit StoreFiles(std::string p) : path(std::move(p)) { remove(); }
  ~StoreFiles() { remove(); }
  void remove() const {
    for (const char* suffix : {"", ".journal", ".lock"}) std::filesystem::remove(path + suffix);
  }
  double megabytes(const char* suffix = "") const {
    return static_cast<double>(std::filesystem::file_size(path + suffix)) / 1e6;
  }
};

/// The steps timed, each on the same records, each a benchmark `store/<step>`.
struct StoreBench {
  std::vector<PointRecord> records;
  RunInfo info;
  std::string path;
  static constexpr std::size_t kSyncs = 100;

  double points() const { return static_cast<double>(records.size()); }

  // CPU seconds per point (Google Benchmark divides a rate by the CPU time, the benchmark not
  // being registered with UseRealTime(); inverted).
  void count_points(benchmark::State& s) const {
    s.counters["cpu_s_per_point"] =
        benchmark::Counter(points(), benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
  }

  // Opens \p w on \p files holding every record, synced to the journal (untimed: the caller
  // pauses the timer).
  void fill(std::optional<ResultsWriter>& w, const StoreFiles& files) const {
    w.emplace(files.path, info);
    for (const auto& rec : records) w->append(rec);
    w->sync();
  }

  void encode_only(benchmark::State& s) const {
    std::size_t bytes = 0;
    for (auto _ : s) {
      bytes = 0;
      for (const auto& rec : records) bytes += encode(rec).size();
      benchmark::DoNotOptimize(bytes);
    }
    s.counters["bytes_per_record"] = static_cast<double>(bytes) / points();
    count_points(s);
  }

  void append_and_journal(benchmark::State& s) const {
    const StoreFiles files(path);
    double journal_mb = 0;
    for (auto _ : s) {
      s.PauseTiming();
      files.remove();
      std::optional<ResultsWriter> w(std::in_place, files.path, info);
      std::vector<PointRecord> moved = records;  // the engine moves its records in
      const std::size_t n = moved.size(), every = std::max<std::size_t>(1, n / kSyncs);
      s.ResumeTiming();
      for (std::size_t i = 0; i < n; ++i) {
        w->append(std::move(moved[i]));
        if ((i + 1) % every == 0) w->sync();
      }
      w->sync();
      s.PauseTiming();
      journal_mb = files.megabytes(".journal");
      w.reset();  // publishes: not this step's cost
      s.ResumeTiming();
    }
    s.counters["fdatasyncs"] = static_cast<double>(kSyncs);
    s.counters["journal_MB"] = journal_mb;
    count_points(s);
  }

  // Publishing the snapshot (write + fsync + rename) of a writer holding every record, or, with
  // \p again, of one that has published them already and got one more point since.
  void publish(benchmark::State& s, bool again) const {
    const StoreFiles files(path);
    double snapshot_mb = 0;
    for (auto _ : s) {
      s.PauseTiming();
      files.remove();
      std::optional<ResultsWriter> w;
      fill(w, files);
      if (again) {
        w->publish();
        w->append(small_record(records.size()));
      }
      s.ResumeTiming();
      w->publish();
      s.PauseTiming();
      snapshot_mb = files.megabytes();
      w.reset();
      s.ResumeTiming();
    }
    s.counters["snapshot_MB"] = snapshot_mb;
    count_points(s);
  }

  // read_results() of a published snapshot, or, with \p journal_only, of a store whose records
  // are all still in the journal (the worst case for a restart), its writer still open.
  void read_back(benchmark::State& s, bool journal_only) const {
    const StoreFiles files(path);
    std::optional<ResultsWriter> w;
    fill(w, files);
    if (!journal_only) w.reset();  // publishes the snapshot, empties the journal
    std::size_t read = 0;
    for (auto _ : s) {
      const Results results = read_results(files.path);
      read = results.points.size();
    }
    if (read != records.size()) s.SkipWithError("read_results returned a different number of points");
    count_points(s);
  }
};

}  // namespace

int main(int argc, char** argv) {
  auto args = xbarsweep::bench::initialize(
      argc, argv,
      {"--benchmark_repetitions=1", "--benchmark_min_time=0.001",  // one pass, as a sweep does
       "--benchmark_enable_random_interleaving=false"});           // the steps in a sweep's order
  const auto n = static_cast<std::size_t>(xbarsweep::bench::take_option(args, "--points", 100000));
  const std::string dir = xbarsweep::bench::take_option(args, "--dir", std::string("/tmp"));
  xbarsweep::bench::require_no_arguments_left(args, argv[0], "[--points=100000] [--dir=/tmp] [--reps=1]");
  if (!std::filesystem::is_directory(dir)) {
    std::fprintf(stderr, "%s: --dir=%s: not a directory\n", argv[0], dir.c_str());
    return 2;
  }

  StoreBench bench;
  bench.path = dir + "/bench_store." + std::to_string(::getpid()) + ".h5";
  bench.info.experiment = "bench";
  bench.info.kind = "synthetic";
  bench.info.config_text = "experiment: bench\n";
  bench.info.swept_paths = {"train.lr", "seed"};
  bench.info.planned_points = n;
  bench.records.reserve(n);
  for (std::size_t i = 0; i < n; ++i) bench.records.push_back(small_record(i));
  std::printf("store bench: %zu points (10 params, 5 metrics) in %s\n", n, dir.c_str());
  std::fflush(stdout);

  const auto add = [&](const char* name, auto step) {
    benchmark::RegisterBenchmark(name, [&bench, step](benchmark::State& s) {
      try {
        step(bench, s);
      } catch (const std::exception& e) {
        s.SkipWithError(e.what());
      }
    })->Unit(benchmark::kMillisecond);
  };
  add("store/encode_only", [](const StoreBench& b, benchmark::State& s) { b.encode_only(s); });
  add("store/append_and_journal", [](const StoreBench& b, benchmark::State& s) { b.append_and_journal(s); });
  add("store/publish_snapshot", [](const StoreBench& b, benchmark::State& s) { b.publish(s, false); });
  add("store/publish_again_after_one_more_point",
      [](const StoreBench& b, benchmark::State& s) { b.publish(s, true); });
  add("store/read_results_snapshot", [](const StoreBench& b, benchmark::State& s) { b.read_back(s, false); });
  add("store/read_results_journal_replay_only",
      [](const StoreBench& b, benchmark::State& s) { b.read_back(s, true); });
  xbarsweep::bench::MedianReporter reporter;
  benchmark::RunSpecifiedBenchmarks(&reporter);
  benchmark::Shutdown();
  return reporter.errors() == 0 ? 0 : 1;
}
