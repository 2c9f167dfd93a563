"""Preemption and time limits on the real single-node Slurm of scripts/slurm-local.sh, through
slurm/sweep.sbatch as users run it:
1. a `train` point of several epochs signalled mid-epoch (`scancel --batch --signal=USR1`, as
   Slurm's warning signal) checkpoints, the job requeues itself (`run --requeue`), and the
   requeued job resumes the point: one row, the log says where it resumed, and its metrics and
   curves equal an uninterrupted run's;
2. a sweep longer than the job's time limit starts no point it cannot finish, says so, requeues,
   and the requeued job finishes the sweep with no duplicates.
Slow (about 2 minutes): Slurm's time limits are whole minutes."""
import os
import re
import subprocess
import sys
import time

from harness import *

start_local_slurm()
sys.path.insert(0, os.path.join(SOURCE_DIR, "python"))
import xbarsweep as xs  # noqa: E402

SBATCH = os.path.join(SOURCE_DIR, "slurm", "sweep.sbatch")


def job_state(job):
    """(JobState, Restarts) from scontrol, or (None, 0) once Slurm forgot the job."""
    p = subprocess.run(["scontrol", "show", "job", job], capture_output=True, text=True)
    state = re.search(r"JobState=(\S+)", p.stdout)
    restarts = re.search(r"Restarts=(\d+)", p.stdout)
    return (state.group(1) if state else None), (int(restarts.group(1)) if restarts else 0)


def submit(d, *args):
    p = subprocess.run(["sbatch", "--parsable", "--ntasks=1", "-D", d, "-o", f"{d}/job.out", "--open-mode=append",
                        f"--export=ALL,XBARSWEEP={XBARSWEEP}", *args],
                       capture_output=True, text=True, timeout=60)
    check(p.returncode == 0, f"sbatch failed: {p.stdout}\n{p.stderr}")
    return p.stdout.strip().split(";")[0]


def wait_done(job, d, timeout):
    deadline = time.time() + timeout
    pending_since = None
    while time.time() < deadline:
        state, restarts = job_state(job)
        pending_since = (pending_since or time.time()) if state == "PENDING" and restarts > 0 else None
        if pending_since is not None and time.time() - pending_since > 10:
            # Slurm makes a requeued job eligible only 2 minutes later (its BeginTime); the test
            # waits 10 s, for the first run's credential and processes to be cleaned up (started
            # at once, Slurm kills it: "Job credential revoked"), then not for the rest.
            subprocess.run(["scontrol", "update", f"JobId={job}", "StartTime=now"], capture_output=True)
            pending_since = None
        if state in ("COMPLETED", "FAILED", "CANCELLED", "TIMEOUT", "NODE_FAIL", "OUT_OF_MEMORY", None):
            return state, restarts
        time.sleep(0.5)
    fail(f"job {job} not finished after {timeout} s:\n{log(d)}")


def log(d):
    return open(f"{d}/job.out", errors="replace").read() if os.path.exists(f"{d}/job.out") else ""


def outcome(path):
    """Every metric and curve of the file's one point, timings left out."""
    df = xs.load(path)
    check(len(df) == 1 and df["status"][0] == "done", f"{path}: expected one done point:\n{df}")
    row = df.iloc[0]
    names = [n for n in df.attrs["metrics"] + df.attrs["arrays"] if n != "wall_s"]
    return {n: (list(row[n]) if n in df.attrs["arrays"] else float(row[n])) for n in names}


# --- 1. preempted mid-epoch, requeued, resumed -------------------------------------------------
d = workdir("preempt")
config = write(f"{d}/train.yaml", """
name: preempt
kind: train
checkpoint_s: 0
data: {name: synthetic, subset: 30000, test_subset: 500}
model: {name: lenet5}
train: {epochs: 6, batch_size: 50}
""")
# The reference in the environment sweep.sbatch gives its ranks (OpenBLAS on one thread).
run(["run", config, "--out", f"{d}/plain.h5"], check_rc=0, timeout=300, env={"OPENBLAS_NUM_THREADS": "1"})
started = time.time()
job = submit(d, SBATCH, config, "--out", f"{d}/r.h5", "--requeue")
# Signal it mid-training: once its first end-of-epoch checkpoint exists, half an epoch later.
checkpoints = f"{d}/r.h5.cache/checkpoints"
deadline = time.time() + 120
while not (os.path.isdir(checkpoints) and os.listdir(checkpoints)):
    check(time.time() < deadline and job_state(job)[0] in ("PENDING", "RUNNING", "CONFIGURING"),
          f"no checkpoint appeared:\n{log(d)}")
    time.sleep(0.05)
time.sleep(0.7)
subprocess.run(["scancel", "--batch", "--signal=USR1", job], check=True)
state, restarts = wait_done(job, d, 300)
text = log(d)
print(f"preempted job: {time.time() - started:.0f} s from submission to completion")
check(state == "COMPLETED", f"the job ended {state}:\n{text}")
check(restarts >= 1 and "requeued job" in text, f"the job must have requeued itself:\n{text}")
resumed = re.search(r"resumed from its checkpoint at epoch (\d+), batch (\d+)", text)
check(resumed is not None, f"the requeued job must say where the point resumed:\n{text}")
check(int(resumed.group(1)) >= 1, f"expected to resume after at least one epoch:\n{text}")
check(not os.listdir(checkpoints), f"the checkpoint must go once the point is recorded: {os.listdir(checkpoints)}")
got, want = outcome(f"{d}/r.h5"), outcome(f"{d}/plain.h5")
check(got == want, f"the resumed point differs from the uninterrupted run:\n{got}\n{want}")
print(f"preempted and requeued (restarts {restarts}); resumed at epoch {resumed.group(1)}, batch "
      f"{resumed.group(2)}; {len(want)} metrics and curves equal the uninterrupted run's")
cleanup(d)

# --- 2. a sweep longer than the job's time limit -----------------------------------------------
d = workdir("timelimit")
config = write(f"{d}/sweep.yaml", """
name: timelimit
kind: synthetic
synthetic: {work_ms: 4000}
sweep:
  grid:
    synthetic.x: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13]
""")
# 14 points of 4 s on one rank: 56 s, more than a job of 1 minute can take with its 10 s margin.
# Run without sweep.sbatch's warning signal, which Slurm may send up to a minute early (sbatch(1)):
# here the end time alone must stop the job in time.
job = submit(d, "--time=1", "--wrap", f"{XBARSWEEP} run {config} --out {d}/r.h5 --requeue --progress-interval 10")
state, restarts = wait_done(job, d, 400)
text = log(d)
check(state == "COMPLETED", f"the job ended {state}:\n{text}")
check("not starting plan point" in text and "left before the job's end" in text,
      f"the log must show the points left for the next job:\n{text}")
check("DUE TO TIME LIMIT" not in text, f"the job must end before its limit, not be killed at it:\n{text}")
check(restarts >= 1, f"the job must have requeued itself:\n{text}")
points = h5_points(f"{d}/r.h5")
check(len(points) == 14 and all(s == "done" for s, _ in points.values()), f"expected 14 done points:\n{text}")
df = xs.load(f"{d}/r.h5")
check(df["id"].is_unique, "duplicates")
print(f"time limit: {restarts} requeue(s), 14 points done once each; "
      f"{text.count('not starting plan point')} deferral(s) logged")
cleanup(d)
