"""Shared fixtures of the Python package's tests: the real `xbarsweep` command ($XBARSWEEP, else
build/xbarsweep) run on small `kind: synthetic` configs, whose points take no time."""
import os
import subprocess
import sys

import pytest

SOURCE_DIR = os.environ.get("XBARSWEEP_SOURCE_DIR") or os.path.dirname(os.path.dirname(
    os.path.dirname(os.path.abspath(__file__))))
XBARSWEEP = os.environ.get("XBARSWEEP") or os.path.join(SOURCE_DIR, "build", "xbarsweep")
PYTHON_DIR = os.path.join(SOURCE_DIR, "python")
if PYTHON_DIR not in sys.path:
    sys.path.insert(0, PYTHON_DIR)

# A synthetic sweep with repeats, failures and NaN values (NaN points are stored as failed):
# 6 x values x 2 labels x 3 seeds = 36 points.
SWEEP = """name: {name}
kind: synthetic
synthetic: {{work_ms: 0, fail_rate: 0.15, nan_rate: 0.1, steps: 4}}
sweep:
  grid:
    synthetic.x: [0.0, 0.5, 1.0, 1.5, 2.0, 2.5]
    synthetic.label: [a, b]
  repeats: 3
"""


def xbarsweep(*args, check=0, timeout=120):
    """Runs the real command; fails the test when it does not exit `check` (None: any)."""
    p = subprocess.run([XBARSWEEP, *map(str, args)], capture_output=True, text=True, timeout=timeout)
    if check is not None and p.returncode != check:
        pytest.fail(f"xbarsweep {' '.join(map(str, args))} exited {p.returncode}, expected {check}\n"
                    f"stdout:\n{p.stdout[-3000:]}\nstderr:\n{p.stderr[-3000:]}")
    return p


def run_sweep(folder, text, out, *extra, check=None):
    """Writes `text` as a config in `folder` and runs it into `out` (exit 0 or 4: some failed)."""
    config = os.path.join(folder, os.path.basename(out).split(".")[0] + ".yaml")
    with open(config, "w") as f:
        f.write(text)
    p = xbarsweep("run", config, "--out", out, *extra, check=None)
    if p.returncode not in ((0, 4) if check is None else (check,)):
        pytest.fail(f"run {config} exited {p.returncode}:\n{p.stdout[-3000:]}\n{p.stderr[-3000:]}")
    return config


def status_counts(path):
    """(done, failed, {failed id: error}) as `xbarsweep status` prints them."""
    out = xbarsweep("status", path).stdout.splitlines()
    counts = dict(part.strip().split(" ") for part in out[1].split(","))
    failures = dict(line[len("failed "):].split(": ", 1) for line in out[2:] if line.startswith("failed "))
    return int(counts["done"]), int(counts["failed"]), failures


def python_cli(*args, cwd=None):
    """`python3 -m xbarsweep ...` with this tree's package, as `xbarsweep plot` runs it."""
    env = {**os.environ, "PYTHONPATH": PYTHON_DIR, "XBARSWEEP_SOURCE_DIR": SOURCE_DIR}
    return subprocess.run([sys.executable, "-m", "xbarsweep", *map(str, args)], capture_output=True,
                          text=True, env=env, cwd=cwd, timeout=120)


@pytest.fixture(scope="session")
def sweep_dir(tmp_path_factory):
    return str(tmp_path_factory.mktemp("sweeps"))


@pytest.fixture(scope="session")
def synthetic(sweep_dir):
    """A finished synthetic sweep with repeats, failures and NaNs: its path."""
    out = os.path.join(sweep_dir, "synthetic.h5")
    run_sweep(sweep_dir, SWEEP.format(name="synthetic"), out)
    return out
