"""The tables of docs/results/ that come from a results file kept in docs/results/data/ are the
report's output of that file: each `build/xbarsweep report` command of a page whose files are all
kept there (and listed as complete, "all N", in docs/results/README.md's "Results files") is run
on them, and its output must equal the table that follows the command's code block."""
import os
import re
import shlex

from harness import *

results_dir = os.path.join(SOURCE_DIR, "docs", "results")
data_dir = os.path.join(results_dir, "data")

complete = set()
for line in open(os.path.join(results_dir, "README.md")):
    m = re.match(r"\| `([^`]+\.h5)` \|.*\| all \d+ \|\s*$", line)
    if m:
        complete.add(m.group(1))
for name in complete:
    if not os.path.exists(os.path.join(data_dir, name)):
        fail(f"docs/results/README.md lists {name} as complete, but docs/results/data/{name} does not exist")


def commands_and_tables(text):
    """(command, table) for each report command in a ```sh block: the k-th report command of a
    block goes with the k-th table after it (tables separated by blank lines only); None when
    the block has fewer tables than report commands."""
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        if lines[i].strip() != "```sh":
            i += 1
            continue
        block = []
        i += 1
        while i < len(lines) and lines[i].strip() != "```":
            block.append(lines[i])
            i += 1
        i += 1
        tables = []
        while True:
            while i < len(lines) and not lines[i].strip():
                i += 1
            if i >= len(lines) or not lines[i].startswith("|"):
                break
            table = []
            while i < len(lines) and lines[i].startswith("|"):
                table.append(lines[i])
                i += 1
            tables.append("\n".join(table))
        joined = "\n".join(block).replace("\\\n", " ")
        commands = [c for c in joined.splitlines() if c.startswith("build/xbarsweep report ")]
        for k, command in enumerate(commands):
            yield command, tables[k] if k < len(tables) else None


checked = 0
used = set()
for page in sorted(os.listdir(results_dir)):
    if not page.endswith(".md"):
        continue
    for command, table in commands_and_tables(open(os.path.join(results_dir, page)).read()):
        if "$" in command:
            continue
        args = shlex.split(command)[1:]
        files = [a for a in args if a.endswith(".h5")]
        if not files or not all(f.startswith("results/") and f[len("results/"):] in complete for f in files):
            continue
        if table is None:
            fail(f"docs/results/{page}: `{command}` reads kept files but no table follows it")
        args = [os.path.join(data_dir, a[len("results/"):]) if a in files else a for a in args]
        out = run(args, check_rc=0).stdout.strip()
        if out != table.strip():
            fail(f"docs/results/{page}: the table after `{command}` is not its output on docs/results/data:\n"
                 f"--- report ---\n{out}\n--- page ---\n{table}")
        checked += 1
        used.update(f[len("results/"):] for f in files)

if complete - used:
    fail(f"complete results files that no page's report command reads: {sorted(complete - used)}")
print(f"{checked} tables of docs/results/ equal the report's output of docs/results/data/")
