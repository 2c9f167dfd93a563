#pragma once
/// \file
/// \brief A file cache shared by concurrent processes (the ranks of a sweep): each entry is
/// produced exactly once, the others wait for it. Used for pretrained dense baselines, one
/// checkpoint per (model, data, training config, seed), so that every point of a sweep that
/// needs the same baseline loads it instead of training it again.
///
/// Protocol (per entry NAME in DIR):
///   1. a per-process mutex, then an exclusive fcntl lock (F_SETLKW) on DIR/NAME.lock;
///   2. if DIR/NAME exists, release and return it (`produced` = false);
///   3. else produce into DIR/NAME.tmp.PID, fsync, rename to DIR/NAME, fsync DIR, release.
/// fcntl locks die with their process, so a producer killed mid-way leaves no stale lock: the
/// next waiter finds no entry and produces it. Readers never see a partial file (rename).
/// No torch here: the producer callback writes whatever the caller caches.

#include <functional>
#include <stdexcept>
#include <string>

#include "xbarsweep/error.hpp"

namespace xbarsweep::nn {

/// \brief Where the entry is, and whether this call produced it.
struct CachedFile {
  std::string path;
  bool produced = false;  ///< true: this call ran the producer; false: it found the entry
};

/// \brief Returns DIR/NAME, producing it first (under the lock) when it does not exist.
/// \param dir created if missing.
/// \param name a file name (no '/').
/// \param produce writes the complete entry to the path it is given (a temporary name in DIR).
/// \param while_waiting called when the blocking lock wait is interrupted by a signal (EINTR),
///   e.g. to throw kinds::Cancelled; may be empty.
/// \throws CacheError for a cache failure; rethrows what \p produce or \p while_waiting throw
///   (the temporary file is removed and the lock released).
CachedFile ensure_cached_file(const std::string& dir, const std::string& name,
                              const std::function<void(const std::string& path)>& produce,
                              const std::function<void()>& while_waiting = {});

}  // namespace xbarsweep::nn
