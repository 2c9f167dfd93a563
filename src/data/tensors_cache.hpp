#pragma once
// Internal to the data library: the tensors set's raw splits as load_dataset takes them.

#include <cstdint>
#include <string>
#include <vector>

#include "xbarsweep/data/dataset.hpp"

namespace xbarsweep::data::detail {

/// \brief A tensors file's raw split and its images' per-channel mean and standard deviation (on the
/// [0, 1] scale for uint8 images, as stored for float32).
struct TensorsSplit {
  Split raw;
  std::vector<double> mean;
  std::vector<double> stddev;
};

/// \brief read_tensors_file with the statistics, kept per file for the life of the process.
/// Callers never modify the tensors. \throws DataError.
TensorsSplit read_tensors_cached(const std::string& path, const std::string& images_key,
                                 const std::string& labels_key);

/// \brief The training file's item count, from its header (kept per file). \throws DataError.
std::int64_t tensors_training_items(const LoadOptions& options);

}  // namespace xbarsweep::data::detail
