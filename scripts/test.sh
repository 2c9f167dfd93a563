#!/usr/bin/env bash
# README command 2: install what is missing, build, run the whole ctest suite (unit, MPI at 1, 2
# and 4 ranks, kill/resume, bad-input corpus, end-to-end, Slurm).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/build.sh
cd build
ctest --output-on-failure --timeout 900 -j 2 "$@"
