#!/usr/bin/env bash
# README command 2: install what is missing, build, run the whole ctest suite (unit, MPI at 1, 2
# and 4 ranks, kill/resume, bad-input corpus, end-to-end, Slurm), then the crossbar, circulant
# and model-bridge tests on Kokkos with OpenMP at 2 threads (scripts/kokkos-openmp.sh --test; the
# first time on a machine it fetches and builds Kokkos, about 2 minutes, and a second build tree,
# about 10). Arguments go to ctest and run the main tree's subset only.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/build.sh
(cd build && ctest --output-on-failure --timeout 900 -j 2 "$@")
if [ $# -eq 0 ]; then  # the whole suite; with ctest arguments (a subset), the main tree only
  scripts/kokkos-openmp.sh --test
fi
