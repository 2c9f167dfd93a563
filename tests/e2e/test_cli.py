"""The command as a user meets it: help, plan, kinds, status and report formats, --set, --shard,
exit codes, and the shipped synthetic experiment of 1,000+ points."""
import os

from harness import *

d = workdir("cli")
for sub in ([], ["run"], ["plan"], ["status"], ["report"], ["kinds"]):
    p = run(sub + ["--help"], check_rc=0)
    check("Usage" in p.stdout or "usage" in p.stdout.lower(), f"{sub} --help prints no usage")
check(run([]).returncode == 2, "no subcommand must exit 2")

shipped = os.path.join(SOURCE_DIR, "experiments", "synthetic.yaml")
p = run(["plan", shipped], check_rc=0)
count = int(p.stdout.split(":")[1].split()[0]) if "points" in p.stdout else 0
check(count >= 1000, f"experiments/synthetic.yaml must have >= 1000 points:\n{p.stdout[:300]}")
p = run(["plan", shipped, "--set", "synthetic.work_ms=0", "--set", "seed=9"], check_rc=0)

kinds = run(["kinds"], check_rc=0).stdout
check("synthetic" in kinds and "train" in kinds, "kinds lists synthetic and train")

out = f"{d}/s.h5"
p = run(["run", shipped, "--out", out, "--set", "synthetic.work_ms=0"], ranks=2)
check(p.returncode == 4, f"the shipped sweep has failing points by design: exit 4 expected, got {p.returncode}\n{p.stderr}")
status = run(["status", out], check_rc=0).stdout
check("failed" in status and "done" in status, status)
md = run(["report", out], check_rc=0).stdout
check(md.startswith("| id") and "synthetic.x" in md and "value" in md, md[:300])
csv = run(["report", out, "--format", "csv"], check_rc=0).stdout
check(csv.splitlines()[0].startswith("id,status,"), csv[:200])
check(len(csv.splitlines()) == count + 1, "one CSV row per point")
# Averaged over the repeats' seeds: one row per other combination, done + failed = the repeats.
mean = run(["report", out, "--format", "csv", "--metrics", "value", "--mean-over", "seed"], check_rc=0).stdout
lines = mean.splitlines()
check(lines[0].endswith(",done,failed,value_mean,value_std,value_ci95") and "seed" not in lines[0], lines[0])
check(len(lines) - 1 == count // 2 and all(int(r.split(",")[-5]) + int(r.split(",")[-4]) == 2 for r in lines[1:]),
      f"--mean-over seed: {count // 2} rows of 2 points each expected:\n{mean[:300]}")
p = run(["report", out, "--metrics", "valeu"])
check(p.returncode == 2 and out in p.stderr and "`valeu`" in p.stderr, f"an unknown metric is bad input: {p.stderr}")
# A rerun has nothing to do.
p = run(["run", shipped, "--out", out, "--set", "synthetic.work_ms=0"], ranks=2)
check("nothing to compute" in p.stdout, p.stdout)
# Shards write separate files that together cover the plan.
rows = 0
for i in range(2):
    p = run(["run", shipped, "--shard", f"{i}/2", "--out", f"{d}/sh.h5", "--set", "synthetic.work_ms=0"])
    rows += len(run(["report", f"{d}/sh.shard-{i}-of-2.h5", "--format", "csv"], check_rc=0).stdout.splitlines()) - 1
check(rows == count, f"shards cover {rows} of {count} points")
check(run(["run", shipped, "--shard", "2/2"]).returncode == 2, "--shard 2/2 is bad input")
print("cli ok:", count, "points")
cleanup(d)
