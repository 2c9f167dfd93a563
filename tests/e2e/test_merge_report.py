"""`xbarsweep merge` and the report options, on real results files of the synthetic kind.

- Three shards merged give the unsharded run's report, with no duplicate ids; merging a file
  with itself changes nothing; a point done twice keeps the later record and says so.
- Inputs of different experiments exit 2 and write nothing (unless --force); so does an output
  that exists and is not an input.
- report reads several files and globs as merge would; --where, --sort, --pareto, --mean-over
  (with its confidence interval), JSON; numbers are the shortest text that reads back.
- The LaTeX output of a plain, an averaged and a Pareto table compiles with pdflatex."""
import csv
import glob
import io
import json
import os
import shutil
import subprocess

from harness import *

d = workdir("merge")
CONFIG = """name: merge
kind: synthetic
synthetic: {work_ms: 0}
sweep:
  grid:
    synthetic.x: [0, 1, 2, 3, 4, 5]
    synthetic.y: [0, 1, 2]
  repeats: 2
"""
config = write(f"{d}/c.yaml", CONFIG)


def rows(path_args, *extra):
    out = run(["report", *path_args, "--format", "csv", "--metrics", "value", *extra], check_rc=0).stdout
    return list(csv.reader(io.StringIO(out)))


run(["run", config, "--out", f"{d}/all.h5"], check_rc=0)
for i in range(3):
    run(["run", config, "--out", f"{d}/part.h5", "--shard", f"{i}/3"], check_rc=0)
shards = sorted(glob.glob(f"{d}/part.shard-*-of-3.h5"))
check(len(shards) == 3, f"shard files: {shards}")
p = run(["merge", f"{d}/merged.h5", f"{d}/part.shard-*-of-3.h5"], check_rc=0)
want = rows([f"{d}/all.h5"])
got = rows([f"{d}/merged.h5"])
check(len(want) == 1 + 36, f"unsharded report has {len(want) - 1} rows, expected 36")
check(sorted(got[1:]) == sorted(want[1:]) and got[0] == want[0], "merged shards differ from the unsharded run")
ids = [r[0] for r in got[1:]]
check(len(ids) == len(set(ids)), "duplicate ids in the merged file")
check(rows(shards) == got and rows([f"{d}/part.shard-*.h5"]) == got, "report of the shards != report of the merge")
print("ok 3 shards merged = the unsharded run, no duplicates;", p.stdout.strip())

# A file with itself, and into itself: nothing changes.
before = rows([f"{d}/merged.h5"])
run(["merge", f"{d}/self.h5", f"{d}/merged.h5", f"{d}/merged.h5"], check_rc=0)
run(["merge", f"{d}/merged.h5", f"{d}/merged.h5"], check_rc=0)
check(rows([f"{d}/self.h5"]) == before and rows([f"{d}/merged.h5"]) == before, "merging a file with itself changed it")
# A rerun of the same experiment: every point done twice, the later kept, each said.
run(["run", config, "--out", f"{d}/rerun.h5"], check_rc=0)
p = run(["merge", f"{d}/both.h5", f"{d}/all.h5", f"{d}/rerun.h5"], check_rc=0)
check(p.stderr.count("is done in") == 36 and "kept" in p.stderr, f"notes of duplicates: {p.stderr[:400]}")
import h5py
with h5py.File(f"{d}/both.h5", "r") as f:
    merged_from = f.attrs["merged_from"]
    merged_from = merged_from.decode() if isinstance(merged_from, bytes) else merged_from
check("all.h5" in merged_from and "rerun.h5" in merged_from, f"provenance: {merged_from!r}")
print("ok merging a file with itself changes nothing; duplicates keep the later record; provenance kept")

# Different experiments: exit 2, nothing written; --force merges.
other = write(f"{d}/other.yaml", CONFIG.replace("work_ms: 0", "work_ms: 0, scale: 2.0").replace("name: merge", "name: merge-other"))
run(["run", other, "--out", f"{d}/other.h5"], check_rc=0)
p = run(["merge", f"{d}/mixed.h5", f"{d}/all.h5", f"{d}/other.h5"])
check(p.returncode == 2 and "different experiments" in p.stderr and "--force" in p.stderr, f"mixed: {p.returncode} {p.stderr}")
check(not os.path.exists(f"{d}/mixed.h5"), "a refused merge wrote its output")
run(["merge", "--force", f"{d}/mixed.h5", f"{d}/all.h5", f"{d}/other.h5"], check_rc=0)
p = run(["merge", f"{d}/all.h5", f"{d}/rerun.h5"])
check(p.returncode == 2 and "not one of the inputs" in p.stderr, f"overwriting a file that is no input: {p.stderr}")
p = run(["merge", f"{d}/x.h5", f"{d}/nothing-*.h5"])
check(p.returncode == 2 and "matches no file" in p.stderr, f"empty glob: {p.stderr}")
print("ok different experiments refused (exit 2, nothing written), --force merges them")

# report and status read files of different experiments together only with --force: one table
# across experiments, the parameter that tells them apart a column of its own. User errors name
# the file, not the place in xbarsweep's source that found them.
for cmd in (["report"], ["status"]):
    p = run([*cmd, f"{d}/all.h5", f"{d}/other.h5"])
    check(p.returncode == 2 and "different experiments" in p.stderr and "--force" in p.stderr
          and ".cpp:" not in p.stderr, f"{cmd[0]} of mixed files: {p.returncode} {p.stderr}")
mixed = run(["report", "--force", f"{d}/all.h5", f"{d}/other.h5", "--format", "csv", "--metrics", "value"],
            check_rc=0).stdout
mixed = list(csv.DictReader(io.StringIO(mixed)))
scales = sorted({r.get("synthetic.scale") for r in mixed})
check(len(mixed) == 72 and scales == ["1", "2"], f"report --force: {len(mixed)} rows, scales {scales}")
p = run(["status", "--force", f"{d}/all.h5", f"{d}/other.h5"], check_rc=0)
check("done 72" in p.stdout and "experiment merge, merge-other" in p.stdout, f"status --force: {p.stdout}")
p = run(["report", f"{d}/nothing.h5"])
check(p.returncode == 2 and "nothing.h5: no such results file" in p.stderr and ".cpp:" not in p.stderr,
      f"missing file: {p.stderr}")
print("ok report/status --force read different experiments as one table; errors without source locations")

# Report options.
table = rows([f"{d}/all.h5"], "--where", "synthetic.x=2", "--where", "synthetic.y=1.0")
check(len(table) == 3, f"--where kept {len(table) - 1} rows, expected the 2 repeats")
table = rows([f"{d}/all.h5"], "--sort", "value:desc")
values = [float(r[-1]) for r in table[1:]]
check(values == sorted(values, reverse=True), "--sort value:desc")
# The shortest text that reads back: as short as Python's repr (which is the shortest round trip).
check(all(len(r[-1]) <= len(repr(float(r[-1]))) for r in table[1:]), f"numbers: {[r[-1] for r in table[1:4]]}")
out = run(["report", f"{d}/all.h5", "--format", "csv", "--mean-over", "seed", "--metrics", "value"], check_rc=0).stdout
averaged = list(csv.DictReader(io.StringIO(out)))
check(len(averaged) == 18 and "value_ci95" in averaged[0], f"--mean-over: {averaged[:1]}")
front = json.loads(run(["report", f"{d}/all.h5", "--format", "json", "--metrics", "value", "--pareto", "value:max"],
                       check_rc=0).stdout)
best = max(float(r[-1]) for r in rows([f"{d}/all.h5"])[1:])
check(front and all(r["value"] == best for r in front) and isinstance(front[0]["value"], float),
      f"--pareto value:max: {front}")
p = run(["report", f"{d}/all.h5", "--pareto", "value:up"])
check(p.returncode == 2 and "metric:max or metric:min" in p.stderr, f"bad objective: {p.stderr}")
p = run(["report", f"{d}/all.h5", "--where", "nothing=1"])
check(p.returncode == 2 and "no parameter `nothing`" in p.stderr, f"bad --where: {p.stderr}")
print("ok --where, --sort, --mean-over with ci95, --pareto, json")

# LaTeX compiles.
pdflatex = shutil.which("pdflatex")
check(pdflatex is not None, "pdflatex not found: scripts/setup.sh installs texlive-latex-base and texlive-latex-recommended")
for name, extra in (("plain", []), ("averaged", ["--mean-over", "seed"]), ("pareto", ["--pareto", "value:max"])):
    tex = run(["report", f"{d}/all.h5", "--format", "latex", "--metrics", "value", "--caption",
               f"A {name} table & its 100% escaped_caption", "--label", f"tab:{name}", *extra], check_rc=0).stdout
    write(f"{d}/{name}.tex", "\\documentclass{article}\n\\usepackage{booktabs}\n\\begin{document}\n" + tex +
          "\\end{document}\n")
    p = subprocess.run([pdflatex, "-interaction=nonstopmode", "-halt-on-error", f"{name}.tex"], cwd=d,
                       capture_output=True, text=True, timeout=120)
    check(p.returncode == 0 and os.path.getsize(f"{d}/{name}.pdf") > 1000, f"pdflatex {name}.tex:\n{p.stdout[-2000:]}")
print("ok LaTeX tables (plain, averaged, Pareto) compile with pdflatex")
cleanup(d)
