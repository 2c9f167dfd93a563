"""The same config on 1, 2 and 4 ranks gives identical reports, and OpenBLAS's thread count does
not change them."""
from harness import *

d = workdir("ranks")
config = write(f"{d}/c.yaml", """
name: ranks
kind: synthetic
seed: 5
synthetic: {fail_rate: 0.05, steps: 3}
sweep:
  grid:
    synthetic.x: [0, 0.5, 1, 1.5, 2, 2.5, 3, 3.5]
    synthetic.y: [0, 1, 2, 3]
  random:
    samples: 3
    seed: 11
    params:
      synthetic.scale: {log_uniform: [0.1, 10]}
  repeats: 2
""")
reports = {}
for n in (1, 2, 4):
    out = f"{d}/r{n}.h5"
    p = run(["run", config, "--out", out], ranks=n)
    check(p.returncode in (0, 4), f"{n} ranks: exit {p.returncode}\n{p.stderr}")
    reports[n] = csv_report(out)
check(reports[1].count("\n") == 8 * 4 * 3 * 2 + 1, f"expected 192 rows:\n{reports[1][:500]}")
check(reports[1] == reports[2], "1 and 2 ranks differ")
check(reports[1] == reports[4], "1 and 4 ranks differ")
print("identical reports at 1, 2 and 4 ranks:", reports[1].count("\n") - 1, "rows")

# A LibTorch kind too: identical metrics at 1 and 2 ranks (timing metrics excluded: they are
# measurements, not results).
train = write(f"{d}/t.yaml", """
name: ranks-train
kind: train
seed: 3
data: {name: synthetic, subset: 600, test_subset: 200}
model: {name: mlp, hidden: 32}
train: {epochs: 2, batch_size: 32}
sweep:
  grid:
    train.lr: [0.01, 0.05]
  repeats: 2
""")


def without_timings(csv):
    rows = [line.split(",") for line in csv.splitlines()]
    keep = [i for i, name in enumerate(rows[0]) if not (name.endswith("wall_s") or "_us_" in name)]
    return [[r[i] for i in keep] for r in rows]


tables = {}
for n in (1, 2):
    out = f"{d}/t{n}.h5"
    run(["run", train, "--out", out], ranks=n, check_rc=0)
    tables[n] = without_timings(csv_report(out))
check(len(tables[1]) == 5, f"expected 4 train points: {tables[1]}")
check(tables[1] == tables[2], f"train kind differs between 1 and 2 ranks:\n{tables[1]}\n{tables[2]}")
print("train kind: identical metrics at 1 and 2 ranks")

# Crossbar devices: the same seed gives the same devices, so the same hardware accuracy, on 1 and
# 2 ranks (variation, stuck-at faults and read noise all on).
hw = write(f"{d}/hw.yaml", """
name: ranks-hw
kind: crossbar_eval
seed: 4
data: {name: synthetic, subset: 400, test_subset: 200, noise: 2.0}
model: {name: mlp, hidden: 32}
train: {epochs: 1, batch_size: 32}
crossbar: {rows: 32, cols: 32, sigma: 0.5, stuck_min_rate: 0.05, read_noise: 0.01}
crossbar_eval: {samples: 3, calibration_items: 50}
sweep:
  grid:
    crossbar.levels: [4, 16]
""")
for n in (1, 2):
    out = f"{d}/hw{n}.h5"
    run(["run", hw, "--out", out], ranks=n, check_rc=0)
    tables[n] = without_timings(csv_report(out))
column = tables[1][0].index("hw_accuracy_std")
check(all(float(r[column]) > 0 for r in tables[1][1:]), f"device variation must spread the samples: {tables[1]}")
check(tables[1] == tables[2], f"crossbar_eval differs between 1 and 2 ranks:\n{tables[1]}\n{tables[2]}")
print("crossbar_eval: identical hardware accuracy at 1 and 2 ranks")

# The simulated crossbar's results depend on --threads only, not on OpenBLAS's own thread count
# (OPENBLAS_NUM_THREADS, or the machine's cores by default): OpenBLAS's threaded sgemm rounds
# differently, which moved these hardware accuracies by 1-3 images in 500 before xbarsweep held
# OpenBLAS to one thread.
hw = write(f"{d}/blas.yaml", """
name: blas-threads
kind: crossbar_eval
seed: 2
data: {name: synthetic, subset: 1000, test_subset: 500}
model: {name: lenet5}
train: {epochs: 1}
crossbar: {rows: 32, cols: 32, levels: 4, dac_bits: 8, adc_bits: 8}
crossbar_eval: {samples: 2}
sweep:
  grid:
    crossbar.sigma: [0, 0.1]
""")
hw_tables = {}
for blas_threads in ("1", "2"):
    out = f"{d}/blas{blas_threads}.h5"
    run(["run", hw, "--out", out, "--threads", "1"], env={"OPENBLAS_NUM_THREADS": blas_threads}, check_rc=0)
    hw_tables[blas_threads] = without_timings(csv_report(out))
check(hw_tables["1"] == hw_tables["2"],
      f"hardware results depend on OPENBLAS_NUM_THREADS:\n{hw_tables['1']}\n{hw_tables['2']}")
print("identical hardware results with OpenBLAS on 1 and 2 threads")
cleanup(d)
