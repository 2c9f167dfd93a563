#pragma once
// The CLI's dealings with Slurm: the job's end time, requeueing the job, submitting. Every
// command runs through posix_spawnp with an argument vector: no value ever reaches a shell.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace xbarsweep::cli {

/// Runs \p argv (argv[0] looked up in PATH) and returns its standard output, or nothing when
/// it cannot be started or exits non-zero (\p error then says why, with its standard error).
std::optional<std::string> run_command(const std::vector<std::string>& argv, std::string* error = nullptr);

/// When this job must end, as Unix time (s); 0 when there is no limit or no job. From
/// XBARSWEEP_END_TIME (Unix seconds, for any scheduler and for tests), else SLURM_JOB_END_TIME,
/// else `squeue -h -j $SLURM_JOB_ID -o %e`.
double job_end_time();

/// The id that `scontrol requeue` takes for this job (an array task as JOB_TASK); empty outside
/// Slurm.
std::string slurm_job_id();

/// `scontrol requeue` of this job. \returns what happened, for the log.
std::string requeue_job(const std::string& job);

}  // namespace xbarsweep::cli

namespace xbarsweep::config {
struct Experiment;
}

namespace xbarsweep::cli {

/// What `xbarsweep submit` was asked for.
struct SubmitOptions {
  std::string config;             ///< the experiment file, as given
  std::vector<std::string> sets;  ///< --set overrides, passed on to every task
  std::string out;                ///< results file (default: the config's output)
  std::uint64_t array = 1;        ///< shards, one array task each
  int ranks_per_task = 0;         ///< MPI ranks of each task; 0: sbatch's (one, or -- -N/--ntasks-per-node)
  int threads = 1;                ///< intra-op threads per rank
  std::string time;               ///< sbatch --time, empty: the partition's default
  std::string partition;          ///< sbatch --partition, empty: the default
  bool requeue = false;           ///< tasks requeue themselves when stopped with points left
  std::vector<std::string> sbatch_args;  ///< after `--`: passed to both sbatch calls
  std::string xbarsweep;                 ///< this binary (absolute path)
  std::string source_dir;                ///< where slurm/sweep.sbatch is
};

/// `xbarsweep submit`: writes the sweep's batch script and a merge job's beside the results and
/// submits them (the merge job runs after every array task, whatever their end: afterany).
/// \returns the exit code (0 submitted, 2 bad input, 1 sbatch failed).
int submit(const config::Experiment& experiment, const SubmitOptions& options);

/// \p text quoted for a POSIX shell (single quotes; an embedded ' as '\'').
std::string shell_quote(const std::string& text);

}  // namespace xbarsweep::cli
