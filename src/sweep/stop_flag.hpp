#pragma once
// Set by the signal handlers (signals.cpp); read by the coordinator and the workers.
#include <atomic>

namespace xbarsweep::sweep {
extern std::atomic<bool> g_stop_requested;
extern std::atomic<int> g_stop_signal;
}  // namespace xbarsweep::sweep
