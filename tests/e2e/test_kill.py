"""SIGKILL a rank mid-sweep (a worker, or rank 0 which writes the file): the results file opens
with h5py right away and keeps what was completed; rerunning finishes with no duplicate and no
lost point."""
import glob
import os
import signal
import subprocess
import sys
import time

from harness import *

victim = sys.argv[1]  # "worker" or "rank0"
d = workdir(f"kill-{victim}")
config = write(f"{d}/c.yaml", """
name: kill
kind: synthetic
seed: 2
synthetic: {work_ms: 25}
sweep:
  grid:
    synthetic.x: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19]
    synthetic.y: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19]
    synthetic.scale: [1, 2]
""")
TOTAL = 800  # 10 s of work on 2 ranks; each run below is killed once its snapshot shows progress
out = f"{d}/r.h5"
tag = f"kill-{os.getpid()}"


def rank_pids():
    pids = {}
    for env_path in glob.glob("/proc/[0-9]*/environ"):
        try:
            env = open(env_path, "rb").read().split(b"\0")
        except OSError:
            continue
        if f"XBARSWEEP_TEST_TAG={tag}".encode() not in env:
            continue
        for item in env:
            if item.startswith(b"OMPI_COMM_WORLD_RANK="):
                pids[int(item.split(b"=")[1])] = int(env_path.split("/")[2])
    return pids


held = 0
for attempt in range(2):  # kill twice: the second run resumes a killed run and is killed again
    cmd = mpi_prefix(2) + [XBARSWEEP, "run", config, "--out", out]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env={**os.environ, "XBARSWEEP_TEST_TAG": tag})
    held = wait_for_points(out, held, proc)
    pids = rank_pids()
    target = pids.get(1 if victim == "worker" else 0)
    check(proc.poll() is None, f"the sweep ended before the kill (machine too fast for this test?)")
    check(target is not None, f"could not find the rank processes: {pids}")
    os.kill(target, signal.SIGKILL)
    killed_at = time.time()
    try:
        output = proc.communicate(timeout=60)[0]
    except subprocess.TimeoutExpired:
        proc.kill()
        fail("mpirun did not exit after a rank was killed")
    check(proc.returncode != 0, "a killed sweep must not exit 0")
    # Right after the kill: the snapshot opens with h5py and holds points done before the kill.
    check(os.path.exists(out), f"no results file after the kill:\n{output[-2000:]}")
    snapshot = h5_points(out)
    status = run(["status", out], check_rc=0).stdout
    print(f"after kill {attempt + 1} of {victim}: h5 holds {len(snapshot)} points; status: {status.strip()}")
    check(len(snapshot) >= held, f"the snapshot lost points: {len(snapshot)} < {held} seen before the kill")
    held = len(snapshot)
    if attempt == 0:
        first_snapshot = snapshot

p = run(["run", config, "--out", out], ranks=2, check_rc=0)
final = h5_points(out)
check(len(final) == TOTAL, f"expected {TOTAL} points after the resume, found {len(final)}")
check(all(s == "done" for s, _ in final.values()), "every point must be done")
import h5py
with h5py.File(out, "r") as f:
    ids = list(f["points/id"].asstr()[:])
check(len(ids) == len(set(ids)), "duplicate rows in the results file")
for pid, (s, v) in first_snapshot.items():
    check(final[pid] == (s, v), f"point {pid} changed after the resume")
check(not os.path.exists(out + ".journal") or os.path.getsize(out + ".journal") == 0,
      "the journal must be empty once the final snapshot is published")
print(f"resume complete: {TOTAL} points, no duplicates, nothing lost")
cleanup(d)
