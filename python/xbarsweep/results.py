"""Reading xbarsweep results files into pandas: the HDF5 snapshot `R` and the journal
`R.journal` beside it, combined exactly as `xbarsweep status` and `report` combine them
(src/store/results_store.cpp read_results; layout: docs/results-format.md)."""
import glob
import math
import os
import re
import struct
import zlib

import numpy as np
import pandas as pd

from .errors import Error

FORMAT_NAME = "xbarsweep-results"
FORMAT_VERSION = 1

# The journal's frame (src/store/journal.hpp): u32 magic "XBSJ", u32 payload length, u32 CRC-32.
_JOURNAL_MAGIC = 0x4A534258
_FRAME_HEADER = struct.Struct("<III")
# Record encoding version (src/store/record.cpp) and parameter value tags, which are also the
# per-row tags of /points/params_types.
_ENCODING_VERSION = 1
_TAG_BOOL, _TAG_INT, _TAG_REAL, _TAG_STRING, _ABSENT = 0, 1, 2, 3, -1

# Columns every row has, besides parameters, metrics and arrays.
BOOKKEEPING = ("id", "status", "error", "index", "rank", "host", "start_time", "end_time", "file")

# Files a sweep keeps beside R while it runs: a glob such as results/* must not load them.
_COMPANION = re.compile(r"\.(journal|lock)$|\.tmp\.\d+$")


class _Record:
    """One point as the store keeps it (store::PointRecord)."""

    __slots__ = ("id", "index", "status", "error", "rank", "host", "start_time", "end_time",
                 "params", "metrics", "arrays")

    def __init__(self):
        self.params, self.metrics, self.arrays = {}, {}, {}


class _Decoder:
    """store::decode: little-endian integers, u32-length-prefixed strings, IEEE-754 doubles."""

    def __init__(self, payload):
        self.data, self.pos = payload, 0

    def take(self, fmt, what):
        size = struct.calcsize(fmt)
        if size > len(self.data) - self.pos:
            raise ValueError(f"truncated {what} at byte {self.pos} of {len(self.data)}")
        (value,) = struct.unpack_from(fmt, self.data, self.pos)
        self.pos += size
        return value

    def text(self, what):
        n = self.take("<I", what)
        if n > len(self.data) - self.pos:
            raise ValueError(f"truncated {what} at byte {self.pos} of {len(self.data)}")
        s = self.data[self.pos:self.pos + n].decode("utf-8", errors="replace")
        self.pos += n
        return s

    def reals(self, n, what):
        if 8 * n > len(self.data) - self.pos:
            raise ValueError(f"truncated {what} at byte {self.pos} of {len(self.data)}")
        values = np.frombuffer(self.data, dtype="<f8", count=n, offset=self.pos).astype(np.float64)
        self.pos += 8 * n
        return values


def _decode_record(payload):
    d = _Decoder(payload)
    version = d.take("<B", "version")
    if version != _ENCODING_VERSION:
        raise ValueError(f"unknown encoding version {version}")
    r = _Record()
    r.id = d.text("id")
    r.index = d.take("<Q", "index")
    status = d.take("<B", "status")
    if status > 1:
        raise ValueError(f"bad status {status}")
    r.status = "done" if status == 0 else "failed"
    r.error = d.text("error")
    r.rank = d.take("<i", "rank")
    r.host = d.text("host")
    r.start_time = d.take("<d", "start_time")
    r.end_time = d.take("<d", "end_time")
    for _ in range(d.take("<I", "parameter count")):
        path = d.text("parameter path")
        tag = d.take("<B", "parameter tag")
        if tag == _TAG_BOOL:
            b = d.take("<B", "bool")
            if b > 1:
                raise ValueError(f"bad bool {b}")
            r.params[path] = b == 1
        elif tag == _TAG_INT:
            r.params[path] = d.take("<q", "int")
        elif tag == _TAG_REAL:
            r.params[path] = d.take("<d", "real")
        elif tag == _TAG_STRING:
            r.params[path] = d.text("string")
        else:
            raise ValueError(f"bad value tag {tag}")
    for _ in range(d.take("<I", "metric count")):
        name = d.text("metric name")
        r.metrics[name] = d.take("<d", "metric")
    for _ in range(d.take("<I", "array count")):
        name = d.text("array name")
        r.arrays[name] = d.reals(d.take("<I", "array length"), "array element")
    if d.pos != len(payload):
        raise ValueError("trailing bytes")
    return r


def read_journal(path):
    """The records of the journal at `path`, in journal order ([] when it does not exist).
    Reading stops at the first frame that is cut short or fails its CRC (the torn tail of a killed
    writer), as the C++ reader does. Raises Error for a frame that passes its CRC but does not
    decode."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except FileNotFoundError:
        return []
    except OSError as e:
        raise Error(f"{path}: cannot read the journal: {e.strerror}") from None
    records, pos = [], 0
    while len(data) - pos >= _FRAME_HEADER.size:
        magic, length, crc = _FRAME_HEADER.unpack_from(data, pos)
        start = pos + _FRAME_HEADER.size
        if magic != _JOURNAL_MAGIC or length > len(data) - start:
            break
        payload = data[start:start + length]
        if zlib.crc32(payload) != crc:
            break
        try:
            records.append(_decode_record(payload))
        except (ValueError, struct.error) as e:
            raise Error(f"{path}: not an xbarsweep journal: the record at byte {pos} passes its "
                        f"CRC but does not decode ({e})") from None
        pos = start + length
    return records


def _corrupt(path, why):
    return Error(f"{path}: not an xbarsweep results file: {why}")


def _strings(dset):
    return list(dset.asstr()[:])


def _parse_text(text, tag):
    """A value of a mixed-type column from its text (snapshot.cpp parse_value_text)."""
    if tag == _TAG_BOOL:
        return text == "true"
    if tag == _TAG_INT:
        return int(text)
    if tag == _TAG_REAL:
        return float(text)
    return text


def _read_snapshot(path):
    """(info, bookkeeping columns, params, metrics, arrays, n) of the snapshot at `path`, checked
    as snapshot.cpp checks it; absent values are None (parameters, arrays) or NaN (metrics)."""
    import h5py

    try:
        try:
            f = h5py.File(path, "r", locking=False)
        except TypeError:  # h5py < 3.5 has no locking argument
            f = h5py.File(path, "r")
    except OSError as e:
        raise _corrupt(path, f"not HDF5 ({e})") from None
    with f:
        fmt = f.attrs.get("format")
        if isinstance(fmt, bytes):
            fmt = fmt.decode()
        if fmt is None:
            raise _corrupt(path, "it has no root attribute 'format'")
        if fmt != FORMAT_NAME:
            raise _corrupt(path, f"its format attribute is '{fmt}', not '{FORMAT_NAME}'")
        version = int(f.attrs.get("format_version", -1))
        if version != FORMAT_VERSION:
            raise _corrupt(path, f"format_version {version} is not supported (this reader reads "
                                 f"version {FORMAT_VERSION})")

        def attr(name, default=""):
            v = f.attrs.get(name, default)
            return v.decode() if isinstance(v, bytes) else v

        try:
            info = {"path": path, "experiment": attr("experiment"), "kind": attr("kind"),
                    "planned_points": int(attr("planned_points", 0)),
                    "swept_paths": _strings(f["swept_paths"]),
                    "config": f["config"].asstr()[()]}
            p = f["points"]
            ids = _strings(p["id"])
            n = len(ids)
            cols = {"id": ids, "status": _strings(p["status"]), "error": _strings(p["error"]),
                    "host": _strings(p["host"]), "index": p["index"][:].astype(np.int64),
                    "rank": p["rank"][:].astype(np.int64),
                    "start_time": p["start_time"][:].astype(np.float64),
                    "end_time": p["end_time"][:].astype(np.float64)}
            for k, v in cols.items():
                if len(v) != n:
                    raise _corrupt(path, f"'points/{k}' has {len(v)} rows, 'points/id' has {n}")
            bad = sorted(set(cols["status"]) - {"done", "failed"})
            if bad:
                raise _corrupt(path, f"'points/status' holds '{bad[0]}', not 'done' or 'failed'")
            params, metrics, arrays = {}, {}, {}
            types = p["params_types"] if "params_types" in p else {}
            for name, d in p["params"].items():
                kind = d.attrs.get("type", "")
                kind = kind.decode() if isinstance(kind, bytes) else kind
                tags = types[name][:] if name in types else None
                if d.shape != (n,) or (tags is not None and tags.shape != (n,)):
                    raise _corrupt(path, f"'points/params/{name}' does not have {n} rows")
                if kind == "mixed" and tags is None:
                    raise _corrupt(path, f"mixed-type column 'points/params/{name}' has no type tags")
                values = _strings(d) if h5py.check_string_dtype(d.dtype) else d[:]
                if kind == "bool":
                    values = values.astype(bool)
                if kind == "mixed":
                    params[name] = [None if t == _ABSENT else _parse_text(v, t)
                                    for v, t in zip(values, tags)]
                elif tags is not None and (tags == _ABSENT).any():
                    cells = values.tolist() if isinstance(values, np.ndarray) else values
                    params[name] = [None if t == _ABSENT else v for v, t in zip(cells, tags)]
                else:
                    params[name] = values
            present = p["metrics_present"] if "metrics_present" in p else {}
            for name, d in p["metrics"].items():
                values = d[:].astype(np.float64)
                if values.shape != (n,):
                    raise _corrupt(path, f"'points/metrics/{name}' does not have {n} rows")
                if name in present:
                    values = np.where(present[name][:] != 0, values, np.nan)
                metrics[name] = values
            for name, g in p["arrays"].items():
                values, offsets = g["values"][:].astype(np.float64), g["offsets"][:]
                if offsets.shape != (n + 1,) or offsets[0] != 0 or offsets[-1] != len(values) \
                        or (np.diff(offsets) < 0).any():
                    raise _corrupt(path, f"'points/arrays/{name}/offsets' do not span its values")
                mask = g["present"][:] != 0 if "present" in g else np.ones(n, dtype=bool)
                arrays[name] = [values[offsets[i]:offsets[i + 1]] if mask[i] else None for i in range(n)]
        except KeyError as e:
            raise _corrupt(path, f"it lacks {e}") from None
    return info, cols, params, metrics, arrays, n


def _journal_columns(records):
    """Columns of the same shape as _read_snapshot's from journal records."""
    cols = {k: [getattr(r, k) for r in records] for k in ("id", "status", "error", "host")}
    for k, dtype in (("index", np.int64), ("rank", np.int64), ("start_time", np.float64),
                     ("end_time", np.float64)):
        cols[k] = np.array([getattr(r, k) for r in records], dtype=dtype)
    params, metrics, arrays = {}, {}, {}
    for i, r in enumerate(records):
        for table, values, fill in ((params, r.params, None), (metrics, r.metrics, math.nan),
                                    (arrays, r.arrays, None)):
            for name, v in values.items():
                table.setdefault(name, [fill] * len(records))[i] = v
    return cols, params, metrics, arrays


def _frame(path, cols, params, metrics, arrays, n):
    # A curve may share its name with a scalar metric (the train kind's `loss`: the final value
    # and the one per epoch): the curve's column is then NAME_curve.
    arrays = {(f"{k}_curve" if k in metrics or k in params else k): v for k, v in arrays.items()}
    names = {"params": set(params), "metrics": set(metrics), "arrays": set(arrays)}
    clash = (names["params"] | names["metrics"] | names["arrays"]) & set(BOOKKEEPING)
    if clash:
        name = sorted(clash)[0]
        raise Error(f"{path}: a parameter, metric or array named '{name}' would hide the "
                    f"point's own '{name}' column")
    both = (names["params"] & names["metrics"]) | (names["params"] & names["arrays"]) \
        | (names["metrics"] & names["arrays"])
    if both:
        raise Error(f"{path}: '{sorted(both)[0]}' is the name of two of parameter, metric, array")
    data = {k: np.asarray(v, dtype=object) if k in ("id", "status", "error", "host") else v
            for k, v in cols.items()}
    data["file"] = np.full(n, path, dtype=object)
    data.update(params)
    data.update(metrics)
    for name, cells in arrays.items():
        column = np.empty(n, dtype=object)
        for i, cell in enumerate(cells):  # one array per cell, never broadcast into a 2-D array
            column[i] = cell
        data[name] = column
    return pd.DataFrame(data, index=pd.RangeIndex(n)), names


def _merge_names(a, b):
    return {k: a[k] | b[k] for k in a}


def _read_one(path):
    """(info, DataFrame, column names by kind) of one results file, snapshot and journal
    combined as read_results does: the journal is read first (a publish in between only moves
    records into a newer snapshot), its records replace the snapshot's of the same id in place,
    new ids are appended."""
    journal_path = path + ".journal"
    journal = read_journal(journal_path)
    have_snapshot = os.path.exists(path)
    if not have_snapshot and not os.path.exists(journal_path):
        raise Error(f"{path}: no results file (neither it nor {journal_path} exists)")
    if os.path.isdir(path):
        raise Error(f"{path}: is a directory, not a results file")
    info = {"path": path, "experiment": "", "kind": "", "planned_points": 0, "swept_paths": [],
            "config": ""}
    frames, names = [], {"params": set(), "metrics": set(), "arrays": set()}
    if have_snapshot:
        info, *parts = _read_snapshot(path)
        df, names = _frame(path, *parts)
        if df["id"].duplicated().any():
            raise _corrupt(path, f"point id '{df['id'][df['id'].duplicated()].iloc[0]}' occurs "
                                 f"twice in points/id")
        frames.append(df)
    if journal:
        df, more = _frame(path, *_journal_columns(journal), len(journal))
        frames.append(df)
        names = _merge_names(names, more)
    if not frames:
        empty = {k: np.zeros(0, np.int64 if k in ("index", "rank") else np.float64)
                 for k in BOOKKEEPING[3:-1]}
        frames.append(_frame(path, {"id": [], "status": [], "error": [], **empty}, {}, {}, {}, 0)[0])
    df = frames[0] if len(frames) == 1 else pd.concat(frames, ignore_index=True, sort=False)
    # The latest record of each id, at the position where the id first appears.
    first = df.groupby("id", sort=False).ngroup().to_numpy()
    latest = df.assign(_first=first).drop_duplicates("id", keep="last")
    latest = latest.sort_values("_first", kind="stable").drop(columns="_first")
    return info, latest.reset_index(drop=True), names


def _expand(paths):
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    files = []
    for p in paths:
        p = os.fspath(p)
        if glob.has_magic(p):
            matched = sorted(m for m in glob.glob(p)
                             if not _COMPANION.search(m) and not os.path.isdir(m))
            if not matched:
                raise Error(f"{p}: no results file matches this pattern")
            files.extend(matched)
        else:
            files.append(p)
    if not files:
        raise Error("no results file given")
    seen, unique = set(), []
    for f in files:
        key = os.path.realpath(f)
        if key not in seen:
            seen.add(key)
            unique.append(f)
    return unique


def load(paths):
    """One row per point of the results file(s) `paths`: a path, a glob pattern, or a list of
    them. Columns: `id`, `status` ("done" or "failed"), `error`, every parameter by dotted path
    (`train.lr`, `seed`; the swept ones first; None where a point lacks it), every scalar metric
    by name (NaN where a point lacks it), every array (curves) as a numpy array per cell (None
    where a point lacks it), then `index`, `rank`, `host`, `start_time`, `end_time` (Unix
    seconds) and `file`.

    Each file is read as `xbarsweep status` reads it: the HDF5 snapshot plus the journal of a
    sweep still running (or killed). Several files are concatenated and deduplicated by point id:
    a done record wins over a failed one, and of two records with the same status the one that
    ended later wins.

    `df.attrs` holds `files` (one dict per file: path, experiment, kind, planned_points,
    swept_paths, config), `swept_paths` (their union, in order), and `params`, `metrics`,
    `arrays` (the column names of each kind). Raises xbarsweep.Error naming the file on bad
    input."""
    files = _expand(paths)
    infos, frames = [], []
    names = {"params": set(), "metrics": set(), "arrays": set()}
    for path in files:
        info, df, more = _read_one(path)
        infos.append(info)
        frames.append(df)
        names = _merge_names(names, more)
    clash = (names["params"] & names["metrics"]) | (names["params"] & names["arrays"]) \
        | (names["metrics"] & names["arrays"])
    if clash:
        raise Error(f"{', '.join(files)}: '{sorted(clash)[0]}' is a parameter in one file and a "
                    f"metric or array in another")
    df = frames[0] if len(frames) == 1 else pd.concat(frames, ignore_index=True, sort=False)
    if len(frames) > 1 and df["id"].duplicated().any():
        # Per id: done before failed, then the latest end time; the first file breaks ties.
        pick = pd.DataFrame({"first": df.groupby("id", sort=False).ngroup().to_numpy(),
                             "done": (df["status"] == "done").to_numpy(),
                             "end": df["end_time"].to_numpy(dtype=float),
                             "pos": np.arange(len(df))})
        pick = pick.sort_values(["first", "done", "end", "pos"],
                                ascending=[True, False, False, True], kind="stable")
        df = df.iloc[pick.drop_duplicates("first")["pos"].to_numpy()].reset_index(drop=True)

    swept = []
    for info in infos:
        swept += [s for s in info["swept_paths"] if s not in swept]
    params = sorted(names["params"], key=lambda c: (swept.index(c) if c in swept else len(swept), c))
    metrics, arrays = sorted(names["metrics"]), sorted(names["arrays"])
    df = df[["id", "status", "error"] + params + metrics + arrays + list(BOOKKEEPING[3:])]
    df.attrs = {"files": infos, "swept_paths": swept, "params": params, "metrics": metrics,
                "arrays": arrays}
    return df
