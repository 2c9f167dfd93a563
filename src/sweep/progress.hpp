#pragma once
// Rank 0's progress line: rewritten in place on a terminal, plain periodic lines otherwise.
// XBARSWEEP_PROGRESS=lines forces plain lines: mpirun gives ranks a pseudo-terminal even when
// its own output goes to a file, so scripts/mpirun.sh sets it when its output is not a terminal.
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

namespace xbarsweep::sweep {

class Progress {
 public:
  Progress(std::uint64_t total, double interval_s)
      : total_(total),
        tty_(isatty(STDOUT_FILENO) != 0 && !plain_lines_requested()),
        interval_(interval_s >= 0 ? interval_s : (tty_ ? 1.0 : 10.0)),
        start_(Clock::now()),
        last_(start_) {}

  void maybe_print(std::uint64_t done, std::uint64_t failed, std::int64_t running, bool stopping) {
    const auto now = Clock::now();
    if (std::chrono::duration<double>(now - last_).count() < interval_) return;
    last_ = now;
    print(done, failed, running, stopping);
  }

  void note(const std::string& text) {
    end_line();
    std::printf("%s\n", text.c_str());
    std::fflush(stdout);
  }

  void finish(std::uint64_t done, std::uint64_t failed) {
    if (total_ == 0) return;
    print(done, failed, 0, false);
    end_line();
  }

 private:
  using Clock = std::chrono::steady_clock;

  static bool plain_lines_requested() {
    const char* style = std::getenv("XBARSWEEP_PROGRESS");
    return style != nullptr && std::strcmp(style, "lines") == 0;
  }

  void print(std::uint64_t done, std::uint64_t failed, std::int64_t running, bool stopping) {
    const double elapsed = std::chrono::duration<double>(Clock::now() - start_).count();
    const std::uint64_t finished = done + failed;
    const double rate = elapsed > 0 ? static_cast<double>(finished) / elapsed : 0.0;
    char eta[32] = "--";
    if (rate > 0 && finished < total_) {
      const double s = static_cast<double>(total_ - finished) / rate;
      std::snprintf(eta, sizeof eta, "%dh%02dm%02ds", static_cast<int>(s / 3600),
                    static_cast<int>(s / 60) % 60, static_cast<int>(s) % 60);
    } else if (finished >= total_) {
      std::snprintf(eta, sizeof eta, "0s");
    }
    std::printf("%s[%7.1fs] done %llu, failed %llu, running %lld, total %llu | %.1f points/s | ETA %s%s",
                tty_ ? "\r" : "", elapsed, static_cast<unsigned long long>(done),
                static_cast<unsigned long long>(failed), static_cast<long long>(running),
                static_cast<unsigned long long>(total_), rate, eta, stopping ? " | stopping" : "");
    if (tty_) {
      std::printf("\033[K");
      open_line_ = true;
    } else {
      std::printf("\n");
    }
    std::fflush(stdout);
  }

  void end_line() {
    if (open_line_) std::printf("\n");
    open_line_ = false;
  }

  std::uint64_t total_;
  bool tty_;
  double interval_;
  Clock::time_point start_, last_;
  bool open_line_ = false;
};

}  // namespace xbarsweep::sweep
