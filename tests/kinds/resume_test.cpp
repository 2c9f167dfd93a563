// Checkpointed points: a point stopped at any of its checkpoints and run again ends with the
// metrics and curves of an uninterrupted run, bit for bit (same threads); and the checkpoint
// file survives a writer killed mid-write.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <Kokkos_Core.hpp>
#include <atomic>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <thread>

#include "kind_test_support.hpp"
#include "xbarsweep/kinds/builtin.hpp"
#include "xbarsweep/kinds/checkpoint.hpp"
#include "xbarsweep/nn/state.hpp"

using namespace xbarsweep;

namespace {

[[maybe_unused]] auto* const kokkos_environment = xbarsweep::test_support::start_kokkos();

std::string temp_dir(const std::string& tag) {
  const auto dir =
      std::filesystem::temp_directory_path() / ("xbarsweep-resume-" + tag + "-" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir.string();
}

// Watches the checkpoint files (*.ckpt) of a directory and raises the stop flag once it has seen
// \p saves versions of them (each save renames a new file into place: a new inode), as a signal
// arriving then would.
class StopAfterSaves {
 public:
  StopAfterSaves(std::string dir, int saves, std::atomic<bool>& stop)
      : thread_([this, dir = std::move(dir), saves, &stop] {
          std::map<std::string, ino_t> last;
          int seen = 0;
          while (!done_.load()) {
            std::error_code ec;
            for (const auto& e : std::filesystem::directory_iterator(dir, ec)) {
              const std::string path = e.path().string();
              if (e.path().extension() != ".ckpt") continue;
              struct stat st {};
              if (::stat(path.c_str(), &st) != 0 || last[path] == st.st_ino) continue;
              last[path] = st.st_ino;
              if (++seen >= saves) {
                stop.store(true);
                return;
              }
            }
            std::this_thread::sleep_for(std::chrono::microseconds(200));
          }
        }) {}
  ~StopAfterSaves() {
    done_.store(true);
    thread_.join();
  }

 private:
  std::atomic<bool> done_{false};
  std::thread thread_;
};

struct Resumed {
  kinds::Outcome outcome;
  bool interrupted = false;  // the first run was stopped
  std::string note;          // what the second run said
};

// Runs \p params stopped after \p saves checkpoint saves, then again to the end.
Resumed run_interrupted(const kinds::Kind& kind, const config::Params& params, const std::string& dir,
                        int saves) {
  std::atomic<bool> stop{false};
  kinds::PointContext context;
  context.cache_dir = dir + "/cache";
  context.checkpoint_path = context.cache_dir + "/point.ckpt";
  std::filesystem::create_directories(context.cache_dir);
  context.checkpoint_s = 1e-9;  // a save at every boundary, mid-epoch ones included
  context.stop = &stop;
  Resumed r;
  context.note = [&r](const std::string& what) { r.note += what; };
  {
    StopAfterSaves watcher(context.cache_dir, saves, stop);
    try {
      r.outcome = kind.run(params, context);
    } catch (const kinds::Cancelled&) {
      r.interrupted = true;
    }
  }
  if (r.interrupted) {
    stop.store(false);
    r.outcome = kind.run(params, context);
  }
  std::filesystem::remove(context.checkpoint_path);
  return r;
}

kinds::Outcome run_plain(const kinds::Kind& kind, const config::Params& params, const std::string& dir) {
  kinds::PointContext context;
  context.cache_dir = dir + "/cache";
  return kind.run(params, context);
}

void expect_same(const kinds::Outcome& a, const kinds::Outcome& b, const std::string& what) {
  ASSERT_EQ(a.metrics.size(), b.metrics.size()) << what;
  // Timings are measurements of this run (wall time, clstm's speed of inference), not results.
  const auto timed = [](const std::string& name) {
    return name == "wall_s" || name.find("us_per_seq") != std::string::npos ||
           name.find("speedup") != std::string::npos;
  };
  for (const auto& [name, value] : a.metrics) {
    if (timed(name)) continue;
    ASSERT_TRUE(b.metrics.count(name)) << what << ": no metric " << name;
    EXPECT_EQ(value, b.metrics.at(name)) << what << ": metric " << name;
  }
  ASSERT_EQ(a.arrays.size(), b.arrays.size()) << what;
  for (const auto& [name, values] : a.arrays) {
    ASSERT_TRUE(b.arrays.count(name)) << what << ": no curve " << name;
    EXPECT_EQ(values, b.arrays.at(name)) << what << ": curve " << name;
  }
}

config::Params classifier_point(const kinds::Kind& kind) {
  config::Params p = test_support::schema_defaults(kind);
  p.set("seed", std::int64_t{3});
  p.set("data.name", std::string("synthetic"));
  p.set("data.subset", std::int64_t{600});
  p.set("data.test_subset", std::int64_t{200});
  p.set("model.name", std::string("mlp"));
  p.set("model.hidden", std::int64_t{16});
  p.set("train.batch_size", std::int64_t{100});
  return p;
}

// Every kind of interruption point: early, in the middle, near the end.
void expect_resumes_exactly(const kinds::Kind& kind, const config::Params& p, const std::string& tag,
                            std::initializer_list<int> stops) {
  const std::string dir = temp_dir(tag);
  run_plain(kind, p, dir);  // fills the pretraining cache, which the runs compared then load
  const auto plain = run_plain(kind, p, dir);
  int interrupted = 0;
  for (int saves : stops) {
    const auto r = run_interrupted(kind, p, dir, saves);
    std::printf("%s, stop after %d saves: %s\n", tag.c_str(), saves,
                r.interrupted ? r.note.c_str() : "finished before the stop");
    if (r.interrupted) {
      ++interrupted;
      EXPECT_NE(r.note.find("resumed from its checkpoint"), std::string::npos) << r.note;
    }
    expect_same(plain, r.outcome,
                tag + ", stopped after " + std::to_string(saves) + " saves" +
                    (r.interrupted ? " (" + r.note + ")" : " (not stopped)"));
  }
  EXPECT_GT(interrupted, 0) << tag << ": no run was stopped before it finished";
  std::filesystem::remove_all(dir);
}

TEST(Resume, TrainPointStoppedAnywhereEndsAsUninterrupted) {
  const auto kind = kinds::make_train_kind();
  auto p = classifier_point(*kind);
  p.set("train.epochs", std::int64_t{4});
  p.set("train.validation", std::int64_t{100});  // the best-epoch snapshot is state too
  expect_resumes_exactly(*kind, p, "train", {1, 3, 9, 17});
}

// An admm point on 16x16 crossbar blocks with \p settings over classifier_point's.
config::Params admm_point(const kinds::Kind& kind,
                          std::initializer_list<std::pair<const char*, config::Value>> settings) {
  auto p = classifier_point(kind);
  p.set("crossbar.rows", std::int64_t{16});
  p.set("crossbar.cols", std::int64_t{16});
  for (const auto& [path, value] : settings) p.set(path, value);
  return p;
}

// A checkpoint this kind cannot use (another kind's state, or bytes that are no state at all:
// an older or newer xbarsweep) is set aside, and the point starts over to the same result.
TEST(Resume, UnusableCheckpointIsSetAsideAndThePointStartsOver) {
  const auto kind = kinds::make_train_kind();
  auto p = classifier_point(*kind);
  p.set("train.epochs", std::int64_t{2});
  const std::string dir = temp_dir("unusable");
  const auto plain = run_plain(*kind, p, dir);
  // What the synthetic kind saves (well framed, but no tensor state), and a state of admm's.
  const std::string admm_state = nn::encode_state({{"state.format", nn::state_bytes("admm/1")}});
  for (const std::string& payload : {std::string("3"), admm_state}) {
    kinds::PointContext context;
    context.cache_dir = dir + "/cache";
    context.checkpoint_path = dir + "/point.ckpt";
    std::string notes;
    context.note = [&notes](const std::string& what) { notes += what; };
    kinds::PointCheckpoint(context.checkpoint_path, 0, nullptr).save(payload);
    const auto out = kind->run(p, context);
    EXPECT_TRUE(std::filesystem::exists(context.checkpoint_path + ".bad"))
        << "payload of " << payload.size() << " bytes";
    EXPECT_EQ(notes.find("resumed"), std::string::npos) << notes;
    expect_same(plain, out, "after an unusable checkpoint of " + std::to_string(payload.size()) + " bytes");
    std::filesystem::remove(context.checkpoint_path + ".bad");
  }
  std::filesystem::remove_all(dir);
}

TEST(Resume, AdmmJointPointStoppedAnywhereEndsAsUninterrupted) {
  const auto kind = kinds::make_admm_kind();
  const auto p = admm_point(*kind, {{"train.epochs", std::int64_t{2}},
                                    {"admm.iterations", std::int64_t{2}},
                                    {"admm.epochs_per_iteration", std::int64_t{2}},
                                    {"admm.retrain_epochs", std::int64_t{2}},
                                    {"admm.keep", 0.25},
                                    {"admm.levels", std::int64_t{8}},
                                    {"admm.hw_samples", std::int64_t{1}},
                                    {"admm.hw_test_items", std::int64_t{50}}});
  // Pretraining is cached: the first (plain) run trains it, the others load it.
  expect_resumes_exactly(*kind, p, "admm-joint", {1, 6, 14, 25, 36, 41, 43});
}

// Hardware-aware ADMM: the draws of every batch and the straight-through retraining come out
// the same after a resume (batch keys from the epoch's seed and the batch index).
TEST(Resume, AdmmHardwareAwarePointStoppedAnywhereEndsAsUninterrupted) {
  const auto kind = kinds::make_admm_kind();
  const auto p = admm_point(*kind, {{"train.epochs", std::int64_t{1}},
                                    {"admm.iterations", std::int64_t{2}},
                                    {"admm.retrain_epochs", std::int64_t{2}},
                                    {"admm.keep", 0.25},
                                    {"admm.levels", std::int64_t{30}},
                                    {"crossbar.levels", std::int64_t{16}},
                                    {"crossbar.sigma", 0.1},
                                    {"hwa.enabled", true},
                                    {"hwa.device_noise", 2.0},
                                    {"admm.hw_samples", std::int64_t{1}},
                                    {"admm.hw_test_items", std::int64_t{50}}});
  expect_resumes_exactly(*kind, p, "admm-hwa", {1, 4, 9, 15, 18, 21});
}

TEST(Resume, AdmmSequentialPointStoppedAnywhereEndsAsUninterrupted) {
  const auto kind = kinds::make_admm_kind();
  const auto p = admm_point(*kind, {{"train.epochs", std::int64_t{1}},
                                    {"admm.mode", std::string("sequential")},
                                    {"admm.iterations", std::int64_t{2}},
                                    {"admm.retrain_epochs", std::int64_t{1}},
                                    {"admm.keep", 0.5},
                                    {"admm.levels", std::int64_t{8}},
                                    {"admm.hw_samples", std::int64_t{0}}});
  expect_resumes_exactly(*kind, p, "admm-sequential", {2, 8, 15, 22, 29, 36, 41, 43});
}

// The pretraining of an admm point's baseline, stopped and resumed by the next point to need it,
// gives the baseline (and so the point) of an uninterrupted run.
TEST(Resume, PretrainingStoppedMidWayResumesInTheNextPoint) {
  const auto kind = kinds::make_admm_kind();
  const auto p = admm_point(*kind, {{"train.epochs", std::int64_t{4}},
                                    {"admm.iterations", std::int64_t{1}},
                                    {"admm.retrain_epochs", std::int64_t{1}},
                                    {"admm.hw_samples", std::int64_t{0}}});
  const std::string fresh = temp_dir("pretrain-plain");
  const auto plain = run_plain(*kind, p, fresh);
  for (int saves : {2, 12}) {
    const std::string dir = temp_dir("pretrain-" + std::to_string(saves));
    const auto r = run_interrupted(*kind, p, dir, saves);
    std::printf("pretraining, stop after %d saves: %s\n", saves, r.note.c_str());
    EXPECT_TRUE(r.interrupted);
    EXPECT_NE(r.note.find("pretraining baseline-"), std::string::npos) << r.note;
    expect_same(plain, r.outcome, "pretraining stopped after " + std::to_string(saves) + " saves");
    std::filesystem::remove_all(dir);
  }
  std::filesystem::remove_all(fresh);
}

config::Params clstm_point(const kinds::Kind& kind, const std::string& init) {
  config::Params p = test_support::schema_defaults(kind);
  p.set("seed", std::int64_t{2});
  p.set("data.name", std::string("synthetic"));
  p.set("data.subset", std::int64_t{300});
  p.set("data.test_subset", std::int64_t{100});
  p.set("clstm.hidden", std::int64_t{16});
  p.set("clstm.projection", std::int64_t{8});
  p.set("clstm.block_size", std::int64_t{4});
  p.set("clstm.init", init);
  p.set("clstm.timing_sequences", std::int64_t{2});
  p.set("train.epochs", std::int64_t{2});
  p.set("train.batch_size", std::int64_t{50});
  p.set("train.lr", 5e-3);
  return p;
}

TEST(Resume, ClstmPointsStoppedAnywhereEndAsUninterrupted) {
  const auto kind = kinds::make_clstm_kind();
  expect_resumes_exactly(*kind, clstm_point(*kind, "random"), "clstm-random", {2, 9});
  auto admm = clstm_point(*kind, "admm");
  admm.set("clstm.admm_iterations", std::int64_t{2});
  admm.set("clstm.finetune_epochs", std::int64_t{2});
  expect_resumes_exactly(*kind, admm, "clstm-admm", {2, 9, 16, 23});
}

TEST(Resume, SyntheticPointResumesAtItsNextSlice) {
  const auto kind = kinds::make_synthetic_kind();
  auto p = test_support::schema_defaults(*kind);
  p.set("seed", std::int64_t{1});
  p.set("synthetic.work_ms", 200.0);
  p.set("synthetic.steps", std::int64_t{20});
  expect_resumes_exactly(*kind, p, "synthetic", {3});
}

// A writer SIGKILLed at any moment of a save leaves the previous checkpoint or the new one,
// whole: the payload read back is always one that was saved completely.
TEST(Checkpoint, WriterKilledMidWriteLeavesAUsableCheckpoint) {
  const std::string dir = temp_dir("kill");
  const std::string path = dir + "/p.ckpt";
  const auto payload = [](int version) {
    return std::string(4 << 20, static_cast<char>('a' + version % 26));
  };
  kinds::PointCheckpoint(path, 0, nullptr).save(payload(0));
  for (int trial = 0; trial < 8; ++trial) {
    const pid_t child = ::fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
      kinds::PointCheckpoint writer(path, 0, nullptr);
      for (int v = 1;; ++v) writer.save(payload(v));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20 + 17 * trial));
    ::kill(child, SIGKILL);
    int status = 0;
    ::waitpid(child, &status, 0);
    const auto read = kinds::PointCheckpoint(path, 0, nullptr).load();
    ASSERT_TRUE(read.has_value()) << "trial " << trial << ": no usable checkpoint";
    ASSERT_EQ(read->size(), payload(0).size());
    EXPECT_EQ(read->find_first_not_of(read->front()), std::string::npos) << "a mixture of two saves";
  }
  // The killed writers' temporary files go with the checkpoint.
  kinds::PointCheckpoint(path, 0, nullptr).remove();
  EXPECT_TRUE(std::filesystem::is_empty(dir)) << "leftovers in " << dir;
  std::filesystem::remove_all(dir);
}

TEST(Checkpoint, DamagedFileIsSetAsideAndThePointStartsOver) {
  const std::string dir = temp_dir("damaged");
  const std::string path = dir + "/p.ckpt";
  kinds::PointCheckpoint(path, 0, nullptr).save("state of epoch 3");
  {
    std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(-2, std::ios::end);
    f.put('X');
  }
  EXPECT_FALSE(kinds::PointCheckpoint(path, 0, nullptr).load().has_value());
  EXPECT_TRUE(std::filesystem::exists(path + ".bad"));
  EXPECT_FALSE(std::filesystem::exists(path));
  std::filesystem::remove_all(dir);
}

TEST(Checkpoint, DueHonoursTheIntervalAndTheStopFlag) {
  std::atomic<bool> stop{false};
  kinds::PointCheckpoint c("/nonexistent/x.ckpt", 3600, &stop);
  EXPECT_FALSE(c.due());
  stop.store(true);
  EXPECT_TRUE(c.due());
  EXPECT_FALSE(kinds::PointCheckpoint().due());
  EXPECT_TRUE(kinds::PointCheckpoint("/nonexistent/y.ckpt", 0, nullptr).due());
}

}  // namespace
