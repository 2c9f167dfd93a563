#pragma once
/// \file
/// \brief Internal: the POSIX file operations behind durable writes, each turning a failure into
/// a StoreError that names the file, the operation and strerror(errno).

#include <string>
#include <string_view>
#include <utility>

namespace xbarsweep::store::detail {

/// \brief Throws StoreError "<path>: <operation> failed: <strerror(errno)>".
[[noreturn]] void throw_errno(const std::string& path, const char* operation, int error);

/// \brief Owns a file descriptor; closes it on destruction.
class FileDescriptor {
 public:
  FileDescriptor() = default;
  explicit FileDescriptor(int fd) : fd_(fd) {}
  ~FileDescriptor() { reset(); }
  FileDescriptor(FileDescriptor&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
  FileDescriptor& operator=(FileDescriptor&& o) noexcept {
    if (this != &o) {
      reset();
      fd_ = std::exchange(o.fd_, -1);
    }
    return *this;
  }
  FileDescriptor(const FileDescriptor&) = delete;
  FileDescriptor& operator=(const FileDescriptor&) = delete;

  int get() const { return fd_; }
  explicit operator bool() const { return fd_ >= 0; }
  void reset() noexcept;

 private:
  int fd_ = -1;
};

/// \brief open(2) or throw.
FileDescriptor open_or_throw(const std::string& path, int flags, unsigned mode = 0644);

/// \brief Reads all of \p path into \p out. \returns false when the file does not exist.
bool read_whole_file(const std::string& path, std::string& out);

/// \brief write(2) until every byte is written (retrying EINTR and short writes).
void write_all(int fd, std::string_view bytes, const std::string& path);

/// \brief fsync(2) \p fd or throw.
void fsync_or_throw(int fd, const std::string& path);

/// \brief fsync the directory holding \p path, so that a rename or create in it is durable.
void fsync_parent_directory(const std::string& path);

/// \brief The directory part of \p path ("." when it has none).
std::string parent_directory(const std::string& path);

/// \brief Whether \p path exists (any type).
bool path_exists(const std::string& path);

}  // namespace xbarsweep::store::detail
