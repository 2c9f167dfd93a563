"""The semantic-error corpus (tests/corpus/semantic): values each valid alone but wrong together,
against the model or against the file system. Each is given to the real command as a YAML file and
as --set overrides of a good config of its kind (base/, named on the file's `# set:` line). `plan`
and `run` must exit 2 with a message naming the file:line:column (or the --set), the key and what
was expected (every `# expect:` line of the file), before any point starts, creating or changing
no results file. The good base configs must pass `plan`."""
import glob
import os

from harness import *

corpus = os.path.join(SOURCE_DIR, "tests", "corpus", "semantic")
files = sorted(glob.glob(os.path.join(corpus, "*.yaml")))
check(len(files) >= 30, f"the semantic corpus needs at least 30 files, has {len(files)}")

scratch = UntouchedResults("semantic")
d, existing = scratch.dir, scratch.existing

for base in sorted(glob.glob(os.path.join(corpus, "base", "*.yaml"))):
    run(["plan", base], check_rc=0)

failures = []
kinds = set()


def attempt(name, args, expects, located):
    """Runs one bad input; records what is wrong with the answer, if anything."""
    try:
        p = run(args, timeout=120)
    except Exception as e:  # a hang is a failure too
        failures.append(f"{name}: {args[0]}: {e}")
        return
    message = p.stderr.strip()
    if p.returncode != 2:
        failures.append(f"{name}: {' '.join(args[:1] + args[2:])} exited {p.returncode} (expected 2): {message[:300]}")
        return
    for text in expects + [located, "expected"]:
        if text not in message:
            failures.append(f"{name}: {args[0]}: message lacks {text!r}: {message[:400]}")
    if "computing" in p.stdout:
        failures.append(f"{name}: {args[0]}: started computing before refusing")
    for change in scratch.changes():
        failures.append(f"{name}: {args[0]}: {change}")


for f in files:
    name = os.path.basename(f)
    header = [line.rstrip("\n") for line in open(f) if line.startswith("#")]
    expects = [line[len("# expect:"):].strip() for line in header if line.startswith("# expect:")]
    sets = [line[len("# set:"):].split() for line in header if line.startswith("# set:")]
    check(expects and len(sets) == 1, f"{name}: needs '# expect:' lines and one '# set:' line")
    base, overrides = os.path.join(corpus, sets[0][0]), sets[0][1:]
    kinds.add(open(base).read().split("kind:")[1].split()[0])
    set_args = sum((["--set", o] for o in overrides), [])
    key = [e for e in expects if e.startswith("key '")]
    # The YAML form names the file and line; the --set form names the --set.
    for args, located, wanted in (
            (["plan", f], f"{name}:", expects),
            (["run", f, "--out", existing], f"{name}:", expects),
            (["plan", base] + set_args, "--set '", key),
            (["run", base, "--out", existing] + set_args, "--set '", key)):
        attempt(name, args, wanted, located)
    print(f"ok {name}")

check(kinds >= {"train", "admm", "crossbar_eval", "clstm", "synthetic"}, f"kinds covered: {sorted(kinds)}")
if failures:
    fail("\n".join(failures))
print(f"{len(files)} semantic errors refused by plan and run, as files and as --set, with nothing written")
cleanup(d)
