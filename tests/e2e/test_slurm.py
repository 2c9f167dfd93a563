"""slurm/sweep.sbatch on a real single-node Slurm started by scripts/slurm-local.sh: the job runs
the sweep across its tasks and leaves a complete results file; a job array of 3 shards, merged with
`xbarsweep merge`, gives the same report with no duplicates."""
import os
import subprocess

from harness import *

start_local_slurm()

d = workdir("slurm")
config = write(f"{d}/c.yaml", """
name: slurm
kind: synthetic
synthetic: {work_ms: 5}
sweep:
  grid:
    synthetic.x: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]
    synthetic.y: [0, 1, 2, 3, 4]
""")
job = subprocess.run(["sbatch", "--wait", "--ntasks=2", "-D", d, "-o", f"{d}/job.out",
                      f"--export=ALL,XBARSWEEP={XBARSWEEP}",
                      os.path.join(SOURCE_DIR, "slurm", "sweep.sbatch"), config, "--out", f"{d}/r.h5"],
                     capture_output=True, text=True, timeout=240)
log = open(f"{d}/job.out", newline="").read() if os.path.exists(f"{d}/job.out") else ""
check(job.returncode == 0, f"sbatch --wait exited {job.returncode}\n{job.stdout}\n{job.stderr}\njob log:\n{log}")
points = h5_points(f"{d}/r.h5")
check(len(points) == 50 and all(s == "done" for s, _ in points.values()), f"expected 50 done points:\n{log}")
check("2 rank(s)" in log, f"the job must run 2 ranks:\n{log}")
check("done 50, failed 0" in log and "\r" not in log and "\033[K" not in log,
      f"the job log must hold plain progress lines (no terminal control characters):\n{log!r}")
print(job.stdout.strip(), "->", len(points), "points done")

# A job array of 3 shards, merged: the unsharded run's report, no duplicates.
array = subprocess.run(["sbatch", "--wait", "--array=0-2", "--ntasks=1", "-D", d, "-o", f"{d}/array-%a.out",
                        "--wrap", f"{XBARSWEEP} run {config} --out {d}/a.h5 --shard $SLURM_ARRAY_TASK_ID/3"],
                       capture_output=True, text=True, timeout=240)
check(array.returncode == 0, f"sbatch --array exited {array.returncode}\n{array.stdout}\n{array.stderr}")
merged = run(["merge", f"{d}/merged.h5", f"{d}/a.shard-*-of-3.h5"], check_rc=0)
report = lambda path: sorted(run(["report", path, "--format", "csv", "--metrics", "value"], check_rc=0).stdout.splitlines())
check(report(f"{d}/merged.h5") == report(f"{d}/r.h5"), "the merged array differs from the single job's results")
ids = [line.split(",")[0] for line in report(f"{d}/merged.h5")[1:]]
check(len(ids) == 50 == len(set(ids)), f"{len(ids)} rows, {len(set(ids))} distinct ids")
print("array of 3 shards:", merged.stdout.strip(), "= the single job's report")
cleanup(d)
