#include "xbarsweep/nn/pretrain_cache.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <mutex>
#include <sstream>

namespace xbarsweep::nn {

namespace {

[[noreturn]] void fail(const std::string& what, const std::string& path, int err) {
  std::ostringstream m;
  m << "pretrain cache: " << what << " '" << path << "': " << std::strerror(err);
  throw CacheError(m.str());
}

// fcntl locks belong to the process: threads of one process would all "hold" it, so they are
// serialised by this mutex first.
std::mutex& process_mutex() {
  static std::mutex m;
  return m;
}

// Owns the lock file descriptor; closing it releases the fcntl lock.
class FileLock {
 public:
  FileLock(const std::string& path, const std::function<void()>& while_waiting) : path_(path) {
    fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd_ < 0) fail("cannot open lock file", path, errno);
    struct flock fl {};
    fl.l_type = F_WRLCK;
    fl.l_whence = SEEK_SET;
    while (::fcntl(fd_, F_SETLKW, &fl) != 0) {
      const int err = errno;
      if (err != EINTR) {
        ::close(fd_);
        fail("cannot lock", path, err);
      }
      if (while_waiting) {
        try {
          while_waiting();
        } catch (...) {
          ::close(fd_);
          throw;
        }
      }
    }
  }
  ~FileLock() { ::close(fd_); }
  FileLock(const FileLock&) = delete;
  FileLock& operator=(const FileLock&) = delete;

 private:
  std::string path_;
  int fd_ = -1;
};

void fsync_path(const std::string& path, int flags) {
  const int fd = ::open(path.c_str(), flags | O_CLOEXEC);
  if (fd < 0) fail("cannot open for fsync", path, errno);
  const int rc = ::fsync(fd);
  const int err = errno;
  ::close(fd);
  if (rc != 0) fail("cannot fsync", path, err);
}

}  // namespace

CachedFile ensure_cached_file(const std::string& dir, const std::string& name,
                              const std::function<void(const std::string&)>& produce,
                              const std::function<void()>& while_waiting) {
  if (name.empty() || name.find('/') != std::string::npos) {
    throw CacheError("pretrain cache: bad entry name '" + name + "'");
  }
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) fail("cannot create directory", dir, ec.value());

  CachedFile out;
  out.path = dir + "/" + name;
  std::lock_guard<std::mutex> in_process(process_mutex());
  FileLock lock(out.path + ".lock", while_waiting);
  // Checked only under the lock: an entry either exists completely or not at all.
  if (::access(out.path.c_str(), F_OK) == 0) return out;

  const std::string tmp = out.path + ".tmp." + std::to_string(::getpid());
  try {
    produce(tmp);
    fsync_path(tmp, O_RDONLY);
    if (::rename(tmp.c_str(), out.path.c_str()) != 0) fail("cannot rename into", out.path, errno);
    fsync_path(dir, O_RDONLY | O_DIRECTORY);
  } catch (...) {
    std::filesystem::remove(tmp, ec);
    throw;
  }
  out.produced = true;
  return out;
}

}  // namespace xbarsweep::nn
