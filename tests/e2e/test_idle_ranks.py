"""Ranks that run out of points wait without spinning a core: one 10 s point (the synthetic kind
sleeps) on 3 ranks leaves two ranks with nothing to do for 10 s. OpenMPI's blocking calls
busy-poll, which would cost at least 10 s of CPU; a polite wait costs next to nothing."""
import resource

from harness import *

d = workdir("idle")
config = write(f"{d}/c.yaml", """
name: idle
kind: synthetic
sweep:
  points:
    - {synthetic.work_ms: 10000}
    - {synthetic.work_ms: 0}
""")
before = resource.getrusage(resource.RUSAGE_CHILDREN)
# Busy polling even where the ranks outnumber the cores (OpenMPI yields there by default).
run(["run", config, "--out", f"{d}/r.h5"], ranks=3, check_rc=0, env={"OMPI_MCA_mpi_yield_when_idle": "0"})
after = resource.getrusage(resource.RUSAGE_CHILDREN)
cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
print(f"3 ranks, one 10 s point: {cpu:.2f} s of CPU")
check(cpu < 5.0, f"{cpu:.2f} s of CPU while the ranks waited 10 s: some rank spins")
cleanup(d)
