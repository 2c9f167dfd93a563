# Every third-party dependency is found here, once, and reported in the feature summary.

find_package(MPI REQUIRED COMPONENTS C CXX)
set_package_properties(MPI PROPERTIES TYPE REQUIRED PURPOSE "sharding sweeps over ranks")

find_package(Torch REQUIRED)
set_package_properties(Torch PROPERTIES TYPE REQUIRED PURPOSE "training and evaluating models (LibTorch)")

# Debian's Kokkos points its target at a non-existent /usr/lib/include; a user's own Kokkos
# (-DKokkos_ROOT=...) is left as it is.
find_package(Kokkos REQUIRED)
set_package_properties(Kokkos PROPERTIES TYPE REQUIRED PURPOSE "crossbar and FFT kernels")
get_target_property(_kokkos_inc Kokkos::kokkos INTERFACE_INCLUDE_DIRECTORIES)
if(_kokkos_inc MATCHES "/usr/lib/include" AND EXISTS /usr/include/trilinos/Kokkos_Core.hpp)
  set_target_properties(Kokkos::kokkos PROPERTIES INTERFACE_INCLUDE_DIRECTORIES /usr/include/trilinos)
endif()

find_package(KokkosKernels REQUIRED)
set_package_properties(KokkosKernels PROPERTIES TYPE REQUIRED PURPOSE "dense tile GEMM through the BLAS TPL")
if(TARGET trilinos_kokkoskernels AND NOT TARGET Kokkos::kokkoskernels)
  add_library(xbarsweep_kokkoskernels INTERFACE)
  target_link_libraries(xbarsweep_kokkoskernels INTERFACE trilinos_kokkoskernels Kokkos::kokkos)
  target_include_directories(xbarsweep_kokkoskernels INTERFACE /usr/include/trilinos)
  add_library(Kokkos::kokkoskernels ALIAS xbarsweep_kokkoskernels)
endif()

# Parallel HDF5 (Debian: libhdf5-openmpi-dev). The C API only.
set(HDF5_PREFER_PARALLEL ON)
find_package(HDF5 REQUIRED COMPONENTS C)
set_package_properties(HDF5 PROPERTIES TYPE REQUIRED PURPOSE "the results file")
if(NOT TARGET xbarsweep_hdf5)
  add_library(xbarsweep_hdf5 INTERFACE)
  target_include_directories(xbarsweep_hdf5 SYSTEM INTERFACE ${HDF5_C_INCLUDE_DIRS} ${HDF5_INCLUDE_DIRS})
  target_link_libraries(xbarsweep_hdf5 INTERFACE ${HDF5_C_LIBRARIES} MPI::MPI_C)
  target_compile_definitions(xbarsweep_hdf5 INTERFACE ${HDF5_DEFINITIONS})
endif()

find_package(yaml-cpp REQUIRED)
set_package_properties(yaml-cpp PROPERTIES TYPE REQUIRED PURPOSE "experiment configs")
if(NOT TARGET yaml-cpp::yaml-cpp)
  add_library(yaml-cpp::yaml-cpp INTERFACE IMPORTED)
  set_target_properties(yaml-cpp::yaml-cpp PROPERTIES INTERFACE_LINK_LIBRARIES yaml-cpp)
endif()

find_package(CLI11 REQUIRED)
set_package_properties(CLI11 PROPERTIES TYPE REQUIRED PURPOSE "the xbarsweep command line")

find_package(ZLIB REQUIRED)
set_package_properties(ZLIB PROPERTIES TYPE REQUIRED PURPOSE "reading gzipped IDX data sets")

find_package(PkgConfig REQUIRED)
pkg_check_modules(FFTW3 REQUIRED IMPORTED_TARGET fftw3 fftw3f)
add_feature_info(FFTW3 FFTW3_FOUND "block-circulant FFT products (pkg-config fftw3, fftw3f)")

find_package(GTest)
set_package_properties(GTest PROPERTIES TYPE RECOMMENDED PURPOSE "unit tests")
find_package(benchmark)
set_package_properties(benchmark PROPERTIES TYPE RECOMMENDED PURPOSE "benchmarks in bench/")

find_package(Threads REQUIRED)

# Which BLAS the process will really map: Debian's libblas.so.3 is an alternatives link.
get_filename_component(XBARSWEEP_BLAS_LIBRARY /usr/lib/x86_64-linux-gnu/libblas.so.3 REALPATH)
if(XBARSWEEP_BLAS_LIBRARY MATCHES "openblas")
  add_feature_info(OpenBLAS ON "optimised BLAS under LibTorch and Kokkos Kernels: ${XBARSWEEP_BLAS_LIBRARY}")
else()
  add_feature_info(OpenBLAS OFF "reference BLAS selected (${XBARSWEEP_BLAS_LIBRARY}): dense products 10-30x slower; apt-get install libopenblas0-pthread")
endif()
