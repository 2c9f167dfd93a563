#!/usr/bin/env bash
# Installs the Debian packages xbarsweep needs (only the missing ones) and makes sure LibTorch and
# Kokkos Kernels run on OpenBLAS rather than the reference BLAS. Idempotent; needs root (or sudo).
set -euo pipefail

PACKAGES=(
  build-essential cmake ninja-build pkg-config git
  libopenmpi-dev openmpi-bin
  libtorch-dev libopenblas0-pthread
  libhdf5-openmpi-dev
  libtrilinos-kokkos-dev libtrilinos-kokkos-kernels-dev
  # Kokkos Kernels' CMake package links libblas.so and liblapack.so; its package pulls in neither.
  libblas-dev liblapack-dev
  libyaml-cpp-dev libfftw3-dev libcli11-dev zlib1g-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  slurm-wlm munge procps
  iproute2 util-linux  # slurm-local.sh --nodes: network namespaces (ip), nsenter and unshare
  dataset-fashion-mnist
  python3 python3-h5py python3-pandas python3-numpy python3-torch python3-matplotlib python3-pytest
  clang-format  # the test suite checks the sources against .clang-format
  texlive-latex-base texlive-latex-recommended  # the suite compiles `report --format latex` (booktabs)
)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  $SUDO apt-get update -q
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

# Debian's libblas.so.3 is an alternatives link: make sure it is OpenBLAS (10-30x faster GEMM).
blas=$(readlink -f /usr/lib/x86_64-linux-gnu/libblas.so.3 || true)
if [[ "$blas" != *openblas* ]]; then
  cand=$(update-alternatives --list libblas.so.3-x86_64-linux-gnu 2>/dev/null | grep openblas | head -n1 || true)
  [ -n "$cand" ] && $SUDO update-alternatives --set libblas.so.3-x86_64-linux-gnu "$cand"
  blas=$(readlink -f /usr/lib/x86_64-linux-gnu/libblas.so.3 || true)
fi
echo "setup: BLAS is $blas"

# The Python package python/xbarsweep importable by Debian's python3 from anywhere (a .pth file
# naming this tree's python/ directory): `python3 -c "import xbarsweep"`.
site=$(/usr/bin/python3 -c 'import sys; print(f"/usr/local/lib/python3.{sys.version_info.minor}/dist-packages")')
tree=$(cd "$(dirname "$0")/.." && pwd)/python
if [ "$(cat "$site/xbarsweep-source.pth" 2>/dev/null)" != "$tree" ]; then
  $SUDO mkdir -p "$site" && echo "$tree" | $SUDO tee "$site/xbarsweep-source.pth" >/dev/null
  echo "setup: python3 imports xbarsweep from $tree"
fi
