#!/usr/bin/env bash
# mpirun with the flags this project needs everywhere: root allowed (containers, CI),
# oversubscription allowed (a laptop with fewer cores than ranks), no core binding (each rank
# sizes its own thread pool). Usage: scripts/mpirun.sh N command...
set -euo pipefail
n=$1; shift
exec mpirun -n "$n" --oversubscribe --bind-to none \
  $( [ "$(id -u)" -eq 0 ] && echo --allow-run-as-root ) \
  -x OPENBLAS_NUM_THREADS=1 "$@"
