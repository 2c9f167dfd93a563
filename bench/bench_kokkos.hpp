#pragma once
// Timing Kokkos work under Google Benchmark: each iteration timed by hand (register the benchmark
// with UseManualTime()), with Kokkos::fence() before the clock starts and before it stops, so that
// work still running on an asynchronous execution space is inside the measurement.
#include <benchmark/benchmark.h>

#include <Kokkos_Core.hpp>
#include <chrono>

namespace xbarsweep::bench {

template <class Body>
void time_fenced(benchmark::State& state, Body&& body) {
  for (auto _ : state) {
    Kokkos::fence();
    const auto t0 = std::chrono::steady_clock::now();
    body();
    Kokkos::fence();
    state.SetIterationTime(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
}

}  // namespace xbarsweep::bench
