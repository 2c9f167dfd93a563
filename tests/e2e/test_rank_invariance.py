"""The same config on 1, 2 and 4 ranks gives identical reports."""
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
cleanup(d)
