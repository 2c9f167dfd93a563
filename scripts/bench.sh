#!/usr/bin/env bash
# Builds and runs every benchmark; prints one line per figure last, as `name: value (target ...)`.
# Each figure's baseline is measured in the same run (see bench/README.md).
# Arguments go to every C++ benchmark program (Google Benchmark flags, e.g. --reps=5 or
# --benchmark_filter=k16); a figure whose benchmarks did not run reads `name: n/a (...)`.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh >/dev/null
scripts/build.sh >/dev/null
export OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1
log=$(mktemp)
run() { echo "== $*"; "$@" 2>&1 | tee -a "$log"; }
run python3 bench/engine/bench_engine.py build/xbarsweep
for b in build/bench/*/bench_*; do
  [ -x "$b" ] && run "$b" "$@"
done
echo
echo "== figures"
grep -E '^[a-z0-9_]+: ([-0-9.]+|n/a) ' "$log"
rm -f "$log"
