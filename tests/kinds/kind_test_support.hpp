#pragma once
// Shared by the kinds' tests: Kokkos started once per test program (the crossbar and FFT code
// needs it), and a point made of a kind's schema defaults.
#include <gtest/gtest.h>

#include <Kokkos_Core.hpp>
#include <optional>

#include "xbarsweep/config/value.hpp"
#include "xbarsweep/kinds/kind.hpp"

namespace xbarsweep::test_support {

class KokkosEnvironment : public ::testing::Environment {
 public:
  void SetUp() override {
    if (!Kokkos::is_initialized()) Kokkos::initialize();
  }
  void TearDown() override {
    if (Kokkos::is_initialized()) Kokkos::finalize();
  }
};

/// Registers KokkosEnvironment; call once per test program from a namespace-scope initialiser.
inline ::testing::Environment* start_kokkos() {
  return ::testing::AddGlobalTestEnvironment(new KokkosEnvironment);
}

/// Every parameter of \p kind at its schema default.
inline config::Params schema_defaults(const kinds::Kind& kind) {
  config::Params p;
  for (const auto& spec : kind.schema().specs()) p.set(spec.path, spec.default_value);
  return p;
}

/// The first problem \p kind's semantic checks find in \p params (what `plan` would refuse).
inline std::optional<config::Problem> first_problem(const kinds::Kind& kind, const config::Params& params) {
  for (const auto& check : kind.checks())
    if (auto problem = check.run(params)) return problem;
  return std::nullopt;
}

}  // namespace xbarsweep::test_support
