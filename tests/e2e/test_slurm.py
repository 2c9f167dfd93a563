"""slurm/sweep.sbatch on a real single-node Slurm started by scripts/slurm-local.sh: the job runs
the sweep across its tasks and leaves a complete results file."""
import os
import subprocess

from harness import *

if os.geteuid() != 0:
    print("SKIP: starting a local Slurm needs root")
    raise SystemExit(77)
up = subprocess.run([os.path.join(SOURCE_DIR, "scripts", "slurm-local.sh"), "start"],
                    capture_output=True, text=True, timeout=120)
check(up.returncode == 0, f"slurm-local.sh start failed:\n{up.stdout}\n{up.stderr}")
print(up.stdout.strip())

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
cleanup(d)
