"""SIGTERM (as Slurm sends at preemption) and SIGUSR1: the sweep stops handing out points,
flushes, exits 3 with a message; the next run resumes and completes."""
import os
import signal
import subprocess
import time

from harness import *

d = workdir("signal")
config = write(f"{d}/c.yaml", """
name: signal
kind: synthetic
synthetic: {work_ms: 50}
sweep:
  grid:
    synthetic.x: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]
    synthetic.y: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]
""")
out = f"{d}/r.h5"
held = 0
for sig in (signal.SIGTERM, signal.SIGUSR1):
    # Signal the ranks directly (as Slurm does: scancel signals every task).
    proc = subprocess.Popen([XBARSWEEP, "run", config, "--out", out], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    wait_for_points(out, held, proc)
    proc.send_signal(sig)
    stdout, stderr = proc.communicate(timeout=60)
    check(proc.returncode == 3, f"{sig!r}: expected exit 3, got {proc.returncode}\n{stdout}\n{stderr}")
    check("resume" in stderr, f"the message must say how to resume:\n{stderr}")
    kept = len(h5_points(out))
    print(f"{signal.Signals(sig).name}: exit 3, {kept} points kept")
    check(held < kept < 100, f"expected a partial file with more than {held} points, found {kept}")
    held = kept

p = run(["run", config, "--out", out], ranks=2, check_rc=0)
check(len(h5_points(out)) == 100, "resume must complete the sweep")
print("resumed to 100 points")
cleanup(d)
