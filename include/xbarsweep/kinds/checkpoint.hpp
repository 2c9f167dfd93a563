#pragma once
/// \file
/// \brief A point's saved progress: the bytes a kind writes between epochs, so that a point
/// abandoned by a signal, a time limit or a kill resumes where it stopped instead of from zero.
///
/// The engine gives each point a path under the sweep's cache (PointContext::checkpoint_path,
/// keyed by point id) and removes the file once the point is recorded. A kind asks due() at its
/// boundaries (every batch, every epoch) and saves when it says so; what the bytes hold is the
/// kind's business (the torch kinds write nn::encode_state). No torch, MPI or HDF5 here.
///
/// File: "XBSCKPT1", payload length (u64 LE), FNV-1a 64 of the payload (u64 LE), payload. Written
/// to PATH.tmp.PID, fsynced, renamed over PATH, directory fsynced: a writer killed at any moment
/// leaves either the previous checkpoint or the new one, never a mixture.

#include <atomic>
#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace xbarsweep::kinds {

/// \brief The checkpoint of one point (or of one shared artefact, such as a pretrained
/// baseline), at one path.
class PointCheckpoint {
 public:
  /// \brief No checkpoints: load() finds nothing, due() is false, save() does nothing.
  PointCheckpoint() = default;
  /// \param path the file (its directory is created on the first save)
  /// \param interval_s due() at most this often (0: at every epoch's end, never mid-epoch)
  /// \param stop when set, due() is true at once: a stopping sweep saves before it abandons
  PointCheckpoint(std::string path, double interval_s, const std::atomic<bool>* stop);

  bool enabled() const { return !path_.empty(); }
  const std::string& path() const { return path_; }

  /// \brief The payload saved by an earlier run, or nothing when there is none. A file that is
  /// damaged (wrong magic, length or checksum: a disk that lied) is reported on stderr, set
  /// aside as PATH.bad and treated as absent: the point starts over rather than fail.
  std::optional<std::string> load() const;

  /// \brief Whether a boundary should save now: a stop was requested, or the interval has passed
  /// since the last save (or since construction). An interval of 0 means every epoch's end
  /// (\p epoch_end), not every batch: a save per batch would cost more than the batches.
  bool due(bool epoch_end = true) const;

  /// \brief Atomically replaces the checkpoint with \p payload. \throws CheckpointError naming
  /// the file and the failed operation (the previous checkpoint is then still in place).
  void save(std::string_view payload);

  /// \brief Moves a checkpoint that cannot be used (damaged, or a state of another kind or
  /// format) to PATH.bad, saying why on stderr: the point starts over rather than fail.
  void set_aside(const std::string& problem) const;

  /// \brief Removes the checkpoint (no error when there is none).
  void remove() const;

  /// \brief Where the engine keeps point \p id's checkpoint under \p cache_dir.
  static std::string path_for(const std::string& cache_dir, const std::string& id);

 private:
  std::string path_;
  double interval_s_ = 60.0;
  const std::atomic<bool>* stop_ = nullptr;
  std::chrono::steady_clock::time_point last_;
};

}  // namespace xbarsweep::kinds
