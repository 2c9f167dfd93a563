#include "writer_lock.hpp"

#include <fcntl.h>
#include <pthread.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <iostream>
#include <mutex>
#include <set>

#include "xbarsweep/error.hpp"

namespace xbarsweep::store::detail {

namespace {

std::mutex& registry_mutex() {
  static std::mutex m;
  return m;
}

std::set<std::pair<dev_t, ino_t>>& registry() {
  static std::set<std::pair<dev_t, ino_t>> locked;
  return locked;
}

std::string host_name() {
  char name[256] = {};
  if (::gethostname(name, sizeof name - 1) != 0) return "unknown host";
  return name;
}

/// "pid N on host H" from the lock file's "pid N host H" line, else from F_GETLK.
std::string describe_holder(int fd, pid_t fcntl_pid) {
  char text[512] = {};
  const ssize_t n = ::pread(fd, text, sizeof text - 1, 0);
  long pid = 0;
  char host[300] = {};
  if (n > 0 && std::sscanf(text, "pid %ld host %299s", &pid, host) == 2)
    return "pid " + std::to_string(pid) + " on host " + host;
  if (fcntl_pid > 0) return "pid " + std::to_string(fcntl_pid) + " on an unknown host";
  return "unknown pid and host";
}

}  // namespace

WriterLock::WriterLock(const std::string& results_path) {
  const std::string lock_path = results_path + ".lock";
  static std::once_flag once;
  // A forked child holds none of its parent's fcntl locks.
  std::call_once(once, [] { ::pthread_atfork(nullptr, nullptr, [] { registry().clear(); }); });
  std::lock_guard<std::mutex> guard(registry_mutex());
  // Checked before opening: closing any descriptor of the file would drop this process's lock.
  struct stat st {};
  if (::stat(lock_path.c_str(), &st) == 0 && registry().count({st.st_dev, st.st_ino}))
    throw StoreError(results_path + ": another ResultsWriter of this process (pid " +
                     std::to_string(::getpid()) + ") is writing this results file");
  fd_ = open_or_throw(lock_path, O_RDWR | O_CREAT);
  if (::fstat(fd_.get(), &st) != 0) throw_errno(lock_path, "fstat", errno);
  key_ = {st.st_dev, st.st_ino};

  struct flock lock {};
  lock.l_type = F_WRLCK;
  lock.l_whence = SEEK_SET;
  lock.l_start = 0;
  lock.l_len = 0;  // the whole file
  int r;
  do {
    r = ::fcntl(fd_.get(), F_SETLK, &lock);
  } while (r < 0 && errno == EINTR);
  if (r < 0) {
    const int error = errno;
    if (error == EACCES || error == EAGAIN) {
      struct flock holder = lock;
      pid_t holder_pid = 0;
      if (::fcntl(fd_.get(), F_GETLK, &holder) == 0 && holder.l_type != F_UNLCK) holder_pid = holder.l_pid;
      throw StoreError(results_path + ": another xbarsweep run (" + describe_holder(fd_.get(), holder_pid) +
                       ") is writing this results file");
    }
    if (error == ENOLCK || error == ENOSYS || error == EOPNOTSUPP) {
      std::cerr << "xbarsweep: warning: " << lock_path << ": the filesystem does not support fcntl locks ("
                << std::strerror(error) << "); make sure no other run writes this results file\n";
      registry().insert(key_);
      registered_ = true;
      return;
    }
    throw_errno(lock_path, "fcntl(F_SETLK)", error);
  }
  registry().insert(key_);
  registered_ = true;
  // Tell a contender who holds the lock. Not fsync'd: it is a hint, the lock is the kernel's.
  const std::string holder = "pid " + std::to_string(::getpid()) + " host " + host_name() + "\n";
  if (::ftruncate(fd_.get(), 0) == 0) {
    [[maybe_unused]] const ssize_t written = ::pwrite(fd_.get(), holder.data(), holder.size(), 0);
  }
}

WriterLock::~WriterLock() {
  // Closing the descriptor releases the fcntl lock. The file stays: removing it while another
  // process has it open and waits would let two writers lock two different files.
  fd_.reset();
  if (registered_) {
    std::lock_guard<std::mutex> guard(registry_mutex());
    registry().erase(key_);
  }
}

}  // namespace xbarsweep::store::detail
