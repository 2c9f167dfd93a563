#pragma once
/// \file
/// \brief The crossbar concept's error type and its one runtime-check macro.

#include <sstream>
#include <stdexcept>
#include <string>

namespace xbarsweep::crossbar {

/// \brief A crossbar configuration or usage error; the message names file:line and the key.
class CrossbarError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

}  // namespace xbarsweep::crossbar

/// Throws CrossbarError with file:line and the streamed message when \p cond holds.
#define XBARSWEEP_CROSSBAR_THROW_IF(cond, msg)                                       \
  do {                                                                               \
    if (cond) {                                                                      \
      std::ostringstream xbarsweep_crossbar_msg_;                                    \
      xbarsweep_crossbar_msg_ << __FILE__ << ":" << __LINE__ << ": " << msg;         \
      throw ::xbarsweep::crossbar::CrossbarError(xbarsweep_crossbar_msg_.str());     \
    }                                                                                \
  } while (false)
