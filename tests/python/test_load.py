"""xbarsweep.load against the C++ readers (`xbarsweep status` and `report`) on real results files:
finished, running (the journal), killed (a torn journal tail), several files, globs, shards."""
import csv
import io
import math
import os
import shutil
import signal
import struct
import subprocess
import sys
import time
import zlib

import h5py
import numpy as np
import pytest

from conftest import SWEEP, XBARSWEEP, python_cli, run_sweep, status_counts, xbarsweep

import xbarsweep as xs


def report_rows(path):
    """{id: row} from `xbarsweep report --format csv` (exact numbers)."""
    text = xbarsweep("report", path, "--format", "csv").stdout
    return {r["id"]: r for r in csv.DictReader(io.StringIO(text))}


def assert_same_as_status(path, df):
    done, failed, failures = status_counts(path)
    got = df["status"].value_counts().to_dict()
    assert (got.get("done", 0), got.get("failed", 0)) == (done, failed), (path, got, done, failed)
    mine = dict(zip(df.loc[df["status"] == "failed", "id"], df.loc[df["status"] == "failed", "error"]))
    assert mine == failures


def test_finished_sweep_matches_report(synthetic):
    df = xs.load(synthetic)
    rows = report_rows(synthetic)
    assert len(df) == 36 and df["id"].is_unique
    assert set(df["id"]) == set(rows)
    for _, r in df.iterrows():
        want = rows[r["id"]]
        assert r["status"] == want["status"]
        assert r["synthetic.x"] == float(want["synthetic.x"])
        assert r["synthetic.label"] == want["synthetic.label"]
        assert r["seed"] == int(want["seed"])
        if want["value"] in ("", "nan", "NaN"):
            assert math.isnan(r["value"]), r
        else:
            assert r["value"] == float(want["value"]), (r["id"], r["value"], want["value"])
    assert_same_as_status(synthetic, df)


def test_columns_types_and_arrays(synthetic):
    df = xs.load(synthetic)
    assert list(df.columns[:5]) == ["id", "status", "error", "synthetic.x", "synthetic.label"]
    assert df.attrs["swept_paths"] == ["synthetic.x", "synthetic.label", "seed"]
    assert "value" in df.attrs["metrics"] and df.attrs["arrays"] == ["curve"]
    assert "synthetic.work_ms" in df.attrs["params"]
    assert df["synthetic.x"].dtype == np.float64 and df["seed"].dtype == np.int64
    assert df["synthetic.steps"].dtype == np.int64 and df["value"].dtype == np.float64
    assert df.attrs["files"][0]["planned_points"] == 36
    assert df.attrs["files"][0]["experiment"] == "synthetic"
    done = df[df["status"] == "done"]
    assert len(done) > 20 and (df["status"] == "failed").sum() > 0
    for _, r in done.iterrows():
        assert isinstance(r["curve"], np.ndarray) and r["curve"].shape == (4,)
        np.testing.assert_allclose(r["curve"], r["value"] / np.arange(1, 5), rtol=1e-15, atol=0)
        assert r["error"] == ""
    thrown = df[df["error"].str.startswith("synthetic failure injected")]
    assert len(thrown) > 0
    assert thrown["value"].isna().all() and thrown["curve"].isna().all()
    assert set(df["file"]) == {synthetic}


def _slow_sweep(folder, name, points=40, work_ms=120):
    config = os.path.join(folder, f"{name}.yaml")
    with open(config, "w") as f:
        f.write(f"name: {name}\nkind: synthetic\n"
                f"synthetic: {{work_ms: {work_ms}, fail_rate: 0.2, steps: 2}}\n"
                f"sweep:\n  grid:\n    synthetic.x: {list(range(points))}\n")
    out = os.path.join(folder, f"{name}.h5")
    proc = subprocess.Popen([XBARSWEEP, "run", config, "--out", out], stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)
    return proc, out


def _stop(proc):
    """SIGSTOP, then wait until the kernel has stopped it: kill() returns before the signal is
    delivered, and a process still running can append a record between two reads."""
    os.kill(proc.pid, signal.SIGSTOP)
    deadline = time.time() + 30
    while time.time() < deadline:
        with open(f"/proc/{proc.pid}/stat") as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
        if state in ("T", "t", "Z", "X"):
            return
        time.sleep(0.001)
    pytest.fail(f"process {proc.pid} did not stop within 30 s")


def _wait_for_journal(path, proc, timeout=120):
    deadline = time.time() + timeout
    while time.time() < deadline:
        assert proc.poll() is None, f"the sweep ended early: {proc.stderr.read()}"
        if os.path.exists(path) and os.path.exists(path + ".journal"):
            return
        time.sleep(0.05)
    pytest.fail(f"{path}: no snapshot and journal after {timeout} s")


def test_running_sweep_matches_status(tmp_path):
    """A sweep in progress, frozen (SIGSTOP) at several instants: load must see exactly what
    `xbarsweep status` sees, which includes the journal's records beyond the last publish."""
    proc, out = _slow_sweep(str(tmp_path), "running")
    beyond_snapshot = 0
    try:
        _wait_for_journal(out, proc)
        for _ in range(8):
            _stop(proc)
            try:
                df = xs.load(out)
                assert_same_as_status(out, df)
                with h5py.File(out, "r") as f:
                    in_snapshot = len(f["points/id"])
                assert len(df) >= in_snapshot
                beyond_snapshot += len(df) > in_snapshot
            finally:
                os.kill(proc.pid, signal.SIGCONT)
            if proc.poll() is not None:
                break
            time.sleep(0.37)
    finally:
        proc.wait(timeout=120)
    assert proc.returncode == 4, proc.stderr.read()  # some points fail (fail_rate)
    assert beyond_snapshot > 0, "the journal never held a record beyond the snapshot"
    df = xs.load(out)
    assert len(df) == 40
    assert_same_as_status(out, df)


def test_killed_sweep_and_torn_journal(tmp_path):
    proc, out = _slow_sweep(str(tmp_path), "killed", work_ms=60)
    _wait_for_journal(out, proc)
    # Killed while the journal holds records: stopped first, so that no publish empties it
    # between the look and the kill.
    deadline = time.time() + 60
    while time.time() < deadline:
        _stop(proc)
        if os.path.getsize(out + ".journal") > 0:
            break
        os.kill(proc.pid, signal.SIGCONT)
        assert proc.poll() is None, "the sweep ended before its journal held a record"
        time.sleep(0.03)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    df = xs.load(out)
    assert_same_as_status(out, df)

    # The journal alone (no snapshot yet): both readers take its records.
    alone = str(tmp_path / "alone.h5")
    shutil.copy(out + ".journal", alone + ".journal")
    records = xs.read_journal(alone + ".journal")
    assert len(records) > 0
    df = xs.load(alone)
    assert len(df) == len(records)
    assert_same_as_status(alone, df)

    # A torn tail (a frame cut short, then garbage) is ignored by both.
    with open(alone + ".journal", "ab") as f:
        f.write(struct.pack("<III", 0x4A534258, 1000, 0) + b"cut short")
    assert len(xs.load(alone)) == len(records)
    assert_same_as_status(alone, xs.load(alone))

    # A frame that passes its CRC but does not decode is corruption: an error naming the file.
    bad = str(tmp_path / "bad.h5")
    payload = b"\x07not a record"
    with open(bad + ".journal", "wb") as f:
        f.write(struct.pack("<III", 0x4A534258, len(payload), zlib.crc32(payload)) + payload)
    with pytest.raises(xs.Error, match=r"bad\.h5\.journal: not an xbarsweep journal"):
        xs.load(bad)
    assert xbarsweep("status", bad, check=None).returncode != 0


def test_several_files_globs_and_shards(tmp_path, synthetic):
    folder = str(tmp_path)
    text = SWEEP.format(name="sharded")
    for shard in ("0/2", "1/2"):
        run_sweep(folder, text, os.path.join(folder, "sharded.h5"), "--shard", shard)
    shards = sorted(p for p in os.listdir(folder) if ".shard-" in p and p.endswith(".h5"))
    assert shards == ["sharded.shard-0-of-2.h5", "sharded.shard-1-of-2.h5"], shards
    whole = xs.load(synthetic)
    joined = xs.load(os.path.join(folder, "sharded.shard-*.h5"))
    assert len(joined) == len(whole) and set(joined["id"]) == set(whole["id"])
    a = whole.set_index("id").sort_index()
    b = joined.set_index("id").sort_index()
    assert (a["status"] == b["status"]).all()
    np.testing.assert_array_equal(a["value"].to_numpy(), b["value"].to_numpy())
    assert len(joined.attrs["files"]) == 2
    # A list with overlaps, a glob that also matches the companions of a running sweep
    # (journal, lock): one row per id.
    open(os.path.join(folder, "sharded.shard-0-of-2.h5.lock"), "w").close()
    both = xs.load([synthetic, os.path.join(folder, "sharded.shard-*"), synthetic])
    assert len(both) == 36 and both["id"].is_unique
    assert set(both["file"]) <= {synthetic} | {os.path.join(folder, s) for s in shards}


def test_dedup_done_wins_then_latest_end(tmp_path, synthetic):
    """Of two records of one id in two files: done beats failed, then the later end time wins,
    whatever the order the files are given in."""
    newer, failed = str(tmp_path / "newer.h5"), str(tmp_path / "failed.h5")
    shutil.copy(synthetic, newer)
    shutil.copy(synthetic, failed)
    df = xs.load(synthetic)
    done_rows = np.flatnonzero((df["status"] == "done").to_numpy())
    failed_rows = np.flatnonzero((df["status"] == "failed").to_numpy())
    with h5py.File(synthetic, "r") as f:
        ids = list(f["points/id"].asstr()[:])
    target, revived = df["id"][done_rows[0]], df["id"][failed_rows[0]]
    with h5py.File(newer, "r+") as f:
        i, j = ids.index(target), ids.index(revived)
        f["points/metrics/value"][i] = 42.0
        f["points/end_time"][i] = f["points/end_time"][i] + 100
        # a failed point that is done in this file (as --retry-failed would leave it)
        f["points/status"][j] = "done"
        f["points/error"][j] = ""
        f["points/metrics/value"][j] = 7.0
        if "value" in f["points/metrics_present"]:
            f["points/metrics_present/value"][j] = 1
    with h5py.File(failed, "r+") as f:
        i = ids.index(target)
        f["points/status"][i] = "failed"
        f["points/error"][i] = "later, but failed"
        f["points/end_time"][i] = f["points/end_time"][i] + 1000
    for files in ([synthetic, newer, failed], [failed, newer, synthetic], [newer, failed, synthetic]):
        got = xs.load(files).set_index("id")
        assert len(got) == 36
        assert got.loc[target, "status"] == "done" and got.loc[target, "value"] == 42.0
        assert got.loc[target, "file"] == newer
        assert got.loc[revived, "status"] == "done" and got.loc[revived, "value"] == 7.0
    assert status_counts(newer)[0] == status_counts(synthetic)[0] + 1  # still a file of ours


def test_bad_inputs_name_the_file(tmp_path):
    missing = str(tmp_path / "missing.h5")
    with pytest.raises(xs.Error, match=r"missing\.h5: no results file"):
        xs.load(missing)
    with pytest.raises(xs.Error, match=r"nothing-\*\.h5: no results file matches"):
        xs.load(str(tmp_path / "nothing-*.h5"))
    text = tmp_path / "text.h5"
    text.write_text("not hdf5\n")
    with pytest.raises(xs.Error, match=r"text\.h5: not an xbarsweep results file"):
        xs.load(str(text))
    foreign = str(tmp_path / "foreign.h5")
    with h5py.File(foreign, "w") as f:
        f["points/id"] = np.array([b"a"])
    with pytest.raises(xs.Error, match=r"foreign\.h5: not an xbarsweep results file: it has no "
                                       r"root attribute 'format'"):
        xs.load(foreign)
    p = python_cli("load", missing)
    assert p.returncode == 2 and "missing.h5: no results file" in p.stderr, p


def test_load_command(synthetic):
    p = python_cli("load", synthetic, "--format", "csv", "--where", "synthetic.label=b")
    assert p.returncode == 0, p.stderr
    rows = list(csv.DictReader(io.StringIO(p.stdout)))
    assert len(rows) == 18 and {r["synthetic.label"] for r in rows} == {"b"}
    assert list(rows[0])[:5] == ["id", "status", "synthetic.x", "synthetic.label", "seed"]
    p = python_cli("load", synthetic, "--where", "synthetic.x=7")
    assert p.returncode == 2 and "no point has synthetic.x = 7" in p.stderr, p.stderr


def test_importable_without_matplotlib(synthetic):
    """`import xbarsweep` and load need no matplotlib (models.py needs only torch)."""
    code = ("import sys\n"
            "class Block:\n"
            "    def find_spec(self, name, path=None, target=None):\n"
            "        if name.split('.')[0] == 'matplotlib': raise ImportError('blocked: ' + name)\n"
            "sys.meta_path.insert(0, Block())\n"
            f"sys.path.insert(0, {os.path.dirname(xs.__file__)!r} + '/..')\n"
            "import xbarsweep\n"
            f"print(len(xbarsweep.load({synthetic!r})))\n"
            "try:\n"
            "    import torch\n"
            "except ImportError:\n"
            "    print('no torch')\n"
            "else:\n"
            "    import xbarsweep.models\n"
            "    print(type(xbarsweep.models.LeNet5()).__name__)\n"
            "assert 'matplotlib' not in sys.modules\n")
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    assert p.stdout.split()[0] == "36"


def test_curve_named_as_a_metric_is_name_curve(tmp_path):
    # The train kind records `loss` twice: the final value (a metric) and one per epoch (a curve).
    out = tmp_path / "train.h5"
    run_sweep(str(tmp_path), """name: train_loss
kind: train
data: {name: synthetic, subset: 200, test_subset: 50}
model: {name: mlp, hidden: 8}
train: {epochs: 3, batch_size: 50}
""", str(out))
    df = xs.load(str(out))
    assert "loss" in df.attrs["metrics"] and "loss_curve" in df.attrs["arrays"]
    curve = df.loc[0, "loss_curve"]
    assert len(curve) == 3 and float(df.loc[0, "train_loss"]) == curve[-1]
