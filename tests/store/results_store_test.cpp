// The results file: snapshot round trip, journal replay, crash safety, locking, corrupt inputs.

#include "xbarsweep/store/results_store.hpp"

#include <gtest/gtest.h>
#include <hdf5.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <random>
#include <set>
#include <thread>

#include "store_test_support.hpp"

namespace xbarsweep::store {
namespace {

using test_support::same_record;
using test_support::sample_record;
using test_support::ScratchDir;

RunInfo sample_info() {
  RunInfo info;
  info.experiment = "quickstart";
  info.kind = "synthetic";
  info.config_text = "experiment: quickstart\nsweep:\n  train.lr: [0.1, 0.01]\n";
  info.versions = {{"xbarsweep", "0.1.0"}, {"hdf5", "1.10.8"}};
  info.swept_paths = {"train.lr", "seed"};
  info.planned_points = 12;
  return info;
}

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

void spit(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << bytes;
}

/// Runs \p body in a forked child that leaves with _exit. A body that calls _exit itself skips
/// the destructors, like a crash right after its last statement. \returns the child's exit
/// status, or 128+signal.
int run_in_child(const std::function<int()>& body) {
  const pid_t pid = ::fork();
  if (pid == 0) {
    int code = 99;
    try {
      code = body();
    } catch (const std::exception& e) {
      std::fprintf(stderr, "child: %s\n", e.what());
    }
    ::_exit(code);
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

void expect_same_points(const std::vector<PointRecord>& got, const std::vector<PointRecord>& want) {
  ASSERT_EQ(got.size(), want.size());
  for (std::size_t i = 0; i < got.size(); ++i) EXPECT_TRUE(same_record(got[i], want[i]));
}

/// Records that exercise every column type and every kind of absence.
std::vector<PointRecord> awkward_records() {
  std::vector<PointRecord> records;
  PointRecord a = sample_record(0);
  a.params.set("mixed", std::int64_t(3));  // int here, real and string below
  a.params.set("only.a", std::string("just me"));
  a.params.set("flag", true);
  a.params.set("empty.text", std::string());
  a.metrics["nan_metric"] = std::numeric_limits<double>::quiet_NaN();
  a.arrays["sometimes"] = {};
  records.push_back(a);

  PointRecord b = sample_record(1);
  b.status = PointStatus::Failed;
  b.error = "std::runtime_error: diverged";
  b.params.set("mixed", 0.1);
  b.params.set("flag", false);
  b.metrics.erase("loss");
  b.metrics["only_b"] = -1.0;
  b.arrays.clear();
  records.push_back(b);

  PointRecord c = sample_record(2);
  c.params.set("mixed", std::string("relu"));
  c.params.set("int.extreme", std::numeric_limits<std::int64_t>::min());
  c.params.set("real.nan", std::numeric_limits<double>::quiet_NaN());
  c.arrays["sometimes"] = {1.0, 2.0};
  c.arrays["loss_per_epoch"] = {};
  records.push_back(c);

  PointRecord d = sample_record(3);
  d.params.set("mixed", true);
  records.push_back(d);
  return records;
}

TEST(ResultsStore, SnapshotRoundTripsEveryColumnKind) {
  ScratchDir dir;
  const std::string path = dir.file("r.h5");
  const auto records = awkward_records();
  {
    ResultsWriter w(path, sample_info());
    for (const auto& r : records) w.append(r);
    w.publish();
  }
  EXPECT_FALSE(std::filesystem::exists(path + ".journal") &&
               std::filesystem::file_size(path + ".journal") > 0);
  const Results results = read_results(path);
  expect_same_points(results.points, records);
  const RunInfo want = sample_info();
  EXPECT_EQ(results.info.experiment, want.experiment);
  EXPECT_EQ(results.info.kind, want.kind);
  EXPECT_EQ(results.info.config_text, want.config_text);
  EXPECT_EQ(results.info.versions, want.versions);
  EXPECT_EQ(results.info.swept_paths, want.swept_paths);
  EXPECT_EQ(results.info.planned_points, want.planned_points);
}

TEST(ResultsStore, EmptyStoreIsAValidFile) {
  ScratchDir dir;
  const std::string path = dir.file("empty.h5");
  {
    ResultsWriter w(path, sample_info());
    EXPECT_FALSE(std::filesystem::exists(path)) << "nothing is created before a publish";
    w.publish();
  }
  const Results results = read_results(path);
  EXPECT_TRUE(results.points.empty());
  EXPECT_EQ(results.info.kind, "synthetic");
}

TEST(ResultsStore, MissingFileIsAStoreErrorNotCorruption) {
  ScratchDir dir;
  try {
    read_results(dir.file("nothing.h5"));
    FAIL() << "expected StoreError";
  } catch (const CorruptResultsError&) {
    FAIL() << "a missing file is not corrupt";
  } catch (const StoreError& e) {
    EXPECT_NE(std::string(e.what()).find("nothing.h5"), std::string::npos) << e.what();
  }
}

TEST(ResultsStore, JournalIsReplayedWhenTheWriterDiesBeforePublishing) {
  ScratchDir dir;
  const std::string path = dir.file("r.h5");
  ASSERT_EQ(run_in_child([&] {
              ResultsWriter w(path, sample_info());
              for (int i = 0; i < 5; ++i) w.append(sample_record(i));
              w.sync();
              w.append(sample_record(99));  // buffered, never synced: lost
              ::_exit(0);                   // no destructor: a crash after the sync
              return 0;
            }),
            0);
  EXPECT_FALSE(std::filesystem::exists(path));
  const Results results = read_results(path);
  ASSERT_EQ(results.points.size(), 5u);
  for (int i = 0; i < 5; ++i) EXPECT_TRUE(same_record(results.points[i], sample_record(i)));

  // The next writer folds the journal into a snapshot.
  {
    ResultsWriter w(path, sample_info());
    EXPECT_EQ(w.size(), 5u);
    EXPECT_EQ(w.known().at("p3"), PointStatus::Done);
  }
  EXPECT_TRUE(std::filesystem::exists(path));
  EXPECT_EQ(std::filesystem::file_size(path + ".journal"), 0u);
  EXPECT_EQ(read_results(path).points.size(), 5u);
}

TEST(ResultsStore, TornJournalTailIsIgnoredAndCutBeforeAppending) {
  ScratchDir dir;
  const std::string path = dir.file("r.h5");
  ASSERT_EQ(run_in_child([&] {
              ResultsWriter w(path, sample_info());
              for (int i = 0; i < 3; ++i) w.append(sample_record(i));
              w.sync();
              ::_exit(0);  // no destructor: a crash after the sync
              return 0;
            }),
            0);
  const std::string journal = slurp(path + ".journal");
  // A fourth frame cut in the middle, as a SIGKILL during write() leaves it.
  std::string torn;
  {
    ScratchDir other;
    const std::string p2 = other.file("x.h5");
    run_in_child([&] {
      ResultsWriter w(p2, sample_info());
      w.append(sample_record(3));
      w.sync();
      ::_exit(0);  // no destructor: a crash after the sync
      return 0;
    });
    torn = slurp(p2 + ".journal");
  }
  spit(path + ".journal", journal + torn.substr(0, torn.size() / 2));
  EXPECT_EQ(read_results(path).points.size(), 3u);

  // Garbage with a valid-looking header is also a torn tail.
  spit(path + ".journal", journal + torn.substr(0, 12) + std::string(40, 'z'));
  EXPECT_EQ(read_results(path).points.size(), 3u);

  ASSERT_EQ(run_in_child([&] {
              ResultsWriter w(path, sample_info());
              w.append(sample_record(4));
              w.sync();
              ::_exit(0);  // no destructor: a crash after the sync
              return 0;
            }),
            0);
  const Results results = read_results(path);
  ASSERT_EQ(results.points.size(), 4u);
  EXPECT_EQ(results.points[3].id, "p4");
}

TEST(ResultsStore, LatestRecordWinsAcrossSnapshotAndJournalInFirstAppearanceOrder) {
  ScratchDir dir;
  const std::string path = dir.file("r.h5");
  std::string journal_before_truncation;
  {
    ResultsWriter w(path, sample_info());
    for (int i = 0; i < 4; ++i) w.append(sample_record(i));
    w.sync();
    PointRecord failed = sample_record(1);
    failed.status = PointStatus::Failed;
    failed.error = "oom";
    w.append(failed);
    w.sync();
    journal_before_truncation = slurp(path + ".journal");
    w.publish();
  }
  // As if killed between the rename and the journal truncation: both hold the records.
  spit(path + ".journal", journal_before_truncation);
  {
    const Results results = read_results(path);
    ASSERT_EQ(results.points.size(), 4u);
    EXPECT_EQ(results.points[1].id, "p1");
    EXPECT_EQ(results.points[1].status, PointStatus::Failed);
    EXPECT_EQ(results.points[1].error, "oom");
  }
  // A retry of p1 that succeeds, synced but not published.
  ASSERT_EQ(run_in_child([&] {
              ResultsWriter w(path, sample_info());
              if (w.known().at("p1") != PointStatus::Failed) return 2;
              w.append(sample_record(1));
              w.append(sample_record(7));
              w.sync();
              ::_exit(0);  // no destructor: a crash after the sync
              return 0;
            }),
            0);
  const Results results = read_results(path);
  ASSERT_EQ(results.points.size(), 5u);
  const char* order[] = {"p0", "p1", "p2", "p3", "p7"};
  for (int i = 0; i < 5; ++i) EXPECT_EQ(results.points[i].id, order[i]);
  EXPECT_TRUE(same_record(results.points[1], sample_record(1)));
}

TEST(ResultsStore, PublishWithoutChangeDoesNothing) {
  ScratchDir dir;
  const std::string path = dir.file("r.h5");
  ResultsWriter w(path, sample_info());
  w.append(sample_record(0));
  w.publish();
  struct stat first {};
  ASSERT_EQ(::stat(path.c_str(), &first), 0);
  w.publish();
  struct stat second {};
  ASSERT_EQ(::stat(path.c_str(), &second), 0);
  EXPECT_EQ(first.st_ino, second.st_ino) << "an unchanged store was written again";
  w.append(sample_record(1));
  w.publish();
  ASSERT_EQ(::stat(path.c_str(), &second), 0);
  EXPECT_NE(first.st_ino, second.st_ino);
}

TEST(ResultsStore, MaybeFlushSyncsAndPublishesOnSchedule) {
  ScratchDir dir;
  const std::string path = dir.file("r.h5");
  ResultsWriter w(path, sample_info());
  w.append(sample_record(0));
  w.maybe_flush(std::chrono::hours(1), std::chrono::hours(1));
  EXPECT_FALSE(std::filesystem::exists(path + ".journal"));
  w.maybe_flush(std::chrono::milliseconds(0), std::chrono::hours(1));
  EXPECT_GT(std::filesystem::file_size(path + ".journal"), 0u);
  EXPECT_FALSE(std::filesystem::exists(path));
  w.maybe_flush(std::chrono::milliseconds(0), std::chrono::milliseconds(0));
  EXPECT_TRUE(std::filesystem::exists(path));
  EXPECT_EQ(std::filesystem::file_size(path + ".journal"), 0u);
}

TEST(ResultsStore, RejectsNamesThatCannotBeColumns) {
  ScratchDir dir;
  ResultsWriter w(dir.file("r.h5"), sample_info());
  PointRecord r = sample_record(0);
  r.metrics["a/b"] = 1;
  EXPECT_THROW(w.append(r), StoreError);
  r = sample_record(0);
  r.params.set(".", 1.0);
  EXPECT_THROW(w.append(r), StoreError);
  r = sample_record(0);
  r.id.clear();
  EXPECT_THROW(w.append(r), StoreError);
  EXPECT_EQ(w.size(), 0u);
}

TEST(ResultsStore, SecondWriterIsRefusedInAnotherProcessAndInThisOne) {
  ScratchDir dir;
  const std::string path = dir.file("r.h5");
  const std::string parent_pid = std::to_string(::getpid());
  {
    ResultsWriter w(path, sample_info());
    EXPECT_THROW(ResultsWriter(path, sample_info()), StoreError);
    const int code = run_in_child([&] {
      try {
        ResultsWriter second(path, sample_info());
      } catch (const StoreError& e) {
        const std::string what = e.what();
        std::fprintf(stderr, "child got: %s\n", what.c_str());
        return what.find("another xbarsweep run (pid " + parent_pid + " on host ") != std::string::npos ? 0
                                                                                                        : 2;
      }
      return 1;
    });
    EXPECT_EQ(code, 0);
    w.append(sample_record(0));  // the first writer still works
  }
  // Released with the writer: another process may now write.
  EXPECT_EQ(run_in_child([&] {
              ResultsWriter w(path, sample_info());
              return w.size() == 1 ? 0 : 3;
            }),
            0);
}

TEST(ResultsStore, SurvivesSigkillAtAnyMoment) {
  ScratchDir dir;
  const std::string path = dir.file("r.h5");
  std::mt19937 rng(2024);
  std::vector<std::uint64_t> synced_per_round;
  int killed_mid_publish = 0;
  const int rounds = 20;
  for (int round = 0; round < rounds; ++round) {
    int fds[2];
    ASSERT_EQ(::pipe(fds), 0);
    const unsigned seed = static_cast<unsigned>(rng());
    const pid_t child = ::fork();
    if (child == 0) {
      ::close(fds[0]);
      try {
        std::mt19937 child_rng(seed);
        ResultsWriter w(path, sample_info());
        const std::string prefix = "r" + std::to_string(round) + "-";
        for (std::uint64_t k = 0; k < 1000000; ++k) {
          w.append(sample_record(k, prefix));
          if (child_rng() % 4 == 0) {
            if (child_rng() % 8 == 0) {
              w.publish();
            } else {
              w.sync();
            }
            const std::uint64_t synced = k + 1;
            if (::write(fds[1], &synced, sizeof synced) != sizeof synced) ::_exit(3);
          }
        }
      } catch (const std::exception& e) {
        std::fprintf(stderr, "child: %s\n", e.what());
        ::_exit(1);
      }
      ::_exit(0);
    }
    ::close(fds[1]);
    std::this_thread::sleep_for(std::chrono::milliseconds(20 + rng() % 120));
    ::kill(child, SIGKILL);
    int status = 0;
    ::waitpid(child, &status, 0);
    ASSERT_TRUE(WIFSIGNALED(status)) << "the child ended by itself in round " << round;
    std::uint64_t synced = 0, value = 0;
    while (::read(fds[0], &value, sizeof value) == sizeof value) synced = value;
    ::close(fds[0]);
    synced_per_round.push_back(synced);
    for (const auto& entry : std::filesystem::directory_iterator(dir.file("")))
      if (entry.path().filename().string().rfind("r.h5.tmp.", 0) == 0) ++killed_mid_publish;

    Results results;
    ASSERT_NO_THROW(results = read_results(path)) << "round " << round;
    std::set<std::string> ids;
    for (const auto& r : results.points) EXPECT_TRUE(ids.insert(r.id).second) << r.id;
    for (int past = 0; past <= round; ++past)
      for (std::uint64_t k = 0; k < synced_per_round[past]; ++k)
        ASSERT_TRUE(ids.count("r" + std::to_string(past) + "-" + std::to_string(k)))
            << "round " << round << " lost synced record " << k << " of round " << past;
  }
  std::uint64_t total = 0;
  for (auto n : synced_per_round) total += n;
  EXPECT_GT(total, 0u) << "no child got to sync anything: the kill test tested nothing";
  std::printf("kill test: %d kills, %llu records synced, %d kills during a snapshot write\n", rounds,
              static_cast<unsigned long long>(total), killed_mid_publish);
  // A final writer cleans up temporaries and folds everything into one snapshot.
  {
    ResultsWriter w(path, sample_info());
    w.publish();
  }
  for (const auto& entry : std::filesystem::directory_iterator(dir.file("")))
    EXPECT_EQ(entry.path().filename().string().find("r.h5.tmp."), std::string::npos) << entry.path();
  EXPECT_GE(read_results(path).points.size(), total > 0 ? 1u : 0u);
}

// ---- corrupt inputs ---------------------------------------------------------------------------

void expect_corrupt(const std::string& path, const std::string& why) {
  try {
    read_results(path);
    ADD_FAILURE() << why << ": read_results accepted it";
  } catch (const CorruptResultsError& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find(path + ": not an xbarsweep results file: "), std::string::npos)
        << why << ": " << what;
  } catch (const std::exception& e) {
    ADD_FAILURE() << why << ": wrong exception: " << e.what();
  }
  // A writer refuses it too, and changes nothing.
  const std::string before = slurp(path);
  const bool had_journal = std::filesystem::exists(path + ".journal");
  const std::string journal_before = slurp(path + ".journal");
  EXPECT_THROW(ResultsWriter(path, sample_info()), CorruptResultsError) << why;
  EXPECT_EQ(slurp(path), before) << why;
  EXPECT_EQ(std::filesystem::exists(path + ".journal"), had_journal) << why;
  EXPECT_EQ(slurp(path + ".journal"), journal_before) << why;
}

std::string real_file(const ScratchDir& dir, std::size_t n) {
  const std::string path = dir.file("real.h5");
  ResultsWriter w(path, sample_info());
  for (std::size_t i = 0; i < n; ++i) w.append(sample_record(i));
  w.publish();
  return path;
}

TEST(ResultsStoreCorrupt, GarbageFilesAreRejected) {
  ScratchDir dir;
  const std::string path = dir.file("bad.h5");
  spit(path, "");
  expect_corrupt(path, "empty file");
  spit(path, "experiment: quickstart\nthis is YAML, not HDF5\n");
  expect_corrupt(path, "text file");
  std::mt19937 rng(7);
  for (int trial = 0; trial < 5; ++trial) {
    std::string bytes(1 + rng() % 5000, '\0');
    for (auto& c : bytes) c = static_cast<char>(rng());
    spit(path, bytes);
    expect_corrupt(path, "random bytes");
  }
  // The HDF5 signature followed by garbage.
  std::string fake("\x89HDF\r\n\x1a\n", 8);
  fake += std::string(3000, '\x5a');
  spit(path, fake);
  expect_corrupt(path, "HDF5 signature and garbage");
}

TEST(ResultsStoreCorrupt, TruncatedRealFilesAreRejected) {
  ScratchDir dir;
  const std::string real = slurp(real_file(dir, 300));
  const std::string path = dir.file("cut.h5");
  for (double fraction : {0.05, 0.3, 0.5, 0.9, 0.999}) {
    spit(path, real.substr(0, static_cast<std::size_t>(fraction * static_cast<double>(real.size()))));
    expect_corrupt(path, "truncated to " + std::to_string(fraction));
  }
}

TEST(ResultsStoreCorrupt, ForeignAndInconsistentHdf5FilesAreRejected) {
  ScratchDir dir;
  H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
  const std::string foreign = dir.file("foreign.h5");
  {
    const hid_t f = H5Fcreate(foreign.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    const hsize_t dims[1] = {3};
    const hid_t space = H5Screate_simple(1, dims, nullptr);
    const hid_t d = H5Dcreate2(f, "data", H5T_NATIVE_DOUBLE, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    const double values[3] = {1, 2, 3};
    H5Dwrite(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, values);
    H5Dclose(d);
    H5Sclose(space);
    H5Fclose(f);
  }
  expect_corrupt(foreign, "HDF5 without our attributes");

  // One column shorter than the others.
  const std::string path = real_file(dir, 10);
  {
    const hid_t f = H5Fopen(path.c_str(), H5F_ACC_RDWR, H5P_DEFAULT);
    ASSERT_GE(f, 0);
    ASSERT_GE(H5Ldelete(f, "points/metrics/loss", H5P_DEFAULT), 0);
    const hsize_t dims[1] = {9};
    const hid_t space = H5Screate_simple(1, dims, nullptr);
    const hid_t d =
        H5Dcreate2(f, "points/metrics/loss", H5T_NATIVE_DOUBLE, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    H5Dclose(d);
    H5Sclose(space);
    H5Fclose(f);
  }
  expect_corrupt(path, "column of the wrong length");

  // Array offsets that point outside the values.
  std::filesystem::remove(path);
  const std::string offsets_path = real_file(dir, 3);
  {
    const hid_t f = H5Fopen(offsets_path.c_str(), H5F_ACC_RDWR, H5P_DEFAULT);
    const hid_t d = H5Dopen2(f, "points/arrays/loss_per_epoch/offsets", H5P_DEFAULT);
    ASSERT_GE(d, 0);
    const std::int64_t offsets[4] = {0, 100, 5, 9};
    ASSERT_GE(H5Dwrite(d, H5T_NATIVE_INT64, H5S_ALL, H5S_ALL, H5P_DEFAULT, offsets), 0);
    H5Dclose(d);
    H5Fclose(f);
  }
  expect_corrupt(offsets_path, "array offsets out of range");

  // A newer format version.
  const std::string newer = dir.file("newer.h5");
  std::filesystem::remove(path);
  std::filesystem::rename(real_file(dir, 2), newer);
  {
    const hid_t f = H5Fopen(newer.c_str(), H5F_ACC_RDWR, H5P_DEFAULT);
    const hid_t a = H5Aopen(f, "format_version", H5P_DEFAULT);
    const long long two = 2;
    H5Awrite(a, H5T_NATIVE_LLONG, &two);
    H5Aclose(a);
    H5Fclose(f);
  }
  expect_corrupt(newer, "format_version 2");
}

}  // namespace
}  // namespace xbarsweep::store
