# The one way tests are registered. Every test gets a TIMEOUT, labels, one thread per library and
# XBARSWEEP_SOURCE_DIR in its environment.
#
# xbarsweep_add_test(NAME SOURCES ... LIBS ... [LABELS ...] [TIMEOUT s] [RANKS n ...] [MAIN gtest|kokkos|own])
#   A GoogleTest executable. Without RANKS it runs once (label unit); with RANKS once per rank
#   count under ${MPIEXEC_EXECUTABLE} ${MPIEXEC_NUMPROC_FLAG} n (label mpi, oversubscribed, root
#   allowed), as NAME_np<n>. MAIN: gtest (default: GTest::gtest_main), kokkos (Kokkos initialised
#   once per process: tests/support/kokkos_main.cpp), own (the sources define main).
#
# xbarsweep_check_headers(CONCEPT LIBS ...)
#   Every public header include/xbarsweep/CONCEPT/*.hpp compiles on its own: one translation unit
#   per header, built with the tests.
set(XBARSWEEP_MPIEXEC_FLAGS --oversubscribe --allow-run-as-root --bind-to none)
# Debian's python3 (python3-torch exports the TorchScript models tests load; python3-h5py reads
# results): a python3 earlier on PATH (pyenv, venv) may lack them.
find_program(XBARSWEEP_PYTHON python3 PATHS /usr/bin NO_DEFAULT_PATH)
if(NOT XBARSWEEP_PYTHON)
  find_package(Python3 COMPONENTS Interpreter REQUIRED)
  set(XBARSWEEP_PYTHON ${Python3_EXECUTABLE})
endif()
set(XBARSWEEP_TEST_ENVIRONMENT
  "XBARSWEEP_SOURCE_DIR=${PROJECT_SOURCE_DIR};XBARSWEEP_PYTHON=${XBARSWEEP_PYTHON};OMP_NUM_THREADS=1;OPENBLAS_NUM_THREADS=1")

function(xbarsweep_add_test name)
  cmake_parse_arguments(ARG "" "TIMEOUT;MAIN" "SOURCES;LIBS;LABELS;RANKS" ${ARGN})
  if(NOT ARG_TIMEOUT)
    set(ARG_TIMEOUT 300)
  endif()
  if(NOT ARG_MAIN)
    set(ARG_MAIN gtest)
  endif()
  set(_sources ${ARG_SOURCES})
  if(ARG_MAIN STREQUAL "kokkos")
    list(APPEND _sources ${PROJECT_SOURCE_DIR}/tests/support/kokkos_main.cpp)
    set(_gtest GTest::gtest Kokkos::kokkos)
  elseif(ARG_MAIN STREQUAL "own")
    set(_gtest GTest::gtest)
  else()
    set(_gtest GTest::gtest_main)
  endif()
  add_executable(${name} ${_sources})
  target_include_directories(${name} PRIVATE ${PROJECT_SOURCE_DIR}/tests)
  target_link_libraries(${name} PRIVATE ${ARG_LIBS} ${_gtest} xbarsweep_warnings)
  if(NOT ARG_RANKS)
    add_test(NAME ${name} COMMAND ${name})
    set_tests_properties(${name} PROPERTIES TIMEOUT ${ARG_TIMEOUT} LABELS "unit;${ARG_LABELS}"
      ENVIRONMENT "${XBARSWEEP_TEST_ENVIRONMENT}")
    return()
  endif()
  target_link_libraries(${name} PRIVATE MPI::MPI_CXX)
  foreach(n ${ARG_RANKS})
    add_test(NAME ${name}_np${n}
      COMMAND ${MPIEXEC_EXECUTABLE} ${MPIEXEC_NUMPROC_FLAG} ${n} ${XBARSWEEP_MPIEXEC_FLAGS}
              $<TARGET_FILE:${name}>)
    set_tests_properties(${name}_np${n} PROPERTIES TIMEOUT ${ARG_TIMEOUT} LABELS "mpi;${ARG_LABELS}"
      PROCESSORS ${n} ENVIRONMENT "${XBARSWEEP_TEST_ENVIRONMENT}")
  endforeach()
endfunction()

function(xbarsweep_check_headers concept)
  cmake_parse_arguments(ARG "" "" "LIBS" ${ARGN})
  file(GLOB _headers CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/include/xbarsweep/${concept}/*.hpp)
  set(_sources)
  foreach(h ${_headers})
    get_filename_component(_name ${h} NAME_WE)
    set(_src ${CMAKE_CURRENT_BINARY_DIR}/selfcontained/${concept}/${_name}.cpp)
    set(_text "#include \"xbarsweep/${concept}/${_name}.hpp\"\n")
    if(EXISTS ${_src})
      file(READ ${_src} _old)
    else()
      set(_old "")
    endif()
    if(NOT _old STREQUAL _text)
      file(WRITE ${_src} "${_text}")
    endif()
    list(APPEND _sources ${_src})
  endforeach()
  if(_sources)
    add_library(${concept}_headers_selfcontained OBJECT ${_sources})
    target_link_libraries(${concept}_headers_selfcontained PRIVATE ${ARG_LIBS} xbarsweep_warnings)
  endif()
endfunction()
