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
# The headline columns; the CSV below has every metric.
build/xbarsweep report "$out" --format markdown --metrics \
  dense_accuracy,accuracy,hw_accuracy_mean,compression_ratio,crossbars,crossbars_dense,power_reduction,area_reduction
echo
echo "quickstart: results are in $out (every metric as CSV: build/xbarsweep report $out --format csv)"
