#include "posix_file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "xbarsweep/error.hpp"

namespace xbarsweep::store::detail {

void throw_errno(const std::string& path, const char* operation, int error) {
  throw StoreError(path + ": " + operation + " failed: " + std::strerror(error));
}

void FileDescriptor::reset() noexcept {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

FileDescriptor open_or_throw(const std::string& path, int flags, unsigned mode) {
  int fd;
  do {
    fd = ::open(path.c_str(), flags | O_CLOEXEC, static_cast<mode_t>(mode));
  } while (fd < 0 && errno == EINTR);
  if (fd < 0) throw_errno(path, "open", errno);
  return FileDescriptor(fd);
}

bool read_whole_file(const std::string& path, std::string& out) {
  out.clear();
  int fd;
  do {
    fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  } while (fd < 0 && errno == EINTR);
  if (fd < 0) {
    if (errno == ENOENT) return false;
    throw_errno(path, "open", errno);
  }
  FileDescriptor owner(fd);
  struct stat st {};
  if (::fstat(fd, &st) == 0 && st.st_size > 0) out.reserve(static_cast<std::size_t>(st.st_size));
  char buffer[1 << 16];
  for (;;) {
    const ssize_t n = ::read(fd, buffer, sizeof buffer);
    if (n < 0) {
      if (errno == EINTR) continue;
      throw_errno(path, "read", errno);
    }
    if (n == 0) break;
    out.append(buffer, static_cast<std::size_t>(n));
  }
  return true;
}

void write_all(int fd, std::string_view bytes, const std::string& path) {
  while (!bytes.empty()) {
    const ssize_t n = ::write(fd, bytes.data(), bytes.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      throw_errno(path, "write", errno);
    }
    bytes.remove_prefix(static_cast<std::size_t>(n));
  }
}

void fsync_or_throw(int fd, const std::string& path) {
  int r;
  do {
    r = ::fsync(fd);
  } while (r < 0 && errno == EINTR);
  if (r < 0) throw_errno(path, "fsync", errno);
}

std::string parent_directory(const std::string& path) {
  const auto slash = path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

void fsync_parent_directory(const std::string& path) {
  const std::string dir = parent_directory(path);
  FileDescriptor fd = open_or_throw(dir, O_RDONLY | O_DIRECTORY);
  int r;
  do {
    r = ::fsync(fd.get());
  } while (r < 0 && errno == EINTR);
  // Some filesystems refuse fsync on a directory; the rename is then as durable as they allow.
  if (r < 0 && errno != EINVAL && errno != EROFS && errno != ENOTSUP)
    throw_errno(dir, "fsync (directory)", errno);
}

bool path_exists(const std::string& path) {
  struct stat st {};
  return ::lstat(path.c_str(), &st) == 0;
}

}  // namespace xbarsweep::store::detail
