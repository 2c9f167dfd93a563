#pragma once
/// \file
/// \brief Image classification data sets as tensors: Fashion-MNIST from gzipped IDX files, CIFAR-10's
/// binary version, any set in a .npz or HDF5 file (`tensors`), and a seeded synthetic stand-in of
/// Fashion-MNIST's shape for fast tests; the random crops and flips of training batches.

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "xbarsweep/error.hpp"

namespace xbarsweep::data {

/// \brief Where Debian's package `dataset-fashion-mnist` installs the files.
inline constexpr const char* kDefaultFashionMnistDir = "/usr/share/datasets/fashion-mnist";

/// \brief Fashion-MNIST's training-set pixel statistics on [0, 1] (Xiao et al. 2017).
inline constexpr double kFashionMnistMean = 0.2860;
inline constexpr double kFashionMnistStd = 0.3530;

/// \brief The random changes of training images (applied to each batch by nn::train_epoch, through
/// augment()): what a CIFAR user expects. Inactive by default.
struct Augmentation {
  std::int64_t crop_padding = 0;  ///< > 0: pad by this many pixels, then crop H x W at a random offset
  bool hflip = false;             ///< mirror left-right with probability 1/2
  /// The padding's value per channel (a black pixel after normalisation); empty = 0 everywhere.
  std::vector<double> fill;
  bool active() const { return crop_padding > 0 || hflip; }
};

/// \brief One split of a classification data set.
struct Split {
  Split() = default;
  Split(at::Tensor images_, at::Tensor labels_, Augmentation augmentation_ = {})
      : images(std::move(images_)), labels(std::move(labels_)), augmentation(std::move(augmentation_)) {}

  at::Tensor images;  ///< float32, N x C x H x W (or N x steps x features for the sequence view)
  at::Tensor labels;  ///< int64, N, values in [0, num_classes)
  /// The training split's (load_dataset sets it from LoadOptions); inactive for every other split.
  Augmentation augmentation;
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
  std::string name = "fashion-mnist";         ///< "fashion-mnist", "cifar10", "tensors" or "synthetic"
  std::string dir = kDefaultFashionMnistDir;  ///< where the IDX .gz files (CIFAR-10's batches) are
  std::string train_path;                     ///< tensors: the training split's .npz or HDF5 file
  std::string test_path;                      ///< tensors: the test split's file
  std::string images_key = "images";          ///< tensors: the images' array in both files
  std::string labels_key = "labels";          ///< tensors: the labels' array in both files
  std::int64_t classes = 0;                   ///< tensors: class count; 0 = max label + 1 over both files
  std::int64_t train_subset = 0;              ///< training items kept; 0 = all
  std::int64_t test_subset = 0;               ///< test items kept; 0 = all
  SubsetMode subset_mode = SubsetMode::First;
  std::uint64_t subset_seed = 0;  ///< for SubsetMode::Random
  bool normalize = true;          ///< (x - mean) / std per channel, else x on its own scale
  /// Per-channel means on the [0, 1] pixel scale, comma-separated ("0.49,0.48,0.45"), or one value
  /// for every channel; empty = Fashion-MNIST's, CIFAR-10's, or (tensors) the training file's own.
  std::string mean;
  std::string stddev;                ///< per-channel standard deviations, as `mean`
  bool pad_to_32 = false;            ///< zero-pad 28x28 images (in pixel space) to 32x32 for VGG/ResNet
  bool sequence = false;             ///< N x 28 x 28: 28 time steps of 28 features (rows), for LSTMs
  std::uint64_t synthetic_seed = 0;  ///< draws the synthetic samples (class patterns are fixed)
  double synthetic_noise = 0.35;     ///< standard deviation of synthetic pixel noise on [0, 1]
  Augmentation augmentation;         ///< of the training split's batches (its `fill` is set by load_dataset)
};

/// \brief Loads a data set and applies subset, padding, normalisation and view, in that order.
/// A synthetic set has 6000 training and 1000 test items unless subsets say otherwise.
/// Fashion-MNIST's and the tensors files' raw arrays are decoded once per process and kept (about
/// 55 MB for Fashion-MNIST), keyed by path, size and modification time. Thread-safe.
/// \throws DataError for an unknown name or a bad file (check_load_options' problems); DataError
/// for a bad option too.
Dataset load_dataset(const LoadOptions& options);

/// \brief The shape of the images load_dataset(\p options) gives (after padding; the sequence view
/// aside) and its class count, without loading the data set: fashion-mnist and synthetic 1 x 28 x 28
/// (32 x 32 padded), cifar10 3 x 32 x 32, 10 classes; tensors from the files' headers (and labels,
/// for the class count).
struct InputShape {
  std::int64_t channels, height, width, num_classes;
};
/// \throws DataError as check_load_options finds.
InputShape input_shape(const LoadOptions& options);

/// \brief The option a problem of check_load_options lies in.
enum class LoadField { TrainPath, TestPath, Classes, Mean, Std, Pad };

/// \brief What check_load_options found wrong: the option at fault and a message naming the file
/// and the array key, and what was expected.
struct LoadProblem {
  LoadField field;
  std::string message;
};

/// \brief Everything load_dataset(\p options) would refuse that headers and labels show, without
/// reading images: for tensors, each file (missing, unreadable, not an .npz or HDF5 file, a missing
/// key, images not N x C x H x W or N x H x W of uint8 or float32, labels not a vector of an integer
/// type, negative or above data.classes, counts that differ), train and test images of other
/// shapes, images too large to pad to 32 x 32; for every set, data.mean and data.std of a channel
/// count other than 1 or the images'. Nothing when good.
std::optional<LoadProblem> check_load_options(const LoadOptions& options);

/// \brief How many training items load_dataset(\p options) returns (the subset, or the whole
/// split), without reading a file (tensors: from the training file's header, kept per file).
/// \throws DataError for a tensors file that cannot be read.
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

/// \brief What a tensors file holds, from its headers and its labels (the images are not read).
struct TensorsFileSummary {
  std::int64_t items = 0;
  std::int64_t channels = 1, height = 0, width = 0;  ///< of one image (N x H x W files: one channel)
  std::string image_dtype;                           ///< "uint8" or "float32"
  std::int64_t max_label = -1;
};

/// \brief Checks a tensors file (see check_load_options) and summarises it.
/// \throws DataError naming \p path, the key and what was expected.
TensorsFileSummary inspect_tensors_file(const std::string& path, const std::string& images_key,
                                        const std::string& labels_key);

/// \brief The raw split of a tensors file: images as stored (uint8 on [0, 255] or float32), N x C
/// x H x W (N x H x W gains C = 1), and int64 labels. \throws DataError as inspect_tensors_file.
Split read_tensors_file(const std::string& path, const std::string& images_key,
                        const std::string& labels_key);

/// \brief Per-channel values "0.49, 0.48,0.45" (or one value).
/// \throws DataError naming \p what for text that is not a comma-separated list of numbers.
std::vector<double> parse_channel_values(const std::string& text, const std::string& what);

/// \brief "" when \p text is empty or a comma-separated list of finite numbers, else the problem
/// and what was expected (for config::Section::check_text).
std::string channel_values_problem(const std::string& text);

/// \brief \p images (a batch, N x C x H x W, or N x H x W as one channel) randomly cropped and
/// flipped per sample as \p augmentation says, drawn from a private generator seeded with \p seed
/// (never torch's global one): the same seed gives the same batch. Crops pad every side by
/// crop_padding pixels of the fill value and take an H x W window at a random offset (0 ..
/// 2 x crop_padding per axis). Returns \p images itself when the augmentation is inactive.
/// \throws DataError for a batch of another rank or a fill of another channel count.
at::Tensor augment(const at::Tensor& images, const Augmentation& augmentation, std::uint64_t seed);

}  // namespace xbarsweep::data
