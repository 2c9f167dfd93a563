#pragma once
/// \file
/// \brief Runs a sweep across the ranks of an MPI communicator.
///
/// Scheduling: rank 0 runs a coordinator thread beside its own worker, so every rank, rank 0
/// included, computes points. Workers ask the coordinator for work with point-to-point messages
/// that also carry their finished records; the coordinator answers with a chunk of point indices
/// sized so a chunk takes about 0.2 s (one point at a time when points are slow), hands out the
/// most expensive points first when the kind gives a cost hint, and is the results file's single
/// writer. A busy worker never blocks another: the coordinator thread answers while rank 0's
/// worker computes. (An MPI one-sided counter was the alternative; it needs passive-target
/// progress that OpenMPI does not guarantee across nodes, and results still need a writer.)

#include <mpi.h>

#include <cstdint>
#include <string>

#include "xbarsweep/config/experiment.hpp"
#include "xbarsweep/kinds/kind.hpp"
#include "xbarsweep/store/results_store.hpp"

namespace xbarsweep::sweep {

/// \brief Which part of a plan this job computes: points with index % count == index.
struct Shard {
  std::uint64_t index = 0;
  std::uint64_t count = 1;
};

/// \brief Parses "I/N" (0 <= I < N). \throws ConfigError with the expected form.
Shard parse_shard(const std::string& text);

/// \brief The results file of an experiment: \p out if given, else experiment.output, with
/// ".shard-I-of-N" inserted before the extension for a shard of N > 1.
std::string results_path(const config::Experiment& experiment, const std::string& out, const Shard& shard);

struct RunOptions {
  std::string output;  ///< results file (see results_path)
  Shard shard;
  bool retry_failed = false;        ///< compute points stored as failed again
  int threads_per_rank = 1;         ///< intra-op threads per point (results depend on it,
                                    ///< never on the rank count: run one rank per core)
  double progress_interval_s = -1;  ///< < 0: 1 s on a terminal, 10 s otherwise
  /// When the job must end (Unix time, s; 0 = no limit): no point starts whose expected time
  /// (completed points of this sweep, scaled by the kind's cost hint) exceeds the time left.
  double end_time = 0;
  store::RunInfo info;  ///< written beside the points (config text, versions)
};

/// \brief How a run ended, identical on every rank.
struct RunSummary {
  std::uint64_t planned = 0;       ///< points in this shard of the plan (distinct ids)
  std::uint64_t skipped = 0;       ///< already stored before this run
  std::uint64_t computed = 0;      ///< done in this run
  std::uint64_t failed = 0;        ///< failed in this run
  std::uint64_t done_total = 0;    ///< done in the file now
  std::uint64_t failed_total = 0;  ///< failed in the file now (within this plan)
  std::uint64_t deferred = 0;      ///< not started: expected to outlast the job's end time
  bool interrupted = false;        ///< a stop signal arrived
  int signal = 0;
  std::string error;  ///< a fatal error (store, I/O), empty when none
  double wall_s = 0;
};

/// \brief Exit codes of `xbarsweep run` (documented in README).
enum ExitCode : int {
  kExitOk = 0,           ///< every point of the plan is done
  kExitError = 1,        ///< an internal or I/O error; completed points are kept
  kExitBadInput = 2,     ///< bad config, arguments or results file; nothing was written
  kExitInterrupted = 3,  ///< stopped by SIGTERM/SIGINT/SIGUSR1, or points left for lack of time
                         ///< before the job's end; rerun the same command to resume
  kExitSomeFailed = 4,   ///< finished, but some points failed (see `xbarsweep status`)
};

/// \brief The exit code a summary calls for.
int exit_code(const RunSummary& summary);

/// \brief Runs (or resumes) the sweep; collective over \p comm. Requires MPI_THREAD_MULTIPLE.
/// \throws store::StoreError / CorruptResultsError (on every rank) when the results file cannot
/// be opened; nothing is written then.
RunSummary run_sweep(const config::Experiment& experiment, const kinds::Kind& kind, const RunOptions& options,
                     MPI_Comm comm);

/// \brief Installs SIGTERM/SIGINT/SIGUSR1 handlers that ask a running sweep to stop.
void install_stop_handlers();

}  // namespace xbarsweep::sweep
