// Writes the results files that load_with_h5py.py reads: <dir>/sample.h5 (every column kind)
// and <dir>/empty.h5 (no points). Usage: store_write_sample <dir>
// With --read <file>: reads a results file; exit 0 if it loads, 3 on CorruptResultsError.

#include <cstdio>
#include <limits>

#include "store_test_support.hpp"
#include "xbarsweep/store/results_store.hpp"

int main(int argc, char** argv) {
  using namespace xbarsweep::store;
  if (argc == 3 && std::string(argv[1]) == "--read") {
    try {
      const Results results = read_results(argv[2]);
      std::printf("%zu points\n", results.points.size());
      return 0;
    } catch (const CorruptResultsError& e) {
      std::printf("corrupt: %s\n", e.what());
      return 3;
    } catch (const std::exception& e) {
      std::printf("error: %s\n", e.what());
      return 1;
    }
  }
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s <dir>\n", argv[0]);
    return 2;
  }
  const std::string dir = argv[1];
  RunInfo info;
  info.experiment = "h5py-check";
  info.kind = "synthetic";
  info.config_text = "experiment: h5py-check\n";
  info.versions = {{"xbarsweep", "0.1.0"}};
  info.swept_paths = {"train.lr", "seed"};
  info.planned_points = 3;
  try {
    {
      ResultsWriter w(dir + "/sample.h5", info);
      for (std::uint64_t i = 0; i < 3; ++i) {
        PointRecord r = test_support::sample_record(i);
        if (i == 1) {
          r.status = PointStatus::Failed;
          r.error = "diverged";
          r.metrics.erase("loss");
          r.params.set("mixed", std::string("relu"));
          r.arrays.clear();
        } else {
          r.params.set("mixed", std::int64_t(i));
        }
        if (i == 2) r.params.set("only.two", 2.5);
        w.append(r);
      }
      w.publish();
    }
    {
      ResultsWriter w(dir + "/empty.h5", info);
      w.publish();
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s\n", e.what());
    return 1;
  }
  return 0;
}
