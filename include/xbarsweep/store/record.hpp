#pragma once
/// \file
/// \brief One computed point as it is stored, and its compact binary encoding (used by the
/// journal and by the MPI messages that carry results to the writer).

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "xbarsweep/config/value.hpp"

namespace xbarsweep::store {

enum class PointStatus : std::uint8_t { Done = 0, Failed = 1 };

/// \brief "done" or "failed".
std::string_view status_name(PointStatus s);

/// \brief Everything stored about one point.
struct PointRecord {
  std::string id;           ///< config::point_id of the parameters
  std::uint64_t index = 0;  ///< position in the plan of the run that computed it
  PointStatus status = PointStatus::Done;
  std::string error;                                  ///< failure text; empty when done
  config::Params params;                              ///< every resolved parameter
  std::map<std::string, double> metrics;              ///< scalar metrics, snake_case with units
  std::map<std::string, std::vector<double>> arrays;  ///< curves (loss per epoch, ...)
  std::int32_t rank = 0;
  std::string host;
  double start_time = 0;  ///< Unix seconds
  double end_time = 0;
};

/// \brief Binary encoding, little-endian, self-delimiting. decode(encode(r)) == r exactly.
std::string encode(const PointRecord& record);

/// \brief \throws StoreError when \p bytes is not a complete encoded record.
PointRecord decode(std::string_view bytes);

}  // namespace xbarsweep::store
