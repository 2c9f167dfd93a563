#include <csignal>

#include "stop_flag.hpp"
#include "xbarsweep/sweep/runner.hpp"

namespace xbarsweep::sweep {

std::atomic<bool> g_stop_requested{false};
std::atomic<int> g_stop_signal{0};

namespace {
extern "C" void on_stop_signal(int sig) {
  g_stop_signal.store(sig);
  g_stop_requested.store(true);
}
}  // namespace

void install_stop_handlers() {
  struct sigaction action {};
  action.sa_handler = on_stop_signal;
  sigemptyset(&action.sa_mask);
  action.sa_flags = SA_RESTART;
  for (int sig : {SIGTERM, SIGINT, SIGUSR1}) sigaction(sig, &action, nullptr);
}

}  // namespace xbarsweep::sweep
