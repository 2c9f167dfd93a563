"""slurm/sweep.sbatch on a real two-node Slurm started by `scripts/slurm-local.sh start --nodes 2`
(each slurmd in a network and UTS namespace of its own): a job of `-N 2 --ntasks-per-node=1` runs
one rank on each node, the results record both hosts, and its report equals a one-node job's.
Stops Slurm at the end, so that the next `slurm-local.sh start` brings up the usual single node, and
checks that the stop left no namespace holder and no bridge."""
import os
import shutil
import subprocess

from harness import *

if os.geteuid() != 0:
    print("SKIP: starting a local Slurm needs root")
    raise SystemExit(77)
if shutil.which("ip") is None or subprocess.run(["unshare", "--net", "--uts", "true"]).returncode != 0:
    print("SKIP: nodes of their own need ip (iproute2) and network namespaces (CAP_SYS_ADMIN, CAP_NET_ADMIN)")
    raise SystemExit(77)

SLURM_LOCAL = os.path.join(SOURCE_DIR, "scripts", "slurm-local.sh")
d = workdir("slurm-nodes")
config = write(f"{d}/c.yaml", """
name: slurm-nodes
kind: synthetic
synthetic: {work_ms: 20}
sweep:
  grid:
    synthetic.x: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]
    synthetic.y: [0, 1, 2, 3, 4]
""")


def slurm_local(*args):
    return subprocess.run([SLURM_LOCAL, *args], capture_output=True, text=True, timeout=180)


def sweep_job(name, ranks, *shape):
    """Runs the real slurm/sweep.sbatch on the synthetic config as a job of the given shape, which
    must give it `ranks` ranks; returns {rank: {hosts}} read from its results file, and the file."""
    import h5py
    out = f"{d}/{name}.h5"
    job = subprocess.run(["sbatch", "--wait", *shape, "-D", d, "-o", f"{d}/{name}.out",
                          f"--export=ALL,XBARSWEEP={XBARSWEEP}",
                          os.path.join(SOURCE_DIR, "slurm", "sweep.sbatch"), config, "--out", out],
                         capture_output=True, text=True, timeout=240)
    log = open(f"{d}/{name}.out").read() if os.path.exists(f"{d}/{name}.out") else ""
    check(job.returncode == 0, f"sbatch {' '.join(shape)} exited {job.returncode}\n{job.stdout}\n{job.stderr}\n"
          f"job log:\n{log}")
    check(f"{ranks} rank(s)" in log and "done 50, failed 0" in log,
          f"the job must run {ranks} rank(s) over 50 points:\n{log}")
    points = h5_points(out)
    check(len(points) == 50 and all(s == "done" for s, _ in points.values()), f"expected 50 done points:\n{log}")
    hosts = {}
    with h5py.File(out, "r") as f:
        for rank, host in zip(f["points/rank"][:].tolist(), f["points/host"].asstr()[:]):
            hosts.setdefault(rank, set()).add(host)
    print(f"sbatch {' '.join(shape)}: {job.stdout.strip()}, ranks on {hosts}")
    return hosts, out


def holders():
    """The processes that keep the nodes' namespaces alive (`xbarsweep-nodeN` in ps) in this root:
    in a chroot, /proc also lists the host's processes."""
    root, found = os.stat("/"), []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            argv0 = open(f"/proc/{pid}/cmdline", "rb").read().split(b"\0")[0].decode(errors="replace")
            same_root = os.path.samestat(os.stat(f"/proc/{pid}/root/"), root)
        except OSError:
            continue
        if same_root and argv0.startswith("xbarsweep-node"):
            found.append(f"{pid} {argv0}")
    return found


try:
    up = slurm_local("start", "--nodes", "2")
    check(up.returncode == 0, f"slurm-local.sh start --nodes 2 failed:\n{up.stdout}\n{up.stderr}")
    print(up.stdout.strip())

    two, two_file = sweep_job("two-nodes", 2, "-N", "2", "--ntasks-per-node=1")
    check(sorted(two) == [0, 1] and all(len(h) == 1 for h in two.values())
          and set.union(*two.values()) == {"node1", "node2"},
          f"the two ranks must each run on one node, node1 and node2: {two}")

    # One task per node on one node: one rank (sweep.sbatch's own directives must not add tasks).
    one, one_file = sweep_job("one-node", 1, "-N", "1", "--ntasks-per-node=1")
    check(list(one) == [0] and len(one[0]) == 1, f"a one-node job of one task: {one}")

    report = lambda path: sorted(run(["report", path, "--format", "csv", "--metrics", "value"],
                                     check_rc=0).stdout.splitlines())
    check(report(two_file) == report(one_file), "the two-node job's report differs from the one-node job's")
    print("the two-node job's report = the one-node job's")
finally:
    down = slurm_local("stop")
check(down.returncode == 0, f"slurm-local.sh stop failed:\n{down.stdout}\n{down.stderr}")
left = holders()
check(not left, f"stop left the nodes' namespace holders running: {left}")
bridge = subprocess.run(["ip", "link", "show", "xbarsweep0"], capture_output=True, text=True)
check(bridge.returncode != 0, f"stop left the bridge xbarsweep0:\n{bridge.stdout}")
cleanup(d)
