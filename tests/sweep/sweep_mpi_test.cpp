// The sweep engine at 1, 2 and 4 ranks, on the synthetic kind: every point exactly once,
// failures recorded, resume computes only what is missing, shards partition the plan.
#include <gtest/gtest.h>
#include <mpi.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <set>

#include "xbarsweep/config/experiment.hpp"
#include "xbarsweep/config/sweep_plan.hpp"
#include "xbarsweep/kinds/builtin.hpp"
#include "xbarsweep/kinds/kind.hpp"
#include "xbarsweep/store/results_store.hpp"
#include "xbarsweep/sweep/runner.hpp"

namespace xs = xbarsweep;
namespace fs = std::filesystem;

namespace {

int rank() {
  int r = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &r);
  return r;
}

/// A directory every rank agrees on, fresh for each test.
std::string shared_dir(const std::string& name) {
  char buf[512] = {};
  if (rank() == 0) {
    const fs::path dir =
        fs::temp_directory_path() / ("xbarsweep-sweep-test-" + std::to_string(getpid()) + "-" + name);
    fs::remove_all(dir);
    fs::create_directories(dir);
    std::snprintf(buf, sizeof buf, "%s", dir.c_str());
  }
  MPI_Bcast(buf, sizeof buf, MPI_CHAR, 0, MPI_COMM_WORLD);
  return buf;
}

xs::config::Experiment experiment(const std::string& body) {
  const std::string text = "name: t\nkind: synthetic\nseed: 3\n" + body;
  return xs::config::parse_experiment(text, "test.yaml", {}, xs::kinds::builtin_kinds().schemas());
}

xs::sweep::RunSummary run(const xs::config::Experiment& e, const std::string& out,
                          xs::sweep::Shard shard = {}, bool retry = false) {
  xs::sweep::RunOptions o;
  o.output = out;
  o.shard = shard;
  o.retry_failed = retry;
  o.threads_per_rank = 1;
  o.progress_interval_s = 1e9;
  o.info.experiment = e.name;
  o.info.kind = e.kind;
  o.info.config_text = e.source_text;
  o.info.swept_paths = xs::config::SweepPlan(e).swept_paths();
  return xs::sweep::run_sweep(e, *xs::kinds::builtin_kinds().find(e.kind), o, MPI_COMM_WORLD);
}

const char* kGrid =
    "synthetic:\n  fail_rate: 0.1\n  nan_rate: 0.05\n"
    "sweep:\n  grid:\n    synthetic.x: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]\n    synthetic.y: [0, 1, 2, 3, 4, 5, "
    "6, 7, 8, 9]\n"
    "  repeats: 2\n";

}  // namespace

TEST(Sweep, EveryPointExactlyOnceWithFailuresRecorded) {
  const std::string dir = shared_dir("once");
  const auto e = experiment(kGrid);
  const auto s = run(e, dir + "/r.h5");
  EXPECT_EQ(s.planned, 200u);
  EXPECT_EQ(s.done_total + s.failed_total, 200u);
  EXPECT_GT(s.failed_total, 0u) << "fail_rate 0.1 and nan_rate 0.05 must fail some points";
  EXPECT_EQ(xs::sweep::exit_code(s), xs::sweep::kExitSomeFailed);
  if (rank() == 0) {
    const auto results = xs::store::read_results(dir + "/r.h5");
    ASSERT_EQ(results.points.size(), 200u);
    std::set<std::string> ids;
    const xs::config::SweepPlan plan(e);
    for (const auto& p : results.points) {
      EXPECT_TRUE(ids.insert(p.id).second) << "duplicate point " << p.id;
      EXPECT_EQ(p.id, xs::config::point_id(plan.point(p.index)));
      if (p.status == xs::store::PointStatus::Failed) {
        EXPECT_FALSE(p.error.empty());
      } else {
        // The documented function of the synthetic kind.
        const double expected =
            std::sin(p.params.real("synthetic.x")) + std::cos(p.params.real("synthetic.y"));
        EXPECT_NEAR(p.metrics.at("value"), expected, 1e-3 + 1e-12);
      }
    }
  }
}

TEST(Sweep, ResumeComputesOnlyWhatIsMissingAndRetryFailedRerunsFailures) {
  const std::string dir = shared_dir("resume");
  const auto small =
      experiment("synthetic:\n  fail_rate: 0.2\nsweep:\n  grid:\n    synthetic.x: [0, 1, 2, 3, 4]\n");
  const auto first = run(small, dir + "/r.h5");
  EXPECT_EQ(first.computed + first.failed, 5u);
  // Extending the grid computes only the new points.
  const auto big = experiment(
      "synthetic:\n  fail_rate: 0.2\nsweep:\n  grid:\n    synthetic.x: [0, 1, 2, 3, 4, 5, 6, 7]\n");
  const auto second = run(big, dir + "/r.h5");
  EXPECT_EQ(second.skipped, 5u);
  EXPECT_EQ(second.computed + second.failed, 3u);
  // Nothing left: a rerun computes nothing; failures stay failed (deterministic) when retried.
  const auto third = run(big, dir + "/r.h5", {}, true);
  EXPECT_EQ(third.computed, 0u);
  EXPECT_EQ(third.failed, second.failed_total);
  if (rank() == 0) {
    EXPECT_EQ(xs::store::read_results(dir + "/r.h5").points.size(), 8u);
  }
}

TEST(Sweep, ShardsPartitionThePlan) {
  const std::string dir = shared_dir("shards");
  const auto e =
      experiment("sweep:\n  grid:\n    synthetic.x: [0, 1, 2, 3, 4, 5, 6]\n    synthetic.y: [0, 1, 2]\n");
  std::set<std::string> all;
  std::size_t total = 0;
  for (std::uint64_t i = 0; i < 3; ++i) {
    const std::string out = dir + "/s" + std::to_string(i) + ".h5";
    const auto s = run(e, out, {i, 3});
    EXPECT_EQ(s.done_total, s.planned);
    if (rank() == 0) {
      for (const auto& p : xs::store::read_results(out).points) {
        EXPECT_EQ(p.index % 3, i);
        all.insert(p.id);
        ++total;
      }
    }
  }
  if (rank() == 0) {
    EXPECT_EQ(total, 21u);
    EXPECT_EQ(all.size(), 21u);
  }
}

TEST(Sweep, ResultsDoNotDependOnRankCount) {
  // Same values as a single-process computation of each point.
  const std::string dir = shared_dir("ranks");
  const auto e = experiment("sweep:\n  grid:\n    synthetic.x: [0.25, 0.5]\n  repeats: 3\n");
  run(e, dir + "/r.h5");
  if (rank() == 0) {
    const auto& kind = *xs::kinds::builtin_kinds().find("synthetic");
    for (const auto& p : xs::store::read_results(dir + "/r.h5").points) {
      const auto direct = kind.run(p.params, xs::kinds::PointContext{});
      EXPECT_EQ(p.metrics.at("value"), direct.metrics.at("value"));
      EXPECT_EQ(p.arrays.at("curve"), direct.arrays.at("curve"));
    }
  }
}

int main(int argc, char** argv) {
  int provided = 0;
  MPI_Init_thread(&argc, &argv, MPI_THREAD_MULTIPLE, &provided);
  ::testing::InitGoogleTest(&argc, argv);
  if (rank() != 0) {  // one rank prints
    auto& listeners = ::testing::UnitTest::GetInstance()->listeners();
    delete listeners.Release(listeners.default_result_printer());
  }
  const int result = RUN_ALL_TESTS();
  int worst = 0;
  MPI_Allreduce(&result, &worst, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
  MPI_Finalize();
  return worst;
}
