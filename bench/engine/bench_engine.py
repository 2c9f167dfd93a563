#!/usr/bin/env python3
"""Sweep-engine throughput and per-point overhead, measured with the real command.

engine_points_per_s: synthetic points with work_ms 0 on 2 ranks, results durable (journal fsync'd
every 200 ms, HDF5 snapshot published every second and at the end), over the sweep's own wall time
as the command reports it (MPI start-up excluded).
engine_overhead_ms at R ranks: points sleeping W ms; overhead per point = wall * R / N - W.
"""
import os
import re
import subprocess
import sys
import tempfile

XBARSWEEP = sys.argv[1] if len(sys.argv) > 1 else "build/xbarsweep"


def mpirun(n):
    cmd = ["mpirun", "-n", str(n), "--oversubscribe", "--bind-to", "none"]
    return cmd + (["--allow-run-as-root"] if os.geteuid() == 0 else [])


def sweep(d, name, points_x, points_y, work_ms, ranks):
    config = os.path.join(d, f"{name}.yaml")
    xs = ", ".join(str(i) for i in range(points_x))
    ys = ", ".join(str(i) for i in range(points_y))
    with open(config, "w") as f:
        f.write(f"name: {name}\nkind: synthetic\nsynthetic: {{work_ms: {work_ms}}}\n"
                f"sweep:\n  grid:\n    synthetic.x: [{xs}]\n    synthetic.y: [{ys}]\n")
    out = os.path.join(d, f"{name}.h5")
    p = subprocess.run(mpirun(ranks) + [XBARSWEEP, "run", config, "--out", out, "--threads", "1"],
                       capture_output=True, text=True, timeout=600)
    if p.returncode != 0:
        sys.exit(f"bench sweep failed ({p.returncode}):\n{p.stdout}\n{p.stderr}")
    m = re.search(r"this run: (\d+) computed.* in ([0-9.]+) s", p.stdout)
    return int(m.group(1)), float(m.group(2))


with tempfile.TemporaryDirectory(prefix="xbarsweep-bench-") as d:
    rates = []
    for rep in range(3):
        n, wall = sweep(d, f"rate{rep}", 200, 100, 0, 2)
        rates.append(n / wall)
        print(f"# throughput run {rep}: {n} points in {wall:.2f} s = {n / wall:.0f} points/s")
    rates.sort()
    lines = [f"engine_points_per_s: {rates[1]:.0f} (target >= 1000; 2 ranks, work_ms 0, durable; median of 3)"]
    for ranks in (2, 4, 16):
        work = 20
        n, wall = sweep(d, f"ovh{ranks}", 40, 10 * ranks // 2, work, ranks)
        overhead = wall * ranks / n * 1000 - work
        print(f"# overhead run at {ranks} ranks: {n} points of {work} ms in {wall:.2f} s")
        lines.append(f"engine_overhead_ms_{ranks}_ranks: {overhead:.2f} (per point, work_ms {work}, oversubscribed on {os.cpu_count()} cores)")
    for line in lines:
        print(line)
