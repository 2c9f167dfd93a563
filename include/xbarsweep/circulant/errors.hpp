#pragma once
/// \file
/// \brief Errors of the circulant concept and the one macro every runtime check goes through.

#include <stdexcept>
#include <string>

namespace xbarsweep::circulant {

/// \brief A bad argument or an internal failure (FFTW planning) in the circulant concept.
class CirculantError : public std::invalid_argument {
 public:
  using std::invalid_argument::invalid_argument;
};

namespace Impl {
[[noreturn]] inline void throw_error(const char* cond, const std::string& msg, const char* file,
                                     int line) {
  throw CirculantError(std::string(file) + ":" + std::to_string(line) + ": " + msg + " (" + cond +
                       ")");
}
}  // namespace Impl

}  // namespace xbarsweep::circulant

/// Throws xbarsweep::circulant::CirculantError with file:line when `cond` holds.
#define XBARSWEEP_CIRCULANT_THROW_IF(cond, msg)                                          \
  do {                                                                                   \
    if (cond) ::xbarsweep::circulant::Impl::throw_error(#cond, (msg), __FILE__, __LINE__); \
  } while (0)
