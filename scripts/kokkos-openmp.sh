#!/usr/bin/env bash
# Builds Kokkos with the OpenMP backend (and Kokkos Kernels on it) from Debian's own trilinos
# source package, into a cache outside the clone, then configures and builds a second xbarsweep
# tree against it: the crossbar, circulant and model-bridge tests, and the xbarsweep command.
#
#   scripts/kokkos-openmp.sh [--test | --fetch]
#
# --fetch only downloads and unpacks the source into the cache (for a machine whose tests run
# without a network: scripts/check-fresh-machine.sh). --test then runs those tests in that tree with 2 threads, and checks that the xbarsweep command
# built there gives the Serial build's (build/) hardware results on tests/crossbar/backend_equality.yaml.
#
# Debian's Kokkos is Serial-only; this is how the kernels' portability to a threaded backend is
# tested. apt fetches the source with a private sources list and lists directory: the machine's
# apt configuration is not changed. The cache ($XBARSWEEP_KOKKOS_CACHE, default
# ~/.cache/xbarsweep/kokkos-openmp-VERSION) is built once per machine and version; the xbarsweep
# tree is $BUILD_DIR (default build-openmp). Needs what scripts/setup.sh installs.
set -euo pipefail
cd "$(dirname "$0")/.."

VERSION=13.2.0-4  # bookworm's trilinos: Kokkos 3.4.01, Kokkos Kernels 3.4.01 (as libtrilinos-kokkos-dev)
CACHE=${XBARSWEEP_KOKKOS_CACHE:-$HOME/.cache/xbarsweep/kokkos-openmp-$VERSION}
BUILD_DIR=${BUILD_DIR:-build-openmp}
PREFIX=$CACHE/install
jobs=$(nproc)
TEST=0
FETCH_ONLY=0
for a in "$@"; do
  case "$a" in
    --test) TEST=1 ;;
    --fetch) FETCH_ONLY=1 ;;
    *) echo "usage: scripts/kokkos-openmp.sh [--test | --fetch]" >&2; exit 2 ;;
  esac
done

log() { echo "kokkos-openmp: $*"; }

if [ ! -f "$PREFIX/.complete" ]; then
  mkdir -p "$CACHE/apt/lists/partial" "$CACHE/src"
  # The source package, from the archive that provides the machine's libtrilinos-kokkos-dev.
  mirror=${XBARSWEEP_DEBIAN_MIRROR:-$(apt-cache policy libtrilinos-kokkos-dev 2>/dev/null \
    | grep -oE 'https?://[^ ]+' | head -n1 || true)}
  mirror=${mirror:-http://deb.debian.org/debian}
  echo "deb-src $mirror bookworm main" > "$CACHE/apt/sources.list"
  apt_opts=(-o "Dir::Etc::SourceList=$CACHE/apt/sources.list" -o "Dir::Etc::SourceParts=/dev/null"
    -o "Dir::State::Lists=$CACHE/apt/lists" -o "Dir::Cache=$CACHE/apt/cache" -o "APT::Sandbox::User=root")
  if ! ls "$CACHE"/src/trilinos_*.orig.tar.gz > /dev/null 2>&1; then
    log "fetching trilinos $VERSION's source (166 MB) from $mirror"
    apt-get "${apt_opts[@]}" -q update > "$CACHE/apt.log" 2>&1 || { cat "$CACHE/apt.log"; exit 1; }
    (cd "$CACHE/src" && apt-get "${apt_opts[@]}" -q source --download-only "trilinos=$VERSION") \
      >> "$CACHE/apt.log" 2>&1 || { cat "$CACHE/apt.log"; exit 1; }
  fi
  if [ ! -d "$CACHE/src/kokkos" ]; then
    log "unpacking packages/kokkos and packages/kokkos-kernels"
    top=$( (tar -tzf "$CACHE"/src/trilinos_*.orig.tar.gz || true) | head -n1 | cut -d/ -f1)
    tar -xzf "$CACHE"/src/trilinos_*.orig.tar.gz -C "$CACHE/src" "$top/packages/kokkos" "$top/packages/kokkos-kernels"
    mv "$CACHE/src/$top/packages/kokkos" "$CACHE/src/$top/packages/kokkos-kernels" "$CACHE/src/"
    rm -rf "${CACHE:?}/src/$top"
  fi
  if [ "$FETCH_ONLY" = 1 ]; then
    log "source in $CACHE/src"
    exit 0
  fi
  log "building Kokkos (Serial + OpenMP) into $PREFIX"
  cmake -S "$CACHE/src/kokkos" -B "$CACHE/build-kokkos" -G Ninja -DCMAKE_BUILD_TYPE=Release \
    -DCMAKE_INSTALL_PREFIX="$PREFIX" -DBUILD_SHARED_LIBS=ON -DKokkos_ENABLE_SERIAL=ON \
    -DKokkos_ENABLE_OPENMP=ON -DKokkos_ENABLE_TESTS=OFF > "$CACHE/kokkos.log" 2>&1 \
    || { cat "$CACHE/kokkos.log"; exit 1; }
  cmake --build "$CACHE/build-kokkos" -j "$jobs" >> "$CACHE/kokkos.log" 2>&1 || { tail -50 "$CACHE/kokkos.log"; exit 1; }
  cmake --install "$CACHE/build-kokkos" >> "$CACHE/kokkos.log" 2>&1
  # Kokkos Kernels without explicit instantiation: xbarsweep's own translation units instantiate
  # the float LayoutRight gemm they call, which goes to the BLAS TPL (OpenBLAS) on host spaces.
  # The BLAS symbols' mangling is given (gfortran's, as OpenBLAS exports them: sgemm_), or Kokkos
  # Kernels would need a Fortran compiler to find it out.
  log "building Kokkos Kernels (BLAS TPL, no explicit instantiation) into $PREFIX"
  cmake -S "$CACHE/src/kokkos-kernels" -B "$CACHE/build-kernels" -G Ninja -DCMAKE_BUILD_TYPE=Release \
    -DCMAKE_INSTALL_PREFIX="$PREFIX" -DKokkos_ROOT="$PREFIX" -DBUILD_SHARED_LIBS=ON \
    -DKokkosKernels_ENABLE_TPL_BLAS=ON -DKokkosKernels_ADD_DEFAULT_ETI=OFF \
    -DKokkosKernels_INST_DOUBLE=OFF -DKokkosKernels_INST_FLOAT=OFF -DKokkosKernels_INST_COMPLEX_DOUBLE=OFF \
    -DKokkosKernels_INST_COMPLEX_FLOAT=OFF -DKokkosKernels_INST_LAYOUTLEFT=OFF -DKokkosKernels_INST_LAYOUTRIGHT=OFF \
    -DKokkosKernels_INST_ORDINAL_INT=OFF -DKokkosKernels_INST_OFFSET_INT=OFF -DKokkosKernels_INST_OFFSET_SIZE_T=OFF \
    -DKokkosKernels_ENABLE_TESTS=OFF -DKokkosKernels_ENABLE_EXAMPLES=OFF \
    "-DF77_BLAS_MANGLE=(name,NAME) name ## _" > "$CACHE/kernels.log" 2>&1 \
    || { cat "$CACHE/kernels.log"; exit 1; }
  cmake --build "$CACHE/build-kernels" -j "$jobs" >> "$CACHE/kernels.log" 2>&1 || { tail -50 "$CACHE/kernels.log"; exit 1; }
  cmake --install "$CACHE/build-kernels" >> "$CACHE/kernels.log" 2>&1
  touch "$PREFIX/.complete"
fi
log "Kokkos with OpenMP in $PREFIX"

log "configuring and building $BUILD_DIR against it"
cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=Release -DKokkos_ROOT="$PREFIX" \
  -DKokkosKernels_ROOT="$PREFIX" > "$BUILD_DIR.configure.log" 2>&1 || { cat "$BUILD_DIR.configure.log"; exit 1; }
targets=(crossbar_tests crossbar_config_tests crossbar_cost_tests circulant_tests analog_model_eval_tests analog_lstm_eval_tests
  xbarsweep)
cmake --build "$BUILD_DIR" -j "$jobs" --target "${targets[@]}"
log "built ${targets[*]} in $BUILD_DIR"

[ "$TEST" = 1 ] || exit 0
export OMP_NUM_THREADS=2 OMP_PROC_BIND=false OPENBLAS_NUM_THREADS=1
log "the crossbar, circulant and model-bridge tests with 2 threads"
(cd "$BUILD_DIR" && ctest --output-on-failure --timeout 900 \
  -R '^(crossbar_tests|crossbar_config_tests|crossbar_cost_tests|circulant_tests|analog_model_eval_tests|analog_lstm_eval_tests)$')
log "the same hardware results as the Serial build (build/xbarsweep)"
[ -x build/xbarsweep ] || { echo "kokkos-openmp: build/xbarsweep missing: run scripts/build.sh first" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
config=tests/crossbar/backend_equality.yaml
metrics=hw_accuracy_mean,hw_accuracy_std,hw_accuracy_min,crossbars
build/xbarsweep run "$config" --out "$tmp/serial.h5" --threads 1 > "$tmp/serial.log" 2>&1 || { cat "$tmp/serial.log"; exit 1; }
mkdir -p "$tmp/openmp.h5.cache" && cp "$tmp"/serial.h5.cache/*.pt "$tmp/openmp.h5.cache/"  # the same trained baseline
"$BUILD_DIR/xbarsweep" run "$config" --out "$tmp/openmp.h5" --threads 2 > "$tmp/openmp.log" 2>&1 \
  || { cat "$tmp/openmp.log"; exit 1; }
build/xbarsweep report "$tmp/serial.h5" --format csv --metrics "$metrics" > "$tmp/serial.csv"
build/xbarsweep report "$tmp/openmp.h5" --format csv --metrics "$metrics" > "$tmp/openmp.csv"
if ! cmp -s "$tmp/serial.csv" "$tmp/openmp.csv"; then
  echo "kokkos-openmp: the OpenMP build's hardware results differ from the Serial build's:" >&2
  diff "$tmp/serial.csv" "$tmp/openmp.csv" >&2 || true
  exit 1
fi
log "$(($(wc -l < "$tmp/serial.csv") - 1)) points: hardware accuracies and crossbars equal, bit for bit"
