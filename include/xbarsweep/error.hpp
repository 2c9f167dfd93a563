#pragma once
/// \file
/// \brief The one error type of xbarsweep, its subclasses by concept, and the one throw macro.
///
/// Every error xbarsweep throws is an xbarsweep::Error. Catch a subclass to tell user mistakes
/// (ConfigError, DataError, ModelError, CorruptResultsError) from failures of the machine (StoreError,
/// MpiError) and from bugs (InternalError). Runtime checks go through XBARSWEEP_THROW_IF, which
/// records the source location of the check.

#include <sstream>
#include <stdexcept>
#include <string>

namespace xbarsweep {

/// \brief Where in xbarsweep's source an error was raised (empty when not recorded).
struct CodeLocation {
  const char* file = nullptr;
  int line = 0;
};

/// \brief Base of every error xbarsweep throws. what() is the message, prefixed with
/// "file:line: " when the error was raised through XBARSWEEP_THROW_IF.
class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& message, CodeLocation at = {})
      : std::runtime_error(at.file == nullptr
                               ? message
                               : std::string(at.file) + ":" + std::to_string(at.line) + ": " + message),
        message_(message),
        at_(at) {}
  /// \brief The message without the source location.
  const std::string& message() const noexcept { return message_; }
  const CodeLocation& raised_at() const noexcept { return at_; }

 private:
  std::string message_;
  CodeLocation at_;
};

/// \brief Declares a subclass of \p Base that takes Error's constructor.
#define XBARSWEEP_DECLARE_ERROR(Name, Base) \
  class Name : public Base {                \
   public:                                  \
    using Base::Base;                       \
  }

/// \brief Where in a user's file something was written (1-based line and column; 0 = unknown).
struct SourceLocation {
  std::string file;
  int line = 0;
  int column = 0;
  /// \brief "file:line:column" (or less where unknown).
  std::string str() const {
    std::string out = file;
    if (line > 0) {
      out += ':' + std::to_string(line);
      if (column > 0) out += ':' + std::to_string(column);
    }
    return out;
  }
};

/// \brief A user mistake in a config, an override or a combination of parameter values. what()
/// reads "file:line:column: key 'a.b': <problem>; expected <what>".
class ConfigError : public Error {
 public:
  ConfigError(SourceLocation where, std::string key, const std::string& problem)
      : Error(text(where, key, problem)), where_(std::move(where)), key_(std::move(key)) {}
  const SourceLocation& where() const { return where_; }
  const std::string& key() const { return key_; }

 private:
  static std::string text(const SourceLocation& where, const std::string& key, const std::string& problem) {
    std::string out = where.str();
    if (!out.empty()) out += ": ";
    if (!key.empty()) out += "key '" + key + "': ";
    return out + problem;
  }
  SourceLocation where_;
  std::string key_;
};

/// A data set file missing, unreadable, truncated or not what it claims to be; names the file.
XBARSWEEP_DECLARE_ERROR(DataError, Error);
/// A model that cannot be built or does not fit its data (shape, layer names, options).
XBARSWEEP_DECLARE_ERROR(ModelError, Error);
/// An error of the pretraining cache (directory, lock, rename); names the path.
XBARSWEEP_DECLARE_ERROR(CacheError, Error);
/// An error saving or loading a training checkpoint; names the file.
XBARSWEEP_DECLARE_ERROR(CheckpointError, Error);
/// A failure to read or write a results file; names the file and what went wrong.
XBARSWEEP_DECLARE_ERROR(StoreError, Error);
/// A file that exists but is not a readable xbarsweep results file (bad input).
XBARSWEEP_DECLARE_ERROR(CorruptResultsError, StoreError);
/// A crossbar configuration or usage error; the message names the `crossbar.`/`cost.` key.
XBARSWEEP_DECLARE_ERROR(CrossbarError, Error);
/// A bad argument to a projection, an ADMM state or an accounting call.
XBARSWEEP_DECLARE_ERROR(CompressError, Error);
/// A bad argument or an internal failure (FFTW planning) of the circulant concept.
XBARSWEEP_DECLARE_ERROR(CirculantError, Error);
/// A report request that does not fit the results (an unknown metric or parameter).
XBARSWEEP_DECLARE_ERROR(ReportError, Error);
/// An MPI call that returned an error code; names the call.
XBARSWEEP_DECLARE_ERROR(MpiError, Error);
/// A broken invariant of xbarsweep itself (a bug, never a user mistake).
XBARSWEEP_DECLARE_ERROR(InternalError, Error);

// The concepts name their errors in their own namespaces too.
namespace config {
using ::xbarsweep::ConfigError;
using ::xbarsweep::SourceLocation;
}  // namespace config
namespace crossbar {
using ::xbarsweep::CrossbarError;
}
namespace compress {
using ::xbarsweep::CompressError;
}
namespace circulant {
using ::xbarsweep::CirculantError;
}
namespace store {
using ::xbarsweep::CorruptResultsError;
using ::xbarsweep::StoreError;
}  // namespace store
namespace data {
using ::xbarsweep::DataError;
}
namespace nn {
using ::xbarsweep::CacheError;
using ::xbarsweep::CheckpointError;
using ::xbarsweep::ModelError;
}  // namespace nn
namespace report {
using ::xbarsweep::ReportError;
}

}  // namespace xbarsweep

/// Throws \p ErrorType (a subclass of xbarsweep::Error) with the streamed message \p msg and
/// this source location when \p cond holds: `XBARSWEEP_THROW_IF(n < 1, ModelError, "n is " << n)`.
#define XBARSWEEP_THROW_IF(cond, ErrorType, msg)                                                \
  do {                                                                                          \
    if (cond) {                                                                                 \
      std::ostringstream xbarsweep_message_;                                                    \
      xbarsweep_message_ << msg;                                                                \
      throw ErrorType(xbarsweep_message_.str(), ::xbarsweep::CodeLocation{__FILE__, __LINE__}); \
    }                                                                                           \
  } while (false)
