#pragma once
/// \file
/// \brief Image classification data sets as tensors: Fashion-MNIST from gzipped IDX files and a
/// seeded synthetic stand-in of the same shape for fast tests.

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "xbarsweep/error.hpp"

namespace xbarsweep::data {

/// \brief Where Debian's package `dataset-fashion-mnist` installs the files.
inline constexpr const char* kDefaultFashionMnistDir = "/usr/share/datasets/fashion-mnist";

/// \brief Fashion-MNIST's training-set pixel statistics on [0, 1] (Xiao et al. 2017).
inline constexpr double kFashionMnistMean = 0.2860;
inline constexpr double kFashionMnistStd = 0.3530;

/// \brief One split of a classification data set.
struct Split {
  at::Tensor images;  ///< float32, N x 1 x H x W (or N x steps x features for the sequence view)
  at::Tensor labels;  ///< int64, N, values in [0, num_classes)
  std::int64_t size() const { return labels.defined() ? labels.size(0) : 0; }
};

/// \brief A training and a test split.
struct Dataset {
  Split train;
  Split test;
  std::int64_t num_classes = 10;
};

/// \brief Which items a subset keeps.
enum class SubsetMode {
  First,   ///< the first N items in file order (Fashion-MNIST's classes are near-balanced there)
  Random,  ///< N items drawn without replacement by a seeded permutation, kept in file order
};

/// \brief How to load and shape a data set.
struct LoadOptions {
  std::string name = "fashion-mnist";         ///< "fashion-mnist" or "synthetic"
  std::string dir = kDefaultFashionMnistDir;  ///< where the IDX .gz files are
  std::int64_t train_subset = 0;              ///< training items kept; 0 = all
  std::int64_t test_subset = 0;               ///< test items kept; 0 = all
  SubsetMode subset_mode = SubsetMode::First;
  std::uint64_t subset_seed = 0;     ///< for SubsetMode::Random
  bool normalize = true;             ///< (x - mean) / std with Fashion-MNIST's statistics, else x in [0, 1]
  bool pad_to_32 = false;            ///< zero-pad 28x28 images (in pixel space) to 32x32 for VGG/ResNet
  bool sequence = false;             ///< N x 28 x 28: 28 time steps of 28 features (rows), for LSTMs
  std::uint64_t synthetic_seed = 0;  ///< draws the synthetic samples (class patterns are fixed)
  double synthetic_noise = 0.35;     ///< standard deviation of synthetic pixel noise on [0, 1]
};

/// \brief Loads a data set and applies subset, padding, normalisation and view, in that order.
/// A synthetic set has 6000 training and 1000 test items unless subsets say otherwise.
/// Fashion-MNIST's raw files are decoded once per process and kept (about 55 MB), keyed by path,
/// size and modification time. Thread-safe.
/// \throws DataError for an unknown name or a bad file; DataError for a bad option too.
Dataset load_dataset(const LoadOptions& options);

/// \brief How many training items load_dataset(\p options) returns (the subset, or the whole
/// split), without reading a file.
std::int64_t training_items(const LoadOptions& options);

/// \brief The files load_dataset(\p options) reads (none for the synthetic set), so that they can
/// be checked before any work starts.
std::vector<std::string> dataset_files(const LoadOptions& options);

/// \brief Reads an IDX3 (images) file, gzipped or not: uint8 tensor N x rows x cols.
/// \throws DataError naming \p path for a missing file, wrong magic, bad dimensions or short data.
at::Tensor read_idx_images(const std::string& path);

/// \brief Reads an IDX1 (labels) file, gzipped or not: int64 tensor N.
/// \throws DataError as read_idx_images, and for a label above \p max_label.
at::Tensor read_idx_labels(const std::string& path, std::int64_t max_label = 255);

/// \brief Writes a uint8 tensor (N x rows x cols, or N) as a gzipped IDX3 (IDX1) file.
/// Used by tests and to export subsets. \throws DataError when the file cannot be written.
void write_idx_gz(const std::string& path, const at::Tensor& values);

/// \brief The raw Fashion-MNIST split "train" or "t10k" from \p dir: uint8 images N x 28 x 28 and
/// int64 labels, the counts checked against each other. \throws DataError.
Split read_fashion_mnist(const std::string& dir, const std::string& split);

/// \brief CIFAR-10's per-channel pixel statistics (R, G, B) of its training set on [0, 1].
inline constexpr double kCifar10Mean[3] = {0.4914, 0.4822, 0.4465};
inline constexpr double kCifar10Std[3] = {0.2470, 0.2435, 0.2616};

/// \brief One split of the CIFAR-10 binary version in \p dir: "train" (data_batch_1.bin ..
/// data_batch_5.bin) or "test" (test_batch.bin). Each record is one label byte (0..9) and 3072
/// pixel bytes, the red, green and blue 32x32 planes. Returns uint8 images N x 3 x 32 x 32 and
/// int64 labels.
/// \throws DataError naming the file for a missing file, a size that is not whole records, or a
/// label above 9.
Split read_cifar10(const std::string& dir, const std::string& split);

/// \brief \p count synthetic 28x28 images in 10 classes, pixel values on [0, 255] as float.
/// Each class is a fixed smooth pattern (the same for every seed, so that training and test
/// splits share them); \p seed draws the labels and the Gaussian pixel noise (std \p noise on a
/// [0, 1] scale). Easy for an MLP at noise <= 0.5.
Split make_synthetic(std::int64_t count, std::uint64_t seed, double noise = 0.35);

/// \brief N x 1 x 28 x 28 images as N x 28 x 28 sequences (28 steps of one row each).
at::Tensor as_sequence(const at::Tensor& images);

}  // namespace xbarsweep::data
