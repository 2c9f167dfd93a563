#!/usr/bin/env bash
# Configures and builds xbarsweep into build/ (Release). Extra arguments go to cmake's configure.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${BUILD_DIR:-build}
cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=Release "$@" > "$BUILD_DIR.configure.log" 2>&1 \
  || { cat "$BUILD_DIR.configure.log"; exit 1; }
grep -E "BLAS used|OpenBLAS" "$BUILD_DIR.configure.log" | sed 's/^-- //' || true
# Torch translation units need ~1.5 GB each: cap the jobs by memory as well as cores.
jobs=$(nproc)
mem_jobs=$(( $(awk '/MemAvailable/ {print $2}' /proc/meminfo) / 1600000 ))
[ "$mem_jobs" -ge 1 ] && [ "$mem_jobs" -lt "$jobs" ] && jobs=$mem_jobs
cmake --build "$BUILD_DIR" -j "$jobs"
