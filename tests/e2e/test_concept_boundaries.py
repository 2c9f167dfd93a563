"""The concepts do not leak: the crossbar simulator knows no torch (no torch header under
src/crossbar or include/xbarsweep/crossbar, and its test program loads no LibTorch), and the sweep
engine knows kinds only through their interface (no kind's header under src/sweep or
include/xbarsweep/sweep), and only the store and the command know HDF5 and MPI's C API from config,
data, nn, analog, compress, circulant and crossbar (HDF5 data files reach data through the store's
reader, registered by the command)."""
import glob
import os
import re
import subprocess

from harness import *

src = SOURCE_DIR
build = os.path.dirname(os.path.abspath(XBARSWEEP))
torch_include = re.compile(r'#\s*include\s*[<"](torch/|ATen/|c10/|xbarsweep/(nn|data|analog|circulant)/)')
for folder in ("src/crossbar", "include/xbarsweep/crossbar", "include/xbarsweep/crossbar/impl"):
    for f in glob.glob(os.path.join(src, folder, "*.?pp")):
        for n, line in enumerate(open(f), 1):
            check(not torch_include.search(line), f"{f}:{n}: the crossbar concept includes {line.strip()}")
kind_include = re.compile(r'#\s*include\s*"xbarsweep/kinds/(?!kind\.hpp)')
for folder in ("src/sweep", "include/xbarsweep/sweep"):
    for f in glob.glob(os.path.join(src, folder, "*.?pp")):
        for n, line in enumerate(open(f), 1):
            check(not kind_include.search(line), f"{f}:{n}: the sweep engine includes {line.strip()}")

c_api_include = re.compile(r'#\s*include\s*[<"](hdf5|H5[A-Za-z]*|mpi)\.h[>"]')
for concept in ("config", "data", "nn", "analog", "compress", "circulant", "crossbar"):
    for folder in (f"src/{concept}", f"include/xbarsweep/{concept}"):
        for f in glob.glob(os.path.join(src, folder, "**", "*.?pp"), recursive=True):
            for n, line in enumerate(open(f), 1):
                check(not c_api_include.search(line), f"{f}:{n}: the {concept} concept includes {line.strip()}")

# The crossbar test program links the crossbar library and nothing of torch's.
program = os.path.join(build, "tests", "crossbar", "crossbar_tests")
check(os.path.exists(program), f"{program} not built")
libraries = subprocess.run(["ldd", program], capture_output=True, text=True).stdout
check("libtorch" not in libraries and "libc10" not in libraries,
      f"crossbar_tests loads LibTorch:\n{libraries}")
ninja = open(os.path.join(build, "build.ninja")).read()
sweep_link = [l for l in ninja.splitlines() if l.startswith("build src/sweep/libxbarsweep_sweep.a")]
check(sweep_link and "libxbarsweep_kinds.a" not in sweep_link[0], "the sweep library depends on the kinds")
print("crossbar: no torch; sweep: the Kind interface only; config, data, nn, analog, compress, circulant, crossbar: no HDF5 or MPI")
