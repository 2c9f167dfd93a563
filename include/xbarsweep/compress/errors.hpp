#pragma once
/// \file
/// \brief Errors of the compress concept and the one macro every runtime check goes through.

#include <stdexcept>
#include <string>

namespace xbarsweep::compress {

/// \brief A bad argument to a projection, an ADMM state or an accounting call.
class CompressError : public std::invalid_argument {
 public:
  using std::invalid_argument::invalid_argument;
};

namespace Impl {
[[noreturn]] inline void throw_error(const char* cond, const std::string& msg, const char* file,
                                     int line) {
  throw CompressError(std::string(file) + ":" + std::to_string(line) + ": " + msg + " (" + cond +
                      ")");
}
}  // namespace Impl

}  // namespace xbarsweep::compress

/// Throws xbarsweep::compress::CompressError with file:line when `cond` holds.
#define XBARSWEEP_COMPRESS_THROW_IF(cond, msg)                                            \
  do {                                                                                    \
    if (cond) ::xbarsweep::compress::Impl::throw_error(#cond, (msg), __FILE__, __LINE__); \
  } while (0)
