#pragma once
/// \file
/// \brief Internal: the fcntl write lock on R.lock that makes a ResultsWriter the only writer.

#include <sys/types.h>

#include <string>
#include <utility>

#include "posix_file.hpp"

namespace xbarsweep::store::detail {

/// \brief Holds the lock on \p results_path + ".lock" for its lifetime.
///
/// fcntl locks belong to a process, so the kernel would let a second writer of the same process
/// take the lock again (and closing either descriptor would drop it for both): writers of one
/// process are therefore also checked against a process-wide table.
class WriterLock {
 public:
  /// \throws StoreError "<results_path>: another xbarsweep run (pid N on host H) is writing this
  /// results file" when another process holds the lock. Warns on stderr and goes on unlocked when
  /// the filesystem does not support fcntl locks.
  explicit WriterLock(const std::string& results_path);
  ~WriterLock();
  WriterLock(const WriterLock&) = delete;
  WriterLock& operator=(const WriterLock&) = delete;

 private:
  FileDescriptor fd_;
  std::pair<dev_t, ino_t> key_{};
  bool registered_ = false;
};

}  // namespace xbarsweep::store::detail
