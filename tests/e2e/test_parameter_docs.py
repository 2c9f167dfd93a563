"""docs/parameters.md is what `xbarsweep kinds --format markdown` prints from the parameter
declarations: no parameter, default, range or description is documented by hand. After changing a
declaration: build/xbarsweep kinds --format markdown > docs/parameters.md"""
import os

from harness import *

page = os.path.join(SOURCE_DIR, "docs", "parameters.md")
generated = run(["kinds", "--format", "markdown"], check_rc=0).stdout
committed = open(page).read()
if generated != committed:
    ours, theirs = generated.splitlines(), committed.splitlines()
    first = next((i for i, (a, b) in enumerate(zip(ours, theirs)) if a != b), min(len(ours), len(theirs)))
    fail(f"docs/parameters.md differs from the declarations at line {first + 1}:\n"
         f"  declarations: {ours[first] if first < len(ours) else '(end)'}\n"
         f"  docs:         {theirs[first] if first < len(theirs) else '(end)'}\n"
         f"regenerate: build/xbarsweep kinds --format markdown > docs/parameters.md")
print(f"docs/parameters.md matches the declarations ({len(generated.splitlines())} lines)")
