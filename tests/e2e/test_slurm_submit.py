"""`xbarsweep submit --array 3` on the real single-node Slurm: three shard tasks and a merge job
(afterany) whose merged file equals the unsharded run's report, with no duplicates; the batch
scripts are kept beside the results; paths and arguments with spaces, quotes and `$(...)` reach
sbatch and the tasks verbatim, never a shell."""
import os
import re
import subprocess
import time

from harness import *

start_local_slurm()

top = workdir("submit")
d = os.path.join(top, "it's a $(touch pwned) dir")
os.makedirs(d)
config = write(f"{d}/c.yaml", """
name: submitted
kind: synthetic
output: res/sub.h5
synthetic: {work_ms: 5, steps: 3}
sweep:
  grid:
    synthetic.x: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10]
    synthetic.label: [a, b]
""")

p = subprocess.run([XBARSWEEP, "submit", "c.yaml", "--array", "3", "--set", "synthetic.scale=2", "--",
                    "--comment=$(touch pwned-too)"], cwd=d, capture_output=True, text=True, timeout=60)
check(p.returncode == 0, f"submit exited {p.returncode}:\n{p.stdout}\n{p.stderr}")
print(p.stdout.strip())
merge_job = re.search(r"merge job (\d+)", p.stdout)
check(merge_job is not None, f"submit must name the merge job:\n{p.stdout}")
res = os.path.join(d, "res")
for script in ("sub.sweep.sbatch", "sub.merge.sbatch"):
    check(os.path.exists(os.path.join(res, script)), f"{script} must be kept beside the results")

deadline = time.time() + 300
while time.time() < deadline:
    state = subprocess.run(["scontrol", "show", "job", merge_job.group(1)], capture_output=True, text=True).stdout
    if re.search(r"JobState=(COMPLETED|FAILED|CANCELLED)", state):
        break
    time.sleep(0.5)
check("JobState=COMPLETED" in state, f"the merge job did not complete:\n{state}\n{os.listdir(res)}")

report = lambda path: sorted(run(["report", path, "--format", "csv", "--metrics", "value"], check_rc=0).stdout.splitlines())
run(["run", config, "--out", f"{d}/single2.h5", "--set", "synthetic.scale=2"], check_rc=0)
merged = report(f"{res}/sub.h5")
check(merged == report(f"{d}/single2.h5"), "the merged file differs from the unsharded run's report")
ids = [line.split(",")[0] for line in merged[1:]]
check(len(ids) == 22 == len(set(ids)), f"{len(ids)} rows, {len(set(ids))} distinct ids")
for tag in ("pwned", "pwned-too"):
    for where in (top, d, res, os.getcwd()):
        check(not os.path.exists(os.path.join(where, tag)), f"a shell ran a value: {where}/{tag} exists")
comment = subprocess.run(["scontrol", "show", "job", merge_job.group(1)], capture_output=True, text=True).stdout
check("Comment=$(touch pwned-too)" in comment, f"the sbatch argument must arrive verbatim:\n{comment}")
print("3 shards and the merge job: merged = the unsharded run's report, 22 distinct points, no shell expansion")
cleanup(top)
