#pragma once
/// \file
/// \brief The results file of a sweep: durable appends by a single writer, atomic snapshots.
///
/// Layout on disk, for results path R:
///  - R          the HDF5 snapshot, always complete: replaced only by write-temp, fsync, rename.
///  - R.journal  append-only log of records since the snapshot (length + CRC32 framed), fsync'd
///               at least every `sync_interval`. A torn tail (writer killed mid-record) is
///               detected by its CRC and ignored.
///  - R.lock     held with fcntl(F_SETLK) by the writing process; released by the kernel when the
///               process dies, so a killed sweep leaves no stale lock.
/// Readers (status, report, h5py) see R as of the last publish; status/report also replay R.journal.

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "xbarsweep/error.hpp"
#include "xbarsweep/store/record.hpp"

namespace xbarsweep::store {

/// \brief Facts about the run written beside the points.
struct RunInfo {
  std::string experiment;  ///< experiment name
  std::string kind;
  std::string config_text;                      ///< resolved config (YAML text plus overrides)
  std::map<std::string, std::string> versions;  ///< software name -> version
  std::vector<std::string> swept_paths;         ///< dotted paths varied by the sweep
  std::uint64_t planned_points = 0;             ///< points in the (shard of the) plan of the latest run;
                                                ///< stored as root attribute `planned_points`
  /// The inputs of `xbarsweep merge`, one line each (path, experiment, kind, points, versions);
  /// root attribute `merged_from`, one line per input. Empty for a file a sweep wrote.
  std::vector<std::string> merged_from;
};

/// \brief Everything read back from a results file.
struct Results {
  RunInfo info;
  std::vector<PointRecord> points;  ///< one per id (latest record wins), in file order
};

/// \brief Reads R (if it exists) and replays R.journal. \throws CorruptResultsError naming the
/// file when R is not an xbarsweep results file; StoreError when neither file exists.
Results read_results(const std::string& path);

/// \brief The single writer of a results file.
class ResultsWriter {
 public:
  /// \brief Takes the lock, loads what is already stored (snapshot plus journal), and opens the
  /// journal for appending. Creates nothing until the first append or publish.
  /// \throws StoreError if another process holds the lock; CorruptResultsError if R is corrupt.
  ResultsWriter(std::string path, RunInfo info);
  ~ResultsWriter();
  ResultsWriter(const ResultsWriter&) = delete;
  ResultsWriter& operator=(const ResultsWriter&) = delete;

  /// \brief Status of every stored point by id.
  const std::unordered_map<std::string, PointStatus>& known() const { return status_; }

  /// \brief Appends a record to the journal (buffered; replaces an earlier record of that id).
  void append(PointRecord record);

  /// \brief Writes buffered records to the journal and fsyncs it.
  void sync();

  /// \brief Writes a new snapshot atomically with every record, then empties the journal.
  void publish();

  /// \brief Calls sync() if the last sync is older than \p sync_every, and publish() if the
  /// last publish is older than max(\p publish_every, 20 x the last publish's duration).
  void maybe_flush(std::chrono::milliseconds sync_every, std::chrono::milliseconds publish_every);

  std::size_t size() const { return records_.size(); }
  /// \brief Every stored record (the newest of each id).
  const std::vector<PointRecord>& records() const { return records_; }
  const std::string& path() const { return path_; }
  /// \brief Whether every appended record is in the fsynced journal or snapshot (durable).
  bool synced() const;

 private:
  struct Impl;
  std::string path_;
  RunInfo info_;
  std::vector<PointRecord> records_;
  std::unordered_map<std::string, std::size_t> position_;
  std::unordered_map<std::string, PointStatus> status_;
  std::unique_ptr<Impl> impl_;
};

}  // namespace xbarsweep::store
