// The `xbarsweep` command: run, plan, status, report, merge, plot, kinds. Exit codes: see sweep::ExitCode.
#include <mpi.h>
#include <unistd.h>
#if defined(__GLIBC__)
#include <malloc.h>
#endif

#include <CLI/CLI.hpp>
#include <Kokkos_Core.hpp>
#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>

#include "slurm.hpp"
#include "versions.hpp"
#include "xbarsweep/config/checks.hpp"
#include "xbarsweep/config/experiment.hpp"
#include "xbarsweep/config/sweep_plan.hpp"
#include "xbarsweep/data/array_file.hpp"
#include "xbarsweep/kinds/builtin.hpp"
#include "xbarsweep/kinds/kind.hpp"
#include "xbarsweep/report/table.hpp"
#include "xbarsweep/store/hdf5_arrays.hpp"
#include "xbarsweep/store/merge.hpp"
#include "xbarsweep/store/results_store.hpp"
#include "xbarsweep/sweep/mpi.hpp"
#include "xbarsweep/sweep/runner.hpp"

extern "C" void openblas_set_num_threads(int) __attribute__((weak));  // OpenBLAS, when it is the BLAS
namespace xbarsweep::cli {
namespace {

using sweep::kExitBadInput;
using sweep::kExitError;
using sweep::kExitOk;

struct RunArgs {
  std::string config;
  std::string out;
  std::vector<std::string> sets;
  std::string shard = "0/1";
  bool retry_failed = false;
  int threads = 1;
  double progress_interval = -1;
  bool requeue = false;
};

struct PlanArgs {
  std::string config;
  std::vector<std::string> sets;
  std::uint64_t show = 20;
};

struct FileArgs {
  std::vector<std::string> files;  ///< paths or globs
  std::string format = "markdown";
  std::string output;
  std::vector<std::string> metrics;
  std::vector<std::string> mean_over;
  std::vector<std::string> where;
  std::string sort;
  std::string pareto;
  std::string relative_to;
  std::string caption;
  std::string label;
  bool force = false;  ///< read files of different experiments together
};

struct MergeArgs {
  std::string output;
  std::vector<std::string> inputs;
  bool force = false;
};

// The results of one or more files (globs expanded), as one: report and status read shards and
// reruns together, as merge would write them, and with \p force files of different experiments
// (a table across experiments). Notes about duplicates go to stderr.
store::Results read_all(const std::vector<std::string>& patterns, std::string* label, bool force) {
  const auto paths = store::expand_result_paths(patterns);
  *label = paths.size() == 1 ? paths.front() : std::to_string(paths.size()) + " files";
  if (paths.size() == 1) return store::read_results(paths.front());
  auto combined = store::combine_results(paths, force);
  for (const auto& note : combined.notes) std::fprintf(stderr, "xbarsweep: %s\n", note.c_str());
  if (combined.experiments.size() > 1) {
    std::string names;
    for (const auto& e : combined.experiments) names += (names.empty() ? "" : ", ") + e;
    combined.results.info.experiment = names;
  }
  return std::move(combined.results);
}

// What a user reads of an error: the message of a mistake in their input or of a failed file
// operation, without the place in xbarsweep's source that raised it; that place only for bugs
// and unexpected failures (InternalError and errors from outside xbarsweep).
std::string user_text(const std::exception& e) {
  const auto* error = dynamic_cast<const Error*>(&e);
  if (error == nullptr || dynamic_cast<const InternalError*>(&e) != nullptr) return e.what();
  return error->message();
}

std::string config_text(const config::Experiment& e) {
  std::string text = e.source_text;
  if (!e.overrides.empty()) {
    text += "\n# command-line overrides:\n";
    for (const auto& o : e.overrides) text += "#   --set " + o + "\n";
  }
  return text;
}

// Loads and validates an experiment: the schema's checks of each value, then the kind's semantic
// checks on every point of the plan. \throws ConfigError before any work starts.
config::Experiment load(const std::string& path, const std::vector<std::string>& sets) {
  config::Experiment experiment = config::load_experiment(path, sets, kinds::builtin_kinds().schemas());
  config::check_plan(experiment, kinds::builtin_kinds().find(experiment.kind)->checks());
  return experiment;
}

void print_notes(const config::Experiment& experiment) {
  for (const std::string& note : experiment.notes) std::fprintf(stderr, "xbarsweep: %s\n", note.c_str());
}

int cmd_run(const RunArgs& args) {
  int provided = 0;
  XBARSWEEP_MPI(MPI_Init_thread(nullptr, nullptr, MPI_THREAD_MULTIPLE, &provided));
  // Errors come back as codes (checked by XBARSWEEP_MPI) instead of aborting every rank.
  XBARSWEEP_MPI(MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN));
  sweep::install_stop_handlers();
  int rank = 0;
  XBARSWEEP_MPI(MPI_Comm_rank(MPI_COMM_WORLD, &rank));
  auto finish = [](int code) {
    if (MPI_Finalize() != MPI_SUCCESS) std::fprintf(stderr, "xbarsweep: MPI_Finalize failed\n");
    return code;
  };

  // Every rank validates the same inputs; all agree before anything is written.
  std::string problem;
  config::Experiment experiment;
  sweep::Shard shard;
  try {
    shard = sweep::parse_shard(args.shard);
    experiment = load(args.config, args.sets);
  } catch (const std::exception& e) {
    problem = user_text(e);
  }
  int bad = problem.empty() ? 0 : 1, any_bad = 0;
  XBARSWEEP_MPI(MPI_Allreduce(&bad, &any_bad, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD));
  if (any_bad) {
    if (rank == 0)
      std::fprintf(stderr, "xbarsweep: %s\n",
                   problem.empty() ? "bad input on another rank" : problem.c_str());
    return finish(kExitBadInput);
  }
  if (rank == 0) print_notes(experiment);

  const kinds::Kind& kind = *kinds::builtin_kinds().find(experiment.kind);
  const config::SweepPlan plan(experiment);
  sweep::RunOptions options;
  options.output = sweep::results_path(experiment, args.out, shard);
  options.shard = shard;
  options.retry_failed = args.retry_failed;
  options.threads_per_rank = args.threads;
  options.progress_interval_s = args.progress_interval;
  options.info.experiment = experiment.name;
  options.info.kind = experiment.kind;
  options.info.config_text = config_text(experiment);
  options.info.versions = software_versions();
  options.info.swept_paths = plan.swept_paths();
  options.info.planned_points =
      plan.size() > shard.index ? (plan.size() - shard.index + shard.count - 1) / shard.count : 0;
  if (rank == 0) options.end_time = cli::job_end_time();  // only rank 0 hands out points
  const char* requeue_env = std::getenv("XBARSWEEP_REQUEUE");
  const bool requeue = args.requeue || (requeue_env != nullptr && std::string(requeue_env) == "1");

  // The threads of a point are LibTorch's and Kokkos' (a threaded backend runs each block of
  // rows' tile GEMMs single-threaded): OpenBLAS's own threads would oversubscribe the cores, and
  // its threaded sgemm rounds differently from its single-threaded one, so that results would
  // depend on the machine's core count (and on OPENBLAS_NUM_THREADS) rather than on --threads.
  if (openblas_set_num_threads != nullptr) openblas_set_num_threads(1);
  Kokkos::InitArguments kokkos_args;
  kokkos_args.disable_warnings = true;
  kokkos_args.num_threads = args.threads;  // host-parallel backends (OpenMP, Threads); Serial ignores it
  Kokkos::initialize(kokkos_args);
  int code = kExitOk;
  try {
    const sweep::RunSummary s = sweep::run_sweep(experiment, kind, options, MPI_COMM_WORLD);
    code = sweep::exit_code(s);
    if (rank == 0) {
      std::printf("%s: %llu/%llu points done, %llu failed (this run: %llu computed, %llu failed) in %.3f s\n",
                  options.output.c_str(), static_cast<unsigned long long>(s.done_total),
                  static_cast<unsigned long long>(s.planned), static_cast<unsigned long long>(s.failed_total),
                  static_cast<unsigned long long>(s.computed), static_cast<unsigned long long>(s.failed),
                  s.wall_s);
      if (!s.error.empty())
        std::fprintf(stderr, "xbarsweep: error: %s (completed points are kept)\n", s.error.c_str());
      if (code == sweep::kExitInterrupted && s.deferred > 0) {
        std::fprintf(stderr,
                     "xbarsweep: %llu point(s) not started: expected to outlast the job's end (see the log "
                     "above); run the same command again (a requeued or new job) to compute them\n",
                     static_cast<unsigned long long>(s.deferred));
      }
      if (code == sweep::kExitInterrupted && s.signal != 0) {
        std::fprintf(
            stderr,
            "xbarsweep: interrupted by signal %d; points in flight saved their checkpoints; run the same "
            "command again to resume\n",
            s.signal);
      }
      if (code == sweep::kExitSomeFailed) {
        std::fprintf(
            stderr,
            "xbarsweep: %llu point(s) failed: `xbarsweep status %s` lists them; --retry-failed reruns them\n",
            static_cast<unsigned long long>(s.failed_total), options.output.c_str());
      }
    }
  } catch (const store::StoreError& e) {  // CorruptResultsError too
    if (rank == 0) std::fprintf(stderr, "xbarsweep: %s\n", user_text(e).c_str());
    code = kExitBadInput;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "xbarsweep: rank %d: %s\n", rank, e.what());
    code = kExitError;
  }
  Kokkos::finalize();
  const int rc = finish(code);
  // Last of all, with the results file closed: a requeue ends this job at once.
  if (rank == 0 && requeue && rc == sweep::kExitInterrupted) {
    const std::string job = cli::slurm_job_id();
    std::fprintf(
        stderr, "xbarsweep: %s\n",
        job.empty() ? "--requeue: not in a Slurm job, nothing to requeue" : cli::requeue_job(job).c_str());
  }
  return rc;
}

int cmd_submit(cli::SubmitOptions options) {
  const config::Experiment experiment = load(options.config, options.sets);
  print_notes(experiment);
  options.xbarsweep = std::filesystem::read_symlink("/proc/self/exe").string();
  options.source_dir = XBARSWEEP_SOURCE_DIR;
  return cli::submit(experiment, options);
}

int cmd_plan(const PlanArgs& args) {
  const config::Experiment experiment = load(args.config, args.sets);
  print_notes(experiment);
  const config::SweepPlan plan(experiment);
  std::printf("experiment %s (kind %s): %llu points\n", experiment.name.c_str(), experiment.kind.c_str(),
              static_cast<unsigned long long>(plan.size()));
  std::printf("results file: %s\n", experiment.output.c_str());
  report::Table table;
  table.columns = {"index", "id"};
  for (const auto& p : plan.swept_paths()) table.columns.push_back(p);
  const std::uint64_t shown = std::min<std::uint64_t>(plan.size(), args.show);
  for (std::uint64_t i = 0; i < shown; ++i) {
    const config::Params params = plan.point(i);
    std::vector<std::string> row = {std::to_string(i), config::point_id(params)};
    for (const auto& p : plan.swept_paths()) row.push_back(config::display(*params.find(p)));
    table.rows.push_back(std::move(row));
  }
  std::printf("%s", report::to_markdown(table).c_str());
  if (shown < plan.size()) {
    std::printf("... %llu more (--show N prints more)\n",
                static_cast<unsigned long long>(plan.size() - shown));
  }
  return kExitOk;
}

int cmd_status(const FileArgs& args) {
  std::string label;
  const store::Results results = read_all(args.files, &label, args.force);
  const report::StatusSummary s = report::summarize(results);
  std::printf("%s: experiment %s (kind %s)\n", label.c_str(), results.info.experiment.c_str(),
              results.info.kind.c_str());
  std::printf("done %zu, failed %zu", s.done, s.failed);
  if (s.planned > 0) {
    const std::uint64_t stored = s.done + s.failed;
    std::printf(", pending %llu, planned %llu",
                static_cast<unsigned long long>(s.planned > stored ? s.planned - stored : 0),
                static_cast<unsigned long long>(s.planned));
  }
  std::printf("\n");
  for (const auto& [id, error] : s.failures) std::printf("failed %s: %s\n", id.c_str(), error.c_str());
  return kExitOk;
}

int cmd_report(const FileArgs& args) {
  std::string label;
  const store::Results results = read_all(args.files, &label, args.force);
  report::TableOptions options;
  options.metrics = args.metrics;
  options.mean_over = args.mean_over;
  std::string text;
  try {
    for (const auto& w : args.where) options.where.push_back(report::parse_where(w));
    if (!args.sort.empty()) report::parse_sort(args.sort, options);
    if (!args.pareto.empty()) options.pareto = report::parse_objectives(args.pareto);
    if (!args.relative_to.empty())
      options.relative_to = report::parse_where(args.relative_to, "--relative-to");
    const report::Table table = report::results_table(results, options);
    if (args.format == "csv") text = report::to_csv(table);
    if (args.format == "markdown") text = report::to_markdown(table);
    if (args.format == "json") text = report::to_json(table);
    if (args.format == "latex") text = report::to_latex(table, {args.caption, args.label});
  } catch (const report::ReportError& e) {
    throw report::ReportError(label + ": " + e.message());
  }
  if (args.output.empty()) {
    std::fwrite(text.data(), 1, text.size(), stdout);
  } else {
    std::ofstream out(args.output);
    out << text;
    if (!out) throw store::StoreError(args.output + ": cannot write the report");
  }
  return kExitOk;
}

int cmd_merge(const MergeArgs& args) {
  const auto inputs = store::expand_result_paths(args.inputs);
  std::error_code ec;
  const bool output_is_input = std::any_of(inputs.begin(), inputs.end(), [&](const std::string& in) {
    return std::filesystem::equivalent(in, args.output, ec);
  });
  if (std::filesystem::exists(args.output, ec) && !output_is_input)
    throw store::StoreError(args.output +
                            " exists and is not one of the inputs; expected a new file (or the file "
                            "itself among the inputs, to merge into it)");
  const auto combined = store::combine_results(inputs, args.force);
  for (const auto& note : combined.notes) std::fprintf(stderr, "xbarsweep: %s\n", note.c_str());
  store::write_results(args.output, combined.results);
  const auto s = report::summarize(combined.results);
  std::printf("%s: %zu points (done %zu, failed %zu) from %zu files\n", args.output.c_str(),
              combined.results.points.size(), s.done, s.failed, inputs.size());
  return kExitOk;
}

// `xbarsweep plot ...` is the Python companion's `python3 -m xbarsweep plot ...` (matplotlib),
// run from this source tree's python/ directory.
int cmd_plot(const std::vector<std::string>& args) {
  std::string path = std::string(XBARSWEEP_SOURCE_DIR) + "/python";
  if (const char* existing = std::getenv("PYTHONPATH"); existing != nullptr && *existing != '\0')
    path += std::string(":") + existing;
  ::setenv("PYTHONPATH", path.c_str(), 1);
  const char* python = std::getenv("XBARSWEEP_PYTHON");
  std::vector<std::string> argv_text = {python != nullptr && *python != '\0' ? python : "/usr/bin/python3",
                                        "-m", "xbarsweep", "plot"};
  argv_text.insert(argv_text.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& a : argv_text) argv.push_back(a.data());
  argv.push_back(nullptr);
  std::fflush(stdout);
  ::execv(argv[0], argv.data());
  std::fprintf(stderr, "xbarsweep: cannot run %s (%s); expected Debian's python3 with python3-matplotlib\n",
               argv[0], std::strerror(errno));
  return kExitError;
}

// "a real >= 0 and < 1" as a table cell: "[0, 1)", "> 0", "one of a, b".
std::string range_text(const config::ParamSpec& spec) {
  if (!spec.choices.empty()) {
    std::string out;
    for (const auto& c : spec.choices) out += (out.empty() ? "" : ", ") + c;
    return out;
  }
  const auto number = [](double v) { return config::display(config::Value(v)); };
  if (spec.min && spec.max)
    return (spec.min_exclusive ? "(" : "[") + number(*spec.min) + ", " + number(*spec.max) +
           (spec.max_exclusive ? ")" : "]");
  if (spec.min) return (spec.min_exclusive ? "> " : ">= ") + number(*spec.min);
  if (spec.max) return (spec.max_exclusive ? "< " : "<= ") + number(*spec.max);
  return "";
}

// Every parameter of every kind, one table per section, from the declarations themselves:
// docs/parameters.md is this output (a test keeps them equal).
int cmd_kinds_markdown() {
  struct Row {
    config::ParamSpec spec;
    std::vector<std::string> kinds;
    std::map<std::string, std::vector<std::string>> defaults;  // default text -> kinds
  };
  std::map<std::string, std::vector<Row>> sections;
  for (const auto& name : kinds::builtin_kinds().names()) {
    for (const auto& spec : kinds::builtin_kinds().find(name)->schema().specs()) {
      auto& rows = sections[spec.path.substr(0, spec.path.find('.'))];
      auto row =
          std::find_if(rows.begin(), rows.end(), [&](const Row& r) { return r.spec.path == spec.path; });
      if (row == rows.end()) row = rows.insert(rows.end(), Row{spec, {}, {}});
      row->kinds.push_back(name);
      row->defaults[config::display(spec.default_value)].push_back(name);
    }
  }
  std::printf(
      "# Parameters\n\nEvery parameter of every experiment kind, by section: `xbarsweep kinds --format "
      "markdown`\n"
      "prints this page from the parameter declarations (a test keeps it equal). Types and ranges are\n"
      "checked when a config loads; [config.md](config.md) has the file format and the semantic checks.\n");
  for (const auto& [section, rows] : sections) {
    std::printf("\n## `%s`\n\n", section.c_str());
    report::Table table;
    table.columns = {"parameter", "type", "unit", "default", "range", "kinds", "description"};
    for (const Row& r : rows) {
      std::string defaults;
      for (const auto& [text, kinds_with] : r.defaults) {
        std::string who;
        if (r.defaults.size() > 1)
          for (const auto& k : kinds_with) who += (who.empty() ? " (" : ", ") + k;
        defaults += (defaults.empty() ? "" : "; ") +
                    (text.empty() ? std::string("`\"\"`") : "`" + text + "`") +
                    (who.empty() ? "" : who + ")");
      }
      std::string kinds_text;
      for (const auto& k : r.kinds) kinds_text += (kinds_text.empty() ? "" : ", ") + k;
      table.rows.push_back({"`" + r.spec.path + "`", std::string(config::type_name(r.spec.type)), r.spec.unit,
                            defaults, range_text(r.spec), kinds_text, r.spec.doc});
    }
    std::printf("%s", report::to_markdown(table).c_str());
  }
  return kExitOk;
}

int cmd_kinds() {
  for (const auto& name : kinds::builtin_kinds().names()) {
    const kinds::Kind& kind = *kinds::builtin_kinds().find(name);
    std::printf("%s: %s\n", name.c_str(), kind.summary().c_str());
    const config::Schema schema = kind.schema();
    for (const auto& spec : schema.specs()) {
      std::printf("  %-28s %-6s default %-10s %s\n", spec.path.c_str(),
                  std::string(config::type_name(spec.type)).c_str(),
                  (config::display(spec.default_value) + (spec.unit.empty() ? "" : " " + spec.unit)).c_str(),
                  spec.doc.c_str());
    }
  }
  return kExitOk;
}

}  // namespace
}  // namespace xbarsweep::cli

namespace {

// LibTorch training frees and reallocates its multi-megabyte activations at every step; glibc's
// defaults hand them back to the kernel and fault them in again, which dominated a clstm point's
// CPU time (bench/README.md, "Memory allocator"). Keeping freed memory mapped costs about 50 MB
// of peak memory. A user's own MALLOC_* or GLIBC_TUNABLES wins.
void keep_freed_memory_mapped() {
#if defined(__GLIBC__)
  if (std::getenv("GLIBC_TUNABLES") != nullptr || std::getenv("MALLOC_TRIM_THRESHOLD_") != nullptr ||
      std::getenv("MALLOC_MMAP_THRESHOLD_") != nullptr) {
    return;
  }
  mallopt(M_MMAP_THRESHOLD, 32 << 20);
  mallopt(M_TRIM_THRESHOLD, 1 << 30);
#endif
}

}  // namespace

int main(int argc, char** argv) {
  using namespace xbarsweep::cli;
  keep_freed_memory_mapped();
  // The `tensors` data set reads HDF5 files through the store: the data concept knows no HDF5.
  xbarsweep::data::register_array_format({".h5", ".hdf5"}, xbarsweep::store::hdf5_array_format());
  CLI::App app{"xbarsweep: hyperparameter sweeps for crossbar and block-circulant compression, over MPI"};
  app.require_subcommand(1);
  app.footer(
      "Exit codes: 0 all points done; 1 internal or I/O error (completed points kept); 2 bad input "
      "(config, arguments, results file; nothing written); 3 stopped by a signal or the job's time limit "
      "with points left (rerun to resume); 4 finished with failed points.");

  RunArgs run;
  auto* run_cmd = app.add_subcommand("run", "run or resume a sweep (under mpirun for several ranks)");
  run_cmd->add_option("config", run.config, "experiment YAML file")->required();
  run_cmd->add_option("--out", run.out, "results file (default: the config's `output`)");
  run_cmd->add_option("--set", run.sets, "override a parameter: dotted.path=value (repeatable)");
  run_cmd->add_option("--shard", run.shard, "compute only shard I of N (points with index % N == I)");
  run_cmd->add_flag("--retry-failed", run.retry_failed, "compute points stored as failed again");
  run_cmd->add_option("--threads", run.threads,
                      "intra-op threads per rank (default 1: run one rank per core; results depend on this, "
                      "never on the rank count)");
  run_cmd->add_option("--progress-interval", run.progress_interval, "seconds between progress lines");
  run_cmd->add_flag("--requeue", run.requeue,
                    "in a Slurm job, requeue it (scontrol requeue) when the sweep stops with points left "
                    "(a signal or the job's time limit); also XBARSWEEP_REQUEUE=1");

  xbarsweep::cli::SubmitOptions submit_args;
  auto* submit_cmd = app.add_subcommand(
      "submit",
      "submit a sweep to Slurm as a job array of shards plus a merge job (afterany) that writes one "
      "results file; the batch scripts are kept beside the results. Arguments after -- go to both sbatch "
      "calls");
  submit_cmd->add_option("config", submit_args.config, "experiment YAML file")->required();
  submit_cmd->allow_extras();  // after --: more sbatch options, for both jobs
  submit_cmd
      ->add_option("--array", submit_args.array,
                   "shards, one array task each (at most the cluster's MaxArraySize)")
      ->check(CLI::PositiveNumber);
  submit_cmd->add_option("--ranks-per-task", submit_args.ranks_per_task, "MPI ranks of each task")
      ->check(CLI::PositiveNumber);
  submit_cmd->add_option("--threads", submit_args.threads, "intra-op threads per rank")
      ->check(CLI::PositiveNumber);
  submit_cmd->add_option("--time", submit_args.time, "each task's time limit (sbatch --time, e.g. 2:00:00)");
  submit_cmd->add_option("--partition", submit_args.partition, "partition of both jobs");
  submit_cmd->add_flag("--requeue", submit_args.requeue,
                       "a task stopped with points left (preemption, its time limit) requeues itself");
  submit_cmd->add_option("--out", submit_args.out, "results file (default: the config's `output`)");
  submit_cmd->add_option("--set", submit_args.sets, "override a parameter: dotted.path=value (repeatable)");

  PlanArgs plan;
  auto* plan_cmd = app.add_subcommand("plan", "validate a config and print its points");
  plan_cmd->add_option("config", plan.config, "experiment YAML file")->required();
  plan_cmd->add_option("--set", plan.sets, "override a parameter: dotted.path=value (repeatable)");
  plan_cmd->add_option("--show", plan.show, "how many points to print (default 20)");

  FileArgs status;
  auto* status_cmd = app.add_subcommand("status", "done, failed and pending counts of a results file");
  status_cmd->add_option("files", status.files, "results files (.h5) or globs, read as one")->required();
  status_cmd->add_flag("--force", status.force, "read files of different experiments together too");

  FileArgs rep;
  auto* report_cmd = app.add_subcommand(
      "report", "one row per point (id, status, swept parameters, metrics), or averaged over seeds");
  report_cmd->add_option("files", rep.files, "results files (.h5) or globs, read as one (as merge would)")
      ->required();
  report_cmd->add_option("--format", rep.format, "markdown (default), csv, json or latex (booktabs)")
      ->check(CLI::IsMember({"csv", "markdown", "json", "latex"}));
  report_cmd->add_option("-o,--output", rep.output, "write to this file instead of stdout");
  report_cmd->add_option("--metrics", rep.metrics, "only these metrics, in this order (comma-separated)")
      ->delimiter(',');
  report_cmd
      ->add_option("--mean-over", rep.mean_over,
                   "average over these swept parameters (e.g. seed): one row per group of the others, "
                   "with <metric>_mean, <metric>_std and <metric>_ci95 (95% Student t half-width)")
      ->delimiter(',');
  report_cmd->add_option("--where", rep.where,
                         "keep points whose parameter equals the value: path=value (repeatable)");
  report_cmd->add_option("--sort", rep.sort, "order rows by a metric or parameter: name or name:desc");
  report_cmd->add_option("--pareto", rep.pareto,
                         "only the non-dominated done points: metric:max|min, comma-separated (any number)");
  report_cmd->add_option(
      "--relative-to", rep.relative_to,
      "path=value: every metric m also as m_diff = m - m of the point equal in every other "
      "parameter with path=value (e.g. clstm.block_size=1: against the dense model of the "
      "same seed); ask for them with --metrics accuracy_diff,...");
  report_cmd->add_flag("--force", rep.force,
                       "read files of different experiments together too (one table across experiments; "
                       "the parameters that differ become columns)");
  report_cmd->add_option("--caption", rep.caption, "latex: the table's caption");
  report_cmd->add_option("--label", rep.label, "latex: the table's \\label");

  MergeArgs merge;
  auto* merge_cmd = app.add_subcommand(
      "merge", "one results file from shards and reruns of one experiment, deduplicated by point id");
  merge_cmd->add_option("output", merge.output, "the merged results file (written atomically)")->required();
  merge_cmd->add_option("inputs", merge.inputs, "results files or globs")->required();
  merge_cmd->add_flag("--force", merge.force, "merge files of different experiments too");

  std::vector<std::string> plot_args;
  auto* plot_cmd = app.add_subcommand(
      "plot",
      "a figure from results files (python3 -m xbarsweep plot: matplotlib); --help lists its options");
  plot_cmd->allow_extras();
  plot_cmd->set_help_flag();
  plot_cmd->prefix_command();

  std::string kinds_format = "text";
  auto* kinds_cmd = app.add_subcommand("kinds", "list experiment kinds and their parameters");
  kinds_cmd
      ->add_option("--format", kinds_format, "text (by kind) or markdown (by section: docs/parameters.md)")
      ->check(CLI::IsMember({"text", "markdown"}));

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    app.exit(e);
    return xbarsweep::sweep::kExitBadInput;
  }

  try {
    if (*run_cmd) return cmd_run(run);
    if (*plan_cmd) return cmd_plan(plan);
    if (*submit_cmd) {
      for (const auto& extra : submit_cmd->remaining())
        if (extra != "--") submit_args.sbatch_args.push_back(extra);
      return cmd_submit(submit_args);
    }
    if (*status_cmd) return cmd_status(status);
    if (*report_cmd) return cmd_report(rep);
    if (*merge_cmd) return cmd_merge(merge);
    if (*plot_cmd) return cmd_plot(plot_cmd->remaining());
    if (*kinds_cmd) return kinds_format == "markdown" ? cmd_kinds_markdown() : cmd_kinds();
  } catch (const xbarsweep::config::ConfigError& e) {
    std::fprintf(stderr, "xbarsweep: %s\n", user_text(e).c_str());
    return xbarsweep::sweep::kExitBadInput;
  } catch (const xbarsweep::store::StoreError& e) {
    std::fprintf(stderr, "xbarsweep: %s\n", user_text(e).c_str());
    return xbarsweep::sweep::kExitBadInput;
  } catch (const xbarsweep::report::ReportError& e) {
    std::fprintf(stderr, "xbarsweep: %s\n", user_text(e).c_str());
    return xbarsweep::sweep::kExitBadInput;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "xbarsweep: error: %s\n", e.what());
    return xbarsweep::sweep::kExitError;
  }
  return xbarsweep::sweep::kExitBadInput;
}
