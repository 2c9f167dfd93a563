// `xbarsweep submit`: a sweep as a Slurm job array plus a dependent merge job.
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "slurm.hpp"
#include "xbarsweep/config/experiment.hpp"
#include "xbarsweep/config/sweep_plan.hpp"
#include "xbarsweep/sweep/runner.hpp"

namespace xbarsweep::cli {
namespace {

// MaxArraySize from `scontrol show config` (Slurm's default 1001 when it cannot be read). Array
// task ids run from 0 to MaxArraySize - 1.
std::uint64_t max_array_size() {
  const auto out = run_command({"scontrol", "show", "config"});
  if (!out) return 1001;
  std::istringstream lines(*out);
  std::string line;
  while (std::getline(lines, line)) {
    if (line.rfind("MaxArraySize", 0) != 0) continue;
    const auto eq = line.find('=');
    if (eq == std::string::npos) break;
    try {
      return std::max<std::uint64_t>(1, std::stoull(line.substr(eq + 1)));
    } catch (const std::exception&) {
      break;
    }
  }
  return 1001;
}

std::string absolute(const std::string& path) {
  return std::filesystem::absolute(path).lexically_normal().string();
}

// The part of a results path before its extension: results/a.h5 -> results/a.
std::string stem_of(const std::string& path) {
  const auto slash = path.find_last_of('/');
  const auto dot = path.find_last_of('.');
  return dot != std::string::npos && (slash == std::string::npos || dot > slash) ? path.substr(0, dot) : path;
}

void write_script(const std::string& path, const std::string& text) {
  const std::string tmp = path + ".tmp";
  {
    std::ofstream f(tmp);
    f << text;
    if (!f) throw Error(tmp + ": cannot write the batch script");
  }
  std::filesystem::permissions(tmp, std::filesystem::perms::owner_all | std::filesystem::perms::group_read |
                                        std::filesystem::perms::others_read);
  std::filesystem::rename(tmp, path);
}

// "12345" or "12345;cluster" from sbatch --parsable.
std::string job_id_of(const std::string& out) {
  std::string id = out.substr(0, out.find_first_of(";\n"));
  return id;
}

// A value shown in a script's comment line: a line break there would end the comment.
std::string comment_safe(std::string text) {
  for (char& c : text)
    if (c == '\n' || c == '\r') c = ' ';
  return text;
}

std::string now_text() {
  char buf[64];
  const std::time_t t = std::time(nullptr);
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S %Z", std::localtime(&t));
  return buf;
}

}  // namespace

std::string shell_quote(const std::string& text) {
  std::string out = "'";
  for (const char c : text) {
    if (c == '\'') {
      out += "'\\''";
    } else {
      out += c;
    }
  }
  return out + "'";
}

int submit(const config::Experiment& experiment, const SubmitOptions& o) {
  const config::SweepPlan plan(experiment);
  const std::uint64_t points = plan.size();
  if (points == 0) {
    std::fprintf(stderr, "xbarsweep submit: %s has no points to compute\n", experiment.path.c_str());
    return sweep::kExitBadInput;
  }
  const std::uint64_t max_array = max_array_size();
  std::uint64_t tasks = std::max<std::uint64_t>(1, o.array);
  if (tasks > max_array) {
    std::fprintf(
        stderr,
        "xbarsweep submit: --array %llu exceeds the cluster's MaxArraySize (%llu): using %llu shards\n",
        static_cast<unsigned long long>(tasks), static_cast<unsigned long long>(max_array),
        static_cast<unsigned long long>(max_array));
    tasks = max_array;
  }
  if (tasks > points) {
    std::fprintf(stderr,
                 "xbarsweep submit: --array %llu exceeds the %llu points of the sweep: using %llu shards\n",
                 static_cast<unsigned long long>(tasks), static_cast<unsigned long long>(points),
                 static_cast<unsigned long long>(points));
    tasks = points;
  }
  const std::string results = absolute(o.out.empty() ? experiment.output : o.out);
  std::filesystem::create_directories(std::filesystem::path(results).parent_path());
  const std::string stem = stem_of(results);
  const std::string script = stem + ".sweep.sbatch";
  const std::string merge_script = stem + ".merge.sbatch";

  // The sweep: every task runs slurm/sweep.sbatch (mpirun, the warning signal passed on) on its
  // shard. Every value is single-quoted; sweep.sbatch itself expands $SLURM_ARRAY_TASK_ID.
  std::ostringstream s;
  s << "#!/usr/bin/env bash\n"
    << "# Written by `xbarsweep submit` on " << now_text() << " and kept for the record:\n"
    << "# " << tasks << " shard(s) of " << points << " point(s) of " << experiment.name << " into "
    << comment_safe(results) << "\n"
    << "#SBATCH --signal=B:USR1@60\n";
  if (tasks > 1) s << "#SBATCH --array=0-" << tasks - 1 << "\n";
  if (o.requeue) s << "#SBATCH --requeue\n";
  s << "# Paths, --time and --partition go on sbatch's command line (printed below): #SBATCH lines have\n"
    << "# quoting rules of their own.\n"
    << "set -euo pipefail\n"
    << "export XBARSWEEP=" << shell_quote(o.xbarsweep) << "\n"
    << "export XBARSWEEP_THREADS=" << o.threads << "\n"
    << "exec bash " << shell_quote(o.source_dir + "/slurm/sweep.sbatch") << " "
    << shell_quote(absolute(o.config)) << " --out " << shell_quote(results);
  for (const auto& set : o.sets) s << " --set " << shell_quote(set);
  if (tasks > 1) s << " --shard " << shell_quote("$SLURM_ARRAY_TASK_ID/" + std::to_string(tasks));
  if (o.requeue) s << " --requeue";
  s << "\n";
  // sbatch's own flags, as arguments (no shell): -D, the tasks' working directory, where the
  // config's relative paths resolve; then the user's, which win over the script's #SBATCH lines.
  std::vector<std::string> sbatch = {"sbatch", "--parsable", "-D", std::filesystem::current_path().string()};
  if (!o.partition.empty()) sbatch.push_back("--partition=" + o.partition);
  sbatch.insert(sbatch.end(), o.sbatch_args.begin(), o.sbatch_args.end());
  std::vector<std::string> sweep_call = sbatch;
  // Ranks per task only when asked: a --ntasks would override `-- -N 4 --ntasks-per-node=32`.
  if (o.ranks_per_task > 0) sweep_call.push_back("--ntasks=" + std::to_string(o.ranks_per_task));
  sweep_call.push_back("--job-name=xbarsweep-" + experiment.name);
  sweep_call.push_back("--output=" + stem + (tasks > 1 ? ".slurm-%A_%a.out" : ".slurm-%j.out"));
  if (!o.time.empty()) sweep_call.push_back("--time=" + o.time);
  sweep_call.push_back(script);
  const auto quoted = [](const std::vector<std::string>& argv) {
    std::string line;
    for (const auto& a : argv) line += (line.empty() ? "" : " ") + shell_quote(a);
    return line;
  };
  s << "# submitted as: " << comment_safe(quoted(sweep_call)) << "\n";
  write_script(script, s.str());
  std::string error;
  const auto submitted = run_command(sweep_call, &error);
  if (!submitted) {
    std::fprintf(stderr, "xbarsweep submit: %s\n", error.c_str());
    return sweep::kExitError;
  }
  const std::string job = job_id_of(*submitted);
  std::printf("submitted %s: job %s, %llu shard(s) of %llu point(s) (script %s)\n", experiment.name.c_str(),
              job.c_str(), static_cast<unsigned long long>(tasks), static_cast<unsigned long long>(points),
              script.c_str());
  if (tasks == 1) {
    std::printf("results: %s\n", results.c_str());
    return 0;
  }

  // The merge: once every task has ended (afterany: a failed or cancelled one too; merge then
  // says which shard file is missing), one file from the shards.
  std::ostringstream m;
  m << "#!/usr/bin/env bash\n"
    << "# Written by `xbarsweep submit` on " << now_text() << ": merges the shards of job " << job << "\n"
    << "#SBATCH --ntasks=1\n"
    << "set -euo pipefail\n"
    << "exec " << shell_quote(o.xbarsweep) << " merge " << shell_quote(results);
  for (std::uint64_t i = 0; i < tasks; ++i) {
    m << " " << shell_quote(sweep::results_path(experiment, results, sweep::Shard{i, tasks}));
  }
  m << "\n";
  std::vector<std::string> merge_call = sbatch;
  merge_call.push_back("--job-name=xbarsweep-merge-" + experiment.name);
  merge_call.push_back("--output=" + stem + ".merge-%j.out");
  merge_call.push_back("--dependency=afterany:" + job);
  merge_call.push_back(merge_script);
  m << "# submitted as: " << comment_safe(quoted(merge_call)) << "\n";
  write_script(merge_script, m.str());
  const auto merged = run_command(merge_call, &error);
  if (!merged) {
    std::fprintf(stderr, "xbarsweep submit: the sweep is submitted (job %s) but the merge job is not: %s\n",
                 job.c_str(), error.c_str());
    return sweep::kExitError;
  }
  std::printf("merge job %s (after job %s ends) writes %s (script %s)\n", job_id_of(*merged).c_str(),
              job.c_str(), results.c_str(), merge_script.c_str());
  return 0;
}

}  // namespace xbarsweep::cli
