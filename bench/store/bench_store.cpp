// Costs of the results store at sweep scale: encoding + journaling 10^5 small records, publishing
// and reading back a 10^5-point snapshot. Prints CPU and wall seconds; fsync counts are printed
// beside them because their cost depends on the filesystem, not on this code.
//
// Usage: bench_store [points=100000] [dir=/tmp]

#include <time.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <string>

#include "xbarsweep/store/results_store.hpp"

namespace {

using namespace xbarsweep::store;

double cpu_seconds() {
  timespec t{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) + 1e-9 * static_cast<double>(t.tv_nsec);
}

double wall_seconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

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

struct Timer {
  double cpu0 = cpu_seconds(), wall0 = wall_seconds();
  void report(const char* what, std::size_t n) const {
    const double cpu = cpu_seconds() - cpu0, wall = wall_seconds() - wall0;
    std::printf("%-44s cpu %7.3f s  wall %7.3f s  (%6.2f us cpu/point)\n", what, cpu, wall,
                1e6 * cpu / static_cast<double>(n));
  }
};

}  // namespace

int main(int argc, char** argv) {
  const std::size_t n = argc > 1 ? std::stoul(argv[1]) : 100000;
  const std::string dir = argc > 2 ? argv[2] : "/tmp";
  const std::string path = dir + "/bench_store." + std::to_string(::getpid()) + ".h5";
  RunInfo info;
  info.experiment = "bench";
  info.kind = "synthetic";
  info.config_text = "experiment: bench\n";
  info.swept_paths = {"train.lr", "seed"};
  info.planned_points = n;

  std::vector<PointRecord> records;
  records.reserve(n);
  for (std::size_t i = 0; i < n; ++i) records.push_back(small_record(i));
  std::printf("store bench: %zu points (10 params, 5 metrics) in %s\n", n, dir.c_str());
  try {
    {
      {
        Timer e;
        std::size_t bytes = 0;
        for (const auto& rec : records) bytes += encode(rec).size();
        e.report("encode only", n);
        std::printf("  %.0f bytes/record\n", static_cast<double>(bytes) / static_cast<double>(n));
      }
      ResultsWriter w(path, info);
      const std::size_t syncs = 100;
      std::vector<PointRecord> moved = records;  // the engine moves its records in
      Timer t;
      for (std::size_t i = 0; i < n; ++i) {
        w.append(std::move(moved[i]));
        if ((i + 1) % (n / syncs) == 0) w.sync();
      }
      w.sync();
      char what[80];
      std::snprintf(what, sizeof what, "append + journal (%zu fdatasyncs)", syncs);
      t.report(what, n);
      std::printf("  journal: %.1f MB\n",
                  static_cast<double>(std::filesystem::file_size(path + ".journal")) / 1e6);

      Timer p;
      w.publish();
      p.report("publish snapshot (write+fsync+rename)", n);
      std::printf("  snapshot: %.1f MB\n", static_cast<double>(std::filesystem::file_size(path)) / 1e6);

      w.append(small_record(n));
      Timer p2;
      w.publish();
      p2.report("publish again after one more point", n + 1);
    }
    {
      Timer r;
      const Results results = read_results(path);
      r.report("read_results (snapshot)", results.points.size());
    }
    {
      // The worst case for a restart: everything still in the journal.
      ResultsWriter w(path + ".j", info);
      for (const auto& rec : records) w.append(rec);
      w.sync();
      Timer r;
      const Results results = read_results(path + ".j");
      r.report("read_results (journal replay only)", results.points.size());
      // leave without publishing: drop the journal below
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_store: %s\n", e.what());
    return 1;
  }
  for (const char* suffix : {"", ".journal", ".lock", ".j", ".j.journal", ".j.lock"})
    std::filesystem::remove(path + suffix);
  return 0;
}
