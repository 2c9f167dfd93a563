#!/usr/bin/env bash
# mpirun with the flags this project needs everywhere: root allowed (containers, CI),
# oversubscription allowed (a laptop with fewer cores than ranks), no core binding (each rank
# sizes its own thread pool), plain progress lines when the output is not a terminal (mpirun
# hides that from the ranks). Usage: scripts/mpirun.sh N command...
set -euo pipefail
n=$1; shift
exec mpirun -n "$n" --oversubscribe --bind-to none \
  $( [ "$(id -u)" -eq 0 ] && echo --allow-run-as-root ) \
  $( [ -t 1 ] || echo -x XBARSWEEP_PROGRESS=lines ) \
  -x OPENBLAS_NUM_THREADS=1 "$@"
