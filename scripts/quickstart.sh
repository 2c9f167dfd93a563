#!/usr/bin/env bash
# README command 1: install what is missing, build, run experiments/quickstart.yaml on 2 ranks,
# print where the results are and a summary table. Idempotent: a second run resumes/finishes.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/build.sh
config=experiments/quickstart.yaml
out=results/quickstart.h5
echo "quickstart: running $config on 2 ranks"
scripts/mpirun.sh 2 build/xbarsweep run "$config" --out "$out"
echo
build/xbarsweep status "$out"
echo
build/xbarsweep report "$out" --format markdown
echo
echo "quickstart: results are in $out (report as CSV: build/xbarsweep report $out --format csv)"
