#pragma once
/// \file
/// \brief Errors of the results store.

#include <stdexcept>
#include <string>

namespace xbarsweep::store {

/// \brief Any failure to read or write a results file: names the file and what went wrong.
class StoreError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// \brief A file exists but is not a readable xbarsweep results file (a user input problem).
class CorruptResultsError : public StoreError {
 public:
  using StoreError::StoreError;
};

}  // namespace xbarsweep::store
