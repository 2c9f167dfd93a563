"""Every file of the bad-input corpus, given to the real command: exit 2 with a message naming
the problem, no crash, no hang, and an existing results file left byte-for-byte untouched.
Then corrupt results files given to `status`, `report` and `run`."""
import glob
import os
import random
import shutil

from harness import *

corpus = os.path.join(SOURCE_DIR, "tests", "corpus", "config")
expect = {}
table = os.path.join(corpus, "EXPECTATIONS.txt")
if os.path.exists(table):
    for line in open(table):
        if "\t" in line and not line.startswith("#"):
            name, text = line.rstrip("\n").split("\t", 1)
            expect[name] = text
files = sorted(f for f in glob.glob(os.path.join(corpus, "*")) if not f.endswith("EXPECTATIONS.txt"))
for f in files:
    if os.path.basename(f) not in expect:
        with open(f, "rb") as fh:
            first = fh.readline().decode("utf-8", "replace")
        if first.startswith("# expect:"):
            expect[os.path.basename(f)] = first[len("# expect:"):].strip()
check(len(files) >= 25, f"the corpus needs at least 25 files, has {len(files)}")

scratch = UntouchedResults("bad")
d, existing = scratch.dir, scratch.existing
good = f"{d}/good.yaml"


def check_untouched(what):
    changes = scratch.changes()
    check(not changes, f"{what}: {'; '.join(changes)}")


failures = []
for f in files:
    name = os.path.basename(f)
    for args in (["plan", f], ["run", f, "--out", existing]):
        try:
            p = run(args, timeout=30)
        except Exception as e:  # a hang is a failure too
            failures.append(f"{name}: {args[0]}: {e}")
            continue
        message = p.stderr.strip()
        if p.returncode != 2:
            failures.append(f"{name}: {args[0]} exited {p.returncode} (expected 2): {message[:300]}")
        elif name in expect and expect[name].lower() not in message.lower():
            failures.append(f"{name}: {args[0]}: message lacks '{expect[name]}': {message[:300]}")
        elif not message:
            failures.append(f"{name}: {args[0]}: no message")
        check_untouched(f"{name} {args[0]}")
    print(f"ok {name}: {message.splitlines()[0][:160] if message else ''}")

# Corrupt results files.
rng = random.Random(7)
corrupt = {
    "random.h5": bytes(rng.getrandbits(8) for _ in range(4096)),
    "empty.h5": b"",
    "text.h5": b"this is not an HDF5 file\n",
    "truncated.h5": open(existing, "rb").read()[:700],
}
for name, data in corrupt.items():
    path = f"{d}/{name}"
    open(path, "wb").write(data)
    for args in (["status", path], ["report", path], ["run", good, "--out", path]):
        p = run(args, timeout=30)
        if p.returncode != 2 or path not in p.stderr:
            failures.append(f"corrupt {name}: {args[0]} exited {p.returncode}: {p.stderr.strip()[:300]}")
        check(open(path, "rb").read() == data, f"corrupt {name}: {args[0]} modified it")
    print(f"ok corrupt {name}")
missing = run(["status", f"{d}/missing.h5"], timeout=30)
if missing.returncode != 2:
    failures.append(f"status of a missing file exited {missing.returncode}")

if failures:
    fail("\n".join(failures))
print(f"{len(files)} corpus files and {len(corrupt) + 1} bad results files rejected cleanly")
cleanup(d)
