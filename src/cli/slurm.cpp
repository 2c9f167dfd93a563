#include "slurm.hpp"

#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstdlib>
#include <cstring>
#include <ctime>

extern char** environ;

namespace xbarsweep::cli {
namespace {

// Reads two pipes to their ends together (poll), so that a child filling one while we wait
// on the other cannot block us both.
void read_both(int fd_out, int fd_err, std::string& out, std::string& err) {
  pollfd fds[2] = {{fd_out, POLLIN, 0}, {fd_err, POLLIN, 0}};
  std::string* sinks[2] = {&out, &err};
  int open = 2;
  char buf[4096];
  while (open > 0) {
    if (::poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || fds[i].revents == 0) continue;
      const ssize_t n = ::read(fds[i].fd, buf, sizeof buf);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        fds[i].fd = -1;  // poll ignores negative descriptors
        --open;
      } else {
        sinks[i]->append(buf, static_cast<std::size_t>(n));
      }
    }
  }
}

std::string trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ' || s.back() == '\r')) s.pop_back();
  std::size_t b = 0;
  while (b < s.size() && s[b] == ' ') ++b;
  return s.substr(b);
}

const char* env(const char* name) {
  const char* v = std::getenv(name);
  return v != nullptr && *v != '\0' ? v : nullptr;
}

// "2026-12-01T16:40:43" in local time (squeue's %e), or 0.
double parse_slurm_time(const std::string& text) {
  std::tm tm{};
  if (::strptime(text.c_str(), "%Y-%m-%dT%H:%M:%S", &tm) == nullptr) return 0;
  tm.tm_isdst = -1;
  const std::time_t t = std::mktime(&tm);
  return t < 0 ? 0 : static_cast<double>(t);
}

double parse_seconds(const char* text) {
  double v = 0;
  const char* end = text + std::strlen(text);
  const auto [stop, ec] = std::from_chars(text, end, v);
  return ec == std::errc() && stop == end && v > 0 ? v : 0;
}

}  // namespace

std::optional<std::string> run_command(const std::vector<std::string>& argv, std::string* error) {
  int out[2], err[2];
  if (::pipe2(out, O_CLOEXEC) != 0) return std::nullopt;
  if (::pipe2(err, O_CLOEXEC) != 0) {
    ::close(out[0]);
    ::close(out[1]);
    return std::nullopt;
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, out[1], 1);
  posix_spawn_file_actions_adddup2(&actions, err[1], 2);
  posix_spawn_file_actions_addclose(&actions, out[0]);
  posix_spawn_file_actions_addclose(&actions, err[0]);
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = 0;
  const int rc = posix_spawnp(&pid, args[0], &actions, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  ::close(out[1]);
  ::close(err[1]);
  if (rc != 0) {
    ::close(out[0]);
    ::close(err[0]);
    if (error) *error = argv[0] + ": cannot start: " + std::strerror(rc);
    return std::nullopt;
  }
  std::string text, messages;
  read_both(out[0], err[0], text, messages);
  ::close(out[0]);
  ::close(err[0]);
  int status = 0;
  pid_t waited = 0;
  while ((waited = ::waitpid(pid, &status, 0)) < 0 && errno == EINTR) {
  }
  if (waited != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    if (error) {
      *error = argv[0] + " exited " +
               (WIFEXITED(status) ? std::to_string(WEXITSTATUS(status)) : "by a signal") +
               (messages.empty() ? "" : ": " + trim(messages));
    }
    return std::nullopt;
  }
  return text;
}

double job_end_time() {
  if (const char* v = env("XBARSWEEP_END_TIME")) return parse_seconds(v);
  if (const char* v = env("SLURM_JOB_END_TIME")) return parse_seconds(v);
  const char* job = env("SLURM_JOB_ID");
  if (job == nullptr) return 0;
  const auto out = run_command({"squeue", "-h", "-j", job, "-o", "%e"});
  return out ? parse_slurm_time(trim(*out)) : 0;  // "Unknown" or "N/A" without a limit
}

std::string slurm_job_id() {
  const char* array = env("SLURM_ARRAY_JOB_ID");
  const char* task = env("SLURM_ARRAY_TASK_ID");
  if (array != nullptr && task != nullptr) return std::string(array) + "_" + task;
  const char* job = env("SLURM_JOB_ID");
  return job != nullptr ? job : "";
}

std::string requeue_job(const std::string& job) {
  std::string error;
  if (run_command({"scontrol", "requeue", job}, &error)) return "requeued job " + job + " (scontrol requeue)";
  return "could not requeue job " + job + ": " + error;
}

}  // namespace xbarsweep::cli
