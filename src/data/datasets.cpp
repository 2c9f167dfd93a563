// The data sets (Fashion-MNIST, CIFAR-10, tensors files, synthetic), shaped for the models: subset,
// pad, normalise, view.
#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <stdexcept>
#include <string>
#include <tuple>

#include "tensors_cache.hpp"
#include "xbarsweep/data/dataset.hpp"
#include "xbarsweep/error.hpp"

namespace xbarsweep::data {
namespace {

constexpr std::int64_t kSide = 28;
constexpr std::int64_t kClasses = 10;
constexpr std::int64_t kSyntheticTrain = 6000;
constexpr std::int64_t kSyntheticTest = 1000;
constexpr std::int64_t kFashionMnistTrain = 60000;
constexpr std::int64_t kCifar10Train = 50000;

// Independent streams from one seed (splitmix64 finaliser), so that train and test draws differ.
std::uint64_t mix(std::uint64_t seed, std::uint64_t stream) {
  std::uint64_t x = seed + 0x9e3779b97f4a7c15ULL * (stream + 1);
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

Split take_subset(const Split& all, std::int64_t n, SubsetMode mode, std::uint64_t seed, const char* which) {
  if (n < 0) throw DataError(std::string(which) + " subset must be >= 0");
  if (n == 0 || n >= all.size()) return all;
  if (mode == SubsetMode::First) {
    return {all.images.narrow(0, 0, n), all.labels.narrow(0, 0, n)};
  }
  auto gen = at::make_generator<at::CPUGeneratorImpl>(seed);
  const auto index = std::get<0>(at::randperm(all.size(), gen, at::kLong).narrow(0, 0, n).sort());
  return {all.images.index_select(0, index), all.labels.index_select(0, index)};
}

// uint8 or float N x H x W (one channel) or N x C x H x W -> float N x C x H' x W' (H' = 32 when
// padded), divided by \p divide_by (255: pixels on [0, 1]) and normalised with \p mean and \p std
// (one value, or one per channel).
Split shape(Split raw, const LoadOptions& o, double divide_by, const std::vector<double>& mean,
            const std::vector<double>& std) {
  // A copy even when already float: the raw tensors may be shared (cache, synthetic tables).
  auto x = raw.images.to(at::kFloat, /*non_blocking=*/false, /*copy=*/true);
  if (divide_by != 1.0) x.div_(divide_by);
  if (x.dim() == 3) x = x.unsqueeze(1);
  if (o.sequence && x.size(1) != 1)
    throw DataError(o.name + " has colour images; expected a one-channel data set for the sequence view");
  if (o.pad_to_32 && (x.size(2) < 32 || x.size(3) < 32)) {
    if (x.size(2) > 32 || x.size(3) > 32) throw DataError("pad_to_32: image larger than 32x32");
    const auto top = (32 - x.size(2)) / 2, left = (32 - x.size(3)) / 2;
    x = at::constant_pad_nd(x, {left, 32 - x.size(3) - left, top, 32 - x.size(2) - top}, 0.0);
  }
  if (o.normalize) {
    if (mean.size() == 1 && std.size() == 1) {
      x = x.sub_(mean[0]).div_(std[0]);
    } else {
      const auto channels = x.size(1);
      const auto per_channel = [channels](const std::vector<double>& v) {
        return at::tensor(v.size() == 1 ? std::vector<double>(static_cast<std::size_t>(channels), v[0]) : v,
                          at::kFloat)
            .view({1, channels, 1, 1});
      };
      x = x.sub_(per_channel(mean)).div_(per_channel(std));
    }
  }
  x = o.sequence ? x.squeeze(1).contiguous() : x.contiguous();
  return {x, raw.labels.contiguous()};
}

// Decompressing Fashion-MNIST's training images takes ~0.5 s, longer than a quickstart point
// trains: keep each split's raw tensors for the life of the process. Keyed by path, size and
// modification time, so a replaced file is read again. Callers never modify the raw tensors.
Split read_fashion_mnist_cached(const std::string& dir, const std::string& split) {
  namespace fs = std::filesystem;
  static std::mutex mutex;
  static std::map<std::tuple<std::string, std::uintmax_t, std::int64_t>, Split> cache;
  const std::string images = dir + "/" + split + "-images-idx3-ubyte.gz";
  std::error_code ec;
  const auto size = fs::file_size(images, ec);
  const auto mtime = fs::last_write_time(images, ec).time_since_epoch().count();
  if (ec) return read_fashion_mnist(dir, split);  // let the reader report the problem
  const auto key = std::make_tuple(fs::absolute(images, ec).string(), size, static_cast<std::int64_t>(mtime));
  std::lock_guard<std::mutex> lock(mutex);
  if (auto it = cache.find(key); it != cache.end()) return it->second;
  Split s = read_fashion_mnist(dir, split);
  cache.emplace(key, s);
  return s;
}

}  // namespace

namespace {

std::string fashion_mnist_file(const std::string& dir, const std::string& split, const char* what) {
  return dir + "/" + split + "-" + what + "-ubyte.gz";
}

}  // namespace

std::vector<std::string> cifar10_files(const std::string& dir, const std::string& split) {
  if (split == "test") return {dir + "/test_batch.bin"};
  std::vector<std::string> files;
  for (int b = 1; b <= 5; ++b) files.push_back(dir + "/data_batch_" + std::to_string(b) + ".bin");
  return files;
}

std::int64_t training_items(const LoadOptions& o) {
  const std::int64_t all = o.name == "synthetic" ? kSyntheticTrain
                           : o.name == "cifar10" ? kCifar10Train
                           : o.name == "tensors" ? detail::tensors_training_items(o)
                                                 : kFashionMnistTrain;
  return o.train_subset > 0 ? std::min(o.train_subset, all) : all;
}

std::vector<std::string> dataset_files(const LoadOptions& o) {
  if (o.name == "tensors") return {o.train_path, o.test_path};
  if (o.name == "cifar10") {
    auto files = cifar10_files(o.dir, "train");
    files.push_back(cifar10_files(o.dir, "test").front());
    return files;
  }
  if (o.name != "fashion-mnist") return {};
  std::vector<std::string> files;
  for (const char* split : {"train", "t10k"})
    for (const char* what : {"images-idx3", "labels-idx1"})
      files.push_back(fashion_mnist_file(o.dir, split, what));
  return files;
}

Split read_fashion_mnist(const std::string& dir, const std::string& split) {
  if (split != "train" && split != "t10k") {
    throw DataError("Fashion-MNIST split must be \"train\" or \"t10k\", got \"" + split + "\"");
  }
  const std::string images_path = fashion_mnist_file(dir, split, "images-idx3");
  const std::string labels_path = fashion_mnist_file(dir, split, "labels-idx1");
  if (!std::ifstream(images_path).good() || !std::ifstream(labels_path).good()) {
    throw DataError("Fashion-MNIST not found: expected " + images_path + " and " + labels_path +
                    " (Debian package dataset-fashion-mnist, or set data.dir)");
  }
  Split s{read_idx_images(images_path), read_idx_labels(labels_path, kClasses - 1)};
  if (s.images.size(1) != kSide || s.images.size(2) != kSide) {
    throw DataError(images_path + ": images are " + std::to_string(s.images.size(1)) + "x" +
                    std::to_string(s.images.size(2)) + ", expected 28x28");
  }
  if (s.images.size(0) != s.labels.size(0)) {
    throw DataError(images_path + " holds " + std::to_string(s.images.size(0)) + " images but " +
                    labels_path + " holds " + std::to_string(s.labels.size(0)) + " labels");
  }
  return s;
}

Split read_cifar10(const std::string& dir, const std::string& split) {
  if (split != "train" && split != "test") {
    throw DataError("CIFAR-10 split must be \"train\" or \"test\", got \"" + split + "\"");
  }
  constexpr std::int64_t kPixels = 3 * 32 * 32, kRecord = 1 + kPixels;
  std::vector<at::Tensor> images, labels;
  for (const std::string& path : cifar10_files(dir, split)) {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
      throw DataError(path +
                      ": cannot open; expected the CIFAR-10 binary version (data_batch_1.bin .. "
                      "data_batch_5.bin, test_batch.bin) in data.dir");
    }
    std::vector<char> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    const auto size = static_cast<std::int64_t>(bytes.size());
    if (size == 0 || size % kRecord != 0) {
      throw DataError(path + ": " + std::to_string(size) + " bytes, not a whole number of " +
                      std::to_string(kRecord) +
                      "-byte records (1 label + 3072 pixels); expected a CIFAR-10 "
                      "binary batch");
    }
    const auto records = at::from_blob(bytes.data(), {size / kRecord, kRecord}, at::kByte).clone();
    const auto label = records.select(1, 0).to(at::kLong);
    if (const auto top = label.max().item<std::int64_t>(); top >= kClasses) {
      throw DataError(path + ": label " + std::to_string(top) +
                      "; expected labels 0..9 (is this CIFAR-100?)");
    }
    images.push_back(records.narrow(1, 1, kPixels).reshape({-1, 3, 32, 32}));
    labels.push_back(label);
  }
  return {at::cat(images), at::cat(labels)};
}

Split make_synthetic(std::int64_t count, std::uint64_t seed, double noise) {
  if (count < 1) throw DataError("make_synthetic: count must be >= 1");
  // Class c: a plane wave at angle c*pi/10 with 2..4 periods across the image. Fixed for all seeds.
  const auto coords = at::arange(kSide, at::kFloat).div_(static_cast<double>(kSide));
  const auto yy = coords.view({kSide, 1}).expand({kSide, kSide});
  const auto xx = coords.view({1, kSide}).expand({kSide, kSide});
  std::vector<at::Tensor> patterns;
  for (std::int64_t c = 0; c < kClasses; ++c) {
    const double angle = static_cast<double>(c) * M_PI / static_cast<double>(kClasses);
    const double periods = 2.0 + static_cast<double>(c % 3);
    const auto phase = (xx * std::cos(angle) + yy * std::sin(angle)) * (2.0 * M_PI * periods);
    patterns.push_back(phase.cos().mul_(0.5).add_(0.5));
  }
  const auto table = at::stack(patterns);  // 10 x 28 x 28

  auto gen = at::make_generator<at::CPUGeneratorImpl>(mix(seed, 0));
  const auto labels = at::randint(kClasses, {count}, gen, at::kLong);
  auto images = table.index_select(0, labels);
  images.add_(at::randn({count, kSide, kSide}, gen, at::kFloat).mul_(noise)).clamp_(0.0, 1.0).mul_(255.0);
  return {images, labels};
}

at::Tensor as_sequence(const at::Tensor& images) {
  if (images.dim() != 4 || images.size(1) != 1) {
    throw DataError("as_sequence: expected N x 1 x H x W images");
  }
  return images.squeeze(1).contiguous();
}

Dataset load_dataset(const LoadOptions& o) {
  if (auto problem = check_load_options(o)) throw DataError(problem->message);
  Split train, test;
  std::int64_t classes = kClasses;
  double divide_by = 255.0;  // uint8 pixels, or synthetic floats on [0, 255]
  std::vector<double> mean = {kFashionMnistMean}, std = {kFashionMnistStd};
  if (o.name == "fashion-mnist") {
    train = take_subset(read_fashion_mnist_cached(o.dir, "train"), o.train_subset, o.subset_mode,
                        mix(o.subset_seed, 1), "training");
    test = take_subset(read_fashion_mnist_cached(o.dir, "t10k"), o.test_subset, o.subset_mode,
                       mix(o.subset_seed, 2), "test");
  } else if (o.name == "cifar10") {
    train = take_subset(read_cifar10(o.dir, "train"), o.train_subset, o.subset_mode, mix(o.subset_seed, 1),
                        "training");
    test =
        take_subset(read_cifar10(o.dir, "test"), o.test_subset, o.subset_mode, mix(o.subset_seed, 2), "test");
    mean.assign(kCifar10Mean, kCifar10Mean + 3);
    std.assign(kCifar10Std, kCifar10Std + 3);
  } else if (o.name == "tensors") {
    const auto whole_train = detail::read_tensors_cached(o.train_path, o.images_key, o.labels_key);
    const auto whole_test = detail::read_tensors_cached(o.test_path, o.images_key, o.labels_key);
    train = take_subset(whole_train.raw, o.train_subset, o.subset_mode, mix(o.subset_seed, 1), "training");
    test = take_subset(whole_test.raw, o.test_subset, o.subset_mode, mix(o.subset_seed, 2), "test");
    classes = input_shape(o).num_classes;
    if (whole_train.raw.images.scalar_type() != at::kByte) divide_by = 1.0;  // float32: taken as stored
    mean = whole_train.mean;
    std = whole_train.stddev;
  } else if (o.name == "synthetic") {
    if (o.train_subset < 0 || o.test_subset < 0) throw DataError("subsets must be >= 0");
    train = make_synthetic(o.train_subset > 0 ? o.train_subset : kSyntheticTrain, mix(o.synthetic_seed, 1),
                           o.synthetic_noise);
    test = make_synthetic(o.test_subset > 0 ? o.test_subset : kSyntheticTest, mix(o.synthetic_seed, 2),
                          o.synthetic_noise);
  } else {
    throw DataError("unknown data set \"" + o.name +
                    "\", expected fashion-mnist, cifar10, tensors or synthetic");
  }
  if (!o.mean.empty()) mean = parse_channel_values(o.mean, "data.mean");
  if (!o.stddev.empty()) std = parse_channel_values(o.stddev, "data.std");
  Dataset ds{shape(std::move(train), o, divide_by, mean, std),
             shape(std::move(test), o, divide_by, mean, std), classes};
  if (o.augmentation.active()) {
    // Crops pad with black: the value a zero pixel has after normalisation, per channel.
    const auto channels = static_cast<std::size_t>(ds.train.images.dim() == 4 ? ds.train.images.size(1) : 1);
    ds.train.augmentation = o.augmentation;
    ds.train.augmentation.fill.assign(channels, 0.0);
    if (o.normalize) {
      for (std::size_t c = 0; c < channels; ++c) {
        ds.train.augmentation.fill[c] = -mean[mean.size() == 1 ? 0 : c] / std[std.size() == 1 ? 0 : c];
      }
    }
  }
  return ds;
}

}  // namespace xbarsweep::data
