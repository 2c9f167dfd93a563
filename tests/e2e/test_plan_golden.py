"""Every shipped config gives the point ids it gave before the parameter declarations were
rewritten (tests/config/golden/plan_ids.txt): same parameters, same defaults, same points. A
deliberate change of a default or of a shipped config regenerates the list with
`python3 tests/e2e/test_plan_golden.py --write` (XBARSWEEP and XBARSWEEP_SOURCE_DIR set), and the
commit says why the ids changed."""
import os
import subprocess
import sys
import tempfile

xbarsweep = os.environ["XBARSWEEP"]
source = os.environ["XBARSWEEP_SOURCE_DIR"]

# Configs that read CIFAR-10 (data/cifar-10-batches-bin, relative to the working directory) are
# planned in a scratch directory holding a tiny data set in CIFAR-10's binary format (8 records
# per batch file), so that plan's checks of the files run on real files of that format.
cifar_cwd = tempfile.mkdtemp(prefix="xbarsweep-golden-")
batches = os.path.join(cifar_cwd, "data", "cifar-10-batches-bin")
os.makedirs(batches)
for name in [f"data_batch_{i}.bin" for i in range(1, 6)] + ["test_batch.bin"]:
    with open(os.path.join(batches, name), "wb") as f:
        for record in range(8):
            f.write(bytes([record % 10]) + bytes((record * 7 + i) % 256 for i in range(3072)))


# Configs that evaluate the models another config saves (crossbar_eval.checkpoint: results/...pt)
# are planned in a scratch directory holding empty files at those paths: plan checks that they
# are readable, and a clean clone has not run the config that writes them.
def saved_models_cwd(text):
    import re
    paths = re.findall(r"results/[A-Za-z0-9_.-]+\.pt", text)
    cwd = tempfile.mkdtemp(prefix="xbarsweep-golden-models-")
    for path in paths:
        os.makedirs(os.path.join(cwd, os.path.dirname(path)), exist_ok=True)
        open(os.path.join(cwd, path), "wb").close()
    return cwd


def plan(path):
    text = open(os.path.join(source, path)).read()
    cwd = cifar_cwd if "name: cifar10" in text else source
    if "crossbar_eval.checkpoint" in text:
        cwd = saved_models_cwd(text)
    return subprocess.run([xbarsweep, "plan", os.path.join(source, path), "--show", "100000000"], cwd=cwd,
                          capture_output=True, text=True)
golden = {}
for line in open(os.path.join(source, "tests", "config", "golden", "plan_ids.txt")):
    if line.startswith("#") or not line.strip():
        continue
    path, ids = line.split(":", 1)
    golden[path] = ids.split()

if "--write" in sys.argv:
    shipped = sorted(set(subprocess.run(["git", "ls-files", "experiments/*.yaml", "experiments/**/*.yaml"],
                                        cwd=source, capture_output=True, text=True, check=True).stdout.split()))
    header = [l for l in open(os.path.join(source, "tests", "config", "golden", "plan_ids.txt")) if l.startswith("#")]
    with open(os.path.join(source, "tests", "config", "golden", "plan_ids.txt"), "w") as out:
        out.writelines(header)
        for path in shipped:
            p = plan(path)
            if p.returncode != 0:
                sys.exit(f"{path}: plan exited {p.returncode}: {p.stderr}")
            rows = [r.split("|") for r in p.stdout.splitlines() if r.startswith("| ") and not r.startswith("| index")]
            out.write(path + ": " + " ".join(r[2].strip() for r in rows) + "\n")
    sys.exit(0)

failures = []
for path, want in sorted(golden.items()):
    p = plan(path)
    if p.returncode != 0:
        failures.append(f"{path}: plan exited {p.returncode}: {p.stderr.strip()[:300]}")
        continue
    rows = [r.split("|") for r in p.stdout.splitlines() if r.startswith("| ") and not r.startswith("| index")]
    got = [r[2].strip() for r in rows]
    if got != want:
        first = next((i for i, (a, b) in enumerate(zip(got, want)) if a != b), min(len(got), len(want)))
        failures.append(f"{path}: {len(got)} points, golden {len(want)}; first difference at point {first}")
    else:
        print(f"ok {path}: {len(got)} points")
shipped = subprocess.run(["git", "ls-files", "experiments/*.yaml", "experiments/**/*.yaml"], cwd=source,
                         capture_output=True, text=True).stdout.split()
missing = sorted(set(shipped) - set(golden))
if shipped and missing:
    failures.append(f"configs without golden ids (add them to the golden file): {missing}")
if failures:
    print("FAIL:\n" + "\n".join(failures))
    sys.exit(1)
print(f"{len(golden)} shipped configs give their golden point ids")
