// GoogleTest main with Kokkos initialised once for the whole process (xbarsweep_add_test MAIN kokkos).
#include <gtest/gtest.h>

#include <Kokkos_Core.hpp>
#include <cstdio>

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  Kokkos::ScopeGuard kokkos(argc, argv);
  std::printf("Kokkos backend %s, %d thread(s)\n", Kokkos::DefaultExecutionSpace::name(),
              Kokkos::DefaultExecutionSpace().concurrency());
  return RUN_ALL_TESTS();
}
