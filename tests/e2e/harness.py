"""Shared helpers of the end-to-end tests: run the real xbarsweep command, read results files."""
import os
import shutil
import subprocess
import sys
import tempfile

XBARSWEEP = os.environ.get("XBARSWEEP", "build/xbarsweep")
SOURCE_DIR = os.environ.get("XBARSWEEP_SOURCE_DIR", ".")
MPIEXEC = os.environ.get("MPIEXEC") or "mpirun"


def mpi_prefix(n):
    cmd = [MPIEXEC, "-n", str(n), "--oversubscribe", "--bind-to", "none"]
    if os.geteuid() == 0:
        cmd.append("--allow-run-as-root")
    return cmd


def run(args, ranks=None, timeout=240, check_rc=None, env=None):
    """Runs xbarsweep (under mpirun when ranks is given); returns CompletedProcess."""
    cmd = (mpi_prefix(ranks) if ranks else []) + [XBARSWEEP] + list(args)
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout,
                       env={**os.environ, **(env or {})}, errors="replace")
    if check_rc is not None and p.returncode != check_rc:
        fail(f"{' '.join(cmd)} exited {p.returncode}, expected {check_rc}\n"
             f"stdout:\n{p.stdout[-4000:]}\nstderr:\n{p.stderr[-4000:]}")
    return p


def fail(message):
    print("FAIL:", message)
    sys.exit(1)


def check(condition, message):
    if not condition:
        fail(message)


def workdir(name):
    d = tempfile.mkdtemp(prefix=f"xbarsweep-{name}-")
    return d


def write(path, text):
    with open(path, "w") as f:
        f.write(text)
    return path


def h5_points(path):
    """{id: (status, value-or-None)} from the HDF5 snapshot alone, read with h5py."""
    import h5py
    import math
    with h5py.File(path, "r") as f:
        check(f.attrs["format"] in ("xbarsweep-results", b"xbarsweep-results"), f"{path}: format attribute")
        ids = f["points/id"].asstr()[:]
        status = f["points/status"].asstr()[:]
        metrics = f["points/metrics"]
        values = metrics["value"][:] if "value" in metrics else [math.nan] * len(ids)
        return {i: (s, float(v)) for i, s, v in zip(ids, status, values)}


def wait_for_points(path, more_than, proc, timeout=300):
    """Polls the HDF5 snapshot until it holds more than `more_than` points, so that a test acts on
    progress it can see rather than on a guessed delay (CI machines start slowly under load).
    Returns the count; fails if `proc` ends first or nothing shows up within `timeout` seconds."""
    import time
    deadline = time.time() + timeout
    while time.time() < deadline:
        check(proc.poll() is None, f"the sweep ended (exit {proc.returncode}) before it could be "
              f"interrupted: machine too fast for this test?")
        if os.path.exists(path):
            try:
                held = len(h5_points(path))
            except (OSError, KeyError):  # a publish may be replacing the file right now
                held = 0
            if held > more_than:
                return held
        time.sleep(0.1)
    fail(f"{path}: no more than {more_than} points after {timeout} s")


class UntouchedResults:
    """A scratch folder holding a real results file, to give to commands that must refuse their
    input: `changes()` says what they wrote (a modified results file, files created)."""

    def __init__(self, name):
        import hashlib
        self.dir = workdir(name)
        good = write(f"{self.dir}/good.yaml", "name: good\nkind: synthetic\nsweep:\n  grid:\n    synthetic.x: [1, 2]\n")
        self.existing = f"{self.dir}/existing.h5"
        run(["run", good, "--out", self.existing], check_rc=0)
        self._digest = hashlib.sha256(open(self.existing, "rb").read()).hexdigest()
        self._listing = sorted(os.listdir(self.dir))

    def changes(self):
        """What differs from before: [] when nothing was written."""
        import hashlib
        found = []
        if hashlib.sha256(open(self.existing, "rb").read()).hexdigest() != self._digest:
            found.append("results file modified")
        created = set(os.listdir(self.dir)) - set(self._listing)
        if created:
            found.append(f"files created: {sorted(created)}")
        return found


def start_local_slurm(*args):
    """Starts the real Slurm of scripts/slurm-local.sh (arguments: e.g. "--nodes", "2"), or exits
    77 (skipped) when not root; fails the test when it does not come up."""
    if os.geteuid() != 0:
        print("SKIP: starting a local Slurm needs root")
        raise SystemExit(77)
    up = subprocess.run([os.path.join(SOURCE_DIR, "scripts", "slurm-local.sh"), "start", *args],
                        capture_output=True, text=True, timeout=120)
    check(up.returncode == 0, f"slurm-local.sh start failed:\n{up.stdout}\n{up.stderr}")
    print(up.stdout.strip())


def csv_report(path):
    return run(["report", path, "--format", "csv"], check_rc=0).stdout


def cleanup(d):
    shutil.rmtree(d, ignore_errors=True)
