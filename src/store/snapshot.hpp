#pragma once
/// \file
/// \brief Internal: the HDF5 snapshot, written column-wise in one go and read back whole.
/// The layout is documented in docs/results-format.md.

#include <string>
#include <string_view>
#include <vector>

#include "xbarsweep/store/results_store.hpp"

namespace xbarsweep::store::detail {

inline constexpr const char* kFormatName = "xbarsweep-results";
inline constexpr long long kFormatVersion = 1;

/// \brief Writes a complete snapshot of \p info and \p points to \p file (created or truncated),
/// flushed and closed. Not atomic by itself: the caller writes a temporary file and renames it.
/// \throws StoreError naming \p file and the failing HDF5 operation.
void write_snapshot(const std::string& file, const RunInfo& info, const std::vector<PointRecord>& points);

/// \brief Reads the snapshot at \p file. \throws CorruptResultsError "<file>: not an xbarsweep
/// results file: <why>" for anything that is not a well-formed snapshot; StoreError when the file
/// cannot be read at all (permissions, I/O errors).
Results read_snapshot(const std::string& file);

/// \brief Whether \p name can be a column (an HDF5 link name): not empty, no '/', not ".".
bool valid_column_name(std::string_view name);

}  // namespace xbarsweep::store::detail
