# Test helpers. Every test gets a TIMEOUT and labels (unit, mpi, e2e, slurm, ...).
#
# xbarsweep_add_test(NAME SOURCES ... LIBS ... [LABELS ...] [TIMEOUT s])
#   a GoogleTest executable run once.
# xbarsweep_add_mpi_test(NAME SOURCES ... LIBS ... RANKS 1 2 4 [LABELS ...] [TIMEOUT s])
#   a GoogleTest executable run under mpiexec at each rank count (oversubscribed, root allowed).
set(XBARSWEEP_MPIEXEC_FLAGS --oversubscribe --allow-run-as-root --bind-to none)

function(xbarsweep_add_test name)
  cmake_parse_arguments(ARG "" "TIMEOUT" "SOURCES;LIBS;LABELS" ${ARGN})
  if(NOT ARG_TIMEOUT)
    set(ARG_TIMEOUT 300)
  endif()
  add_executable(${name} ${ARG_SOURCES})
  target_link_libraries(${name} PRIVATE ${ARG_LIBS} GTest::gtest_main xbarsweep_warnings)
  add_test(NAME ${name} COMMAND ${name})
  set_tests_properties(${name} PROPERTIES TIMEOUT ${ARG_TIMEOUT} LABELS "unit;${ARG_LABELS}"
    ENVIRONMENT "XBARSWEEP_SOURCE_DIR=${PROJECT_SOURCE_DIR};OMP_NUM_THREADS=1;OPENBLAS_NUM_THREADS=1")
endfunction()

function(xbarsweep_add_mpi_test name)
  cmake_parse_arguments(ARG "" "TIMEOUT" "SOURCES;LIBS;LABELS;RANKS" ${ARGN})
  if(NOT ARG_TIMEOUT)
    set(ARG_TIMEOUT 300)
  endif()
  add_executable(${name} ${ARG_SOURCES})
  target_link_libraries(${name} PRIVATE ${ARG_LIBS} GTest::gtest MPI::MPI_CXX xbarsweep_warnings)
  foreach(n ${ARG_RANKS})
    add_test(NAME ${name}_np${n}
      COMMAND ${MPIEXEC_EXECUTABLE} ${MPIEXEC_NUMPROC_FLAG} ${n} ${XBARSWEEP_MPIEXEC_FLAGS}
              $<TARGET_FILE:${name}>)
    set_tests_properties(${name}_np${n} PROPERTIES TIMEOUT ${ARG_TIMEOUT} LABELS "mpi;${ARG_LABELS}"
      PROCESSORS ${n}
      ENVIRONMENT "XBARSWEEP_SOURCE_DIR=${PROJECT_SOURCE_DIR};OMP_NUM_THREADS=1;OPENBLAS_NUM_THREADS=1")
  endforeach()
endfunction()
