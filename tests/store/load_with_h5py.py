"""Loads results files written by store_write_sample with h5py and pandas, the way
docs/results-format.md tells users to. Exit code 77 (skipped) when h5py or pandas is missing.

Usage: load_with_h5py.py <store_write_sample> <scratch dir>
"""
import math
import os
import subprocess
import sys

try:
    import h5py
    import numpy as np
    import pandas as pd
except ImportError as e:
    print(f"SKIPPED: h5py/pandas not importable by {sys.executable}: {e}")
    sys.exit(77)

writer, scratch = sys.argv[1], sys.argv[2]
os.makedirs(scratch, exist_ok=True)
for name in ("sample.h5", "empty.h5", "sample.h5.journal", "empty.h5.journal"):
    if os.path.exists(os.path.join(scratch, name)):
        os.remove(os.path.join(scratch, name))
subprocess.run([writer, scratch], check=True)


def load(path):
    """The loader from docs/results-format.md."""
    f = h5py.File(path, "r")
    p = f["points"]
    cols = {k: p[k].asstr()[:] for k in ("id", "status", "error", "host")}
    cols.update({k: p[k][:] for k in ("index", "rank", "start_time", "end_time")})
    for k, d in p["params"].items():
        cols[k] = d.asstr()[:] if h5py.check_string_dtype(d.dtype) else d[:]
    cols.update({k: d[:] for k, d in p["metrics"].items()})
    return f, pd.DataFrame(cols)


f, df = load(os.path.join(scratch, "sample.h5"))
assert f.attrs["format"] == "xbarsweep-results", f.attrs["format"]
assert f.attrs["format_version"] == 1
assert f.attrs["experiment"] == "h5py-check"
assert f.attrs["planned_points"] == 3
assert f["config"].asstr()[()] == "experiment: h5py-check\n"
assert dict(f["versions"].attrs) == {"xbarsweep": "0.1.0"}
assert list(f["swept_paths"].asstr()[:]) == ["train.lr", "seed"]
assert len(df) == 3, df
assert list(df["id"]) == ["p0", "p1", "p2"], list(df["id"])
assert list(df["status"]) == ["done", "failed", "done"]
assert df["error"][1] == "diverged"
assert df["train.lr"].dtype == np.float64 and abs(df["train.lr"][1] - 0.002) < 1e-15
assert df["seed"].dtype == np.int64 and list(df["seed"]) == [0, 1, 2]
assert df["model.name"][1] == "vgg"
assert f["points/params/crossbar.ideal"].attrs["type"] == "bool"
assert list(df["crossbar.ideal"]) == [1, 0, 1]
assert list(df["mixed"]) == ["0", "relu", "2"], list(df["mixed"])
assert math.isnan(df["only.two"][0]) and df["only.two"][2] == 2.5
assert f["points/params/only.two"].attrs["missing"] == "NaN"
assert math.isnan(df["loss"][1]) and df["loss"][0] == 0.3
arr = f["points/arrays/loss_per_epoch"]
values, offsets = arr["values"][:], arr["offsets"][:]
assert list(offsets) == [0, 3, 3, 6], offsets
assert list(values[offsets[2]:offsets[3]]) == [0.9, 0.5, 0.3]
print(df.to_string())
f.close()

f, df = load(os.path.join(scratch, "empty.h5"))
assert len(df) == 0 and f["points/id"].shape == (0,)
assert f["points/params"].keys() == set() or len(f["points/params"]) == 0
f.close()
# Our reader refuses an HDF5 file that h5py wrote without our attributes, and reads back ours.
foreign = os.path.join(scratch, "foreign.h5")
with h5py.File(foreign, "w") as g:
    g["points/id"] = np.array([b"a", b"b"])
    g.attrs["experiment"] = "not ours"
out = subprocess.run([writer, "--read", foreign], capture_output=True, text=True)
assert out.returncode == 3 and "not an xbarsweep results file" in out.stdout, out
with h5py.File(foreign, "w") as g:
    g.attrs["format"] = "xbarsweep-results"
    g.attrs["format_version"] = 1
out = subprocess.run([writer, "--read", foreign], capture_output=True, text=True)
assert out.returncode == 3 and "not an xbarsweep results file" in out.stdout, out
print(out.stdout.strip())
out = subprocess.run([writer, "--read", os.path.join(scratch, "sample.h5")], capture_output=True, text=True)
assert out.returncode == 0 and out.stdout.strip() == "3 points", out
print("h5py/pandas load: OK")

# The package's loader (python/xbarsweep, docs/python.md) reads the same file exactly: absent
# values as NaN or None, mixed-type columns parsed back, bools as bools, arrays per row.
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "python"))
import xbarsweep  # noqa: E402

df = xbarsweep.load(os.path.join(scratch, "sample.h5"))
assert list(df["id"]) == ["p0", "p1", "p2"] and list(df.columns[:5]) == ["id", "status", "error", "train.lr", "seed"]
assert list(df["status"]) == ["done", "failed", "done"] and df["error"][1] == "diverged"
assert df["seed"].dtype == np.int64 and df["crossbar.ideal"].dtype == bool
assert list(df["mixed"]) == [0, "relu", 2], list(df["mixed"])
assert math.isnan(df["only.two"][0]) and math.isnan(df["only.two"][1]) and df["only.two"][2] == 2.5
assert math.isnan(df["loss"][1]) and df["loss"][0] == 0.3
assert df["loss_per_epoch"][1] is None and list(df["loss_per_epoch"][2]) == [0.9, 0.5, 0.3]
assert df.attrs["swept_paths"] == ["train.lr", "seed"] and df.attrs["files"][0]["planned_points"] == 3
df = xbarsweep.load(os.path.join(scratch, "empty.h5"))
assert len(df) == 0 and list(df.columns[:3]) == ["id", "status", "error"]
print("xbarsweep.load: OK")
