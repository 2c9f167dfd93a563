// The `tensors` data set: images and labels from .npz or HDF5 files (through data::ArrayFormat),
// checked from their headers and labels before any work, and the checks every set shares
// (data.mean, data.std, data.pad).
#include <ATen/ATen.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <tuple>

#include "tensors_cache.hpp"
#include "xbarsweep/data/array_file.hpp"
#include "xbarsweep/data/dataset.hpp"
#include "xbarsweep/error.hpp"

namespace xbarsweep::data {
namespace {

std::string shape_text(const std::vector<std::int64_t>& shape) {
  std::string out = "(";
  for (std::size_t i = 0; i < shape.size(); ++i) out += (i ? ", " : "") + std::to_string(shape[i]);
  return out + (shape.size() == 1 ? ",)" : ")");
}

std::string image_text(const TensorsFileSummary& s) {
  return std::to_string(s.channels) + "x" + std::to_string(s.height) + "x" + std::to_string(s.width);
}

// What keeps \p path from being read, or "".
std::string file_problem(const std::string& path) {
  namespace fs = std::filesystem;
  std::error_code ec;
  const std::string expected = "; expected a readable .npz or HDF5 file";
  if (!fs::exists(path, ec)) return "no such file" + expected;
  if (!fs::is_regular_file(path, ec)) return "is not a regular file" + expected;
  if (!std::ifstream(path, std::ios::binary)) return "cannot be read (permissions?)" + expected;
  return "";
}

at::ScalarType scalar_type(const std::string& dtype) {
  if (dtype == "uint8") return at::kByte;
  if (dtype == "int8") return at::kChar;
  if (dtype == "int16") return at::kShort;
  if (dtype == "int32") return at::kInt;
  if (dtype == "int64") return at::kLong;
  if (dtype == "float32") return at::kFloat;
  throw InternalError("no tensor type for dtype " + dtype);
}

bool label_type(const std::string& dtype) {
  return dtype == "uint8" || dtype == "int8" || dtype == "int16" || dtype == "int32" || dtype == "int64";
}

ArrayHeader header_of(const ArrayFormat& format, const std::string& path, const std::string& key,
                      const char* option, const char* what) {
  if (auto h = format.header(path, key)) return *h;
  std::string held;
  for (const std::string& k : format.keys(path)) held += (held.empty() ? "'" : ", '") + k + "'";
  throw DataError(path + ": no array '" + key + "' (data." + option + "); the file holds " +
                  (held.empty() ? std::string("no arrays") : held) + "; expected the " + what +
                  " under that name");
}

at::Tensor to_tensor(const ArrayData& data) {
  auto t = at::empty(data.header.shape, scalar_type(data.header.dtype));
  std::memcpy(t.data_ptr(), data.bytes.data(), data.bytes.size());
  return t;
}

// The labels of a checked header, as int64, each checked non-negative.
at::Tensor read_labels(const ArrayFormat& format, const std::string& path, const std::string& key) {
  const auto labels = to_tensor(format.read(path, key)).to(at::kLong);
  if (labels.numel() > 0) {
    if (const auto low = labels.min().item<std::int64_t>(); low < 0) {
      throw DataError(path + ": array '" + key + "' holds the label " + std::to_string(low) +
                      "; expected class indices 0, 1, 2, ... (non-negative)");
    }
  }
  return labels;
}

struct CheckedHeaders {
  ArrayFormat format;
  ArrayHeader images;
  ArrayHeader labels;
};

CheckedHeaders check_headers(const std::string& path, const std::string& images_key,
                             const std::string& labels_key) {
  if (const std::string problem = file_problem(path); !problem.empty())
    throw DataError(path + ": " + problem);
  CheckedHeaders h{array_format(path), {}, {}};
  h.images = header_of(h.format, path, images_key, "images_key", "images");
  const std::string images = path + ": array '" + images_key + "' ";
  if (h.images.shape.size() != 3 && h.images.shape.size() != 4) {
    throw DataError(images + "has shape " + shape_text(h.images.shape) +
                    "; expected images N x C x H x W or N x H x W");
  }
  if (h.images.dtype != "uint8" && h.images.dtype != "float32") {
    throw DataError(images + "has dtype " + h.images.dtype + "; expected uint8 (pixels 0..255) or float32");
  }
  for (const auto d : h.images.shape)
    if (d < 1)
      throw DataError(images + "has shape " + shape_text(h.images.shape) +
                      "; expected at least one image of one pixel");
  h.labels = header_of(h.format, path, labels_key, "labels_key", "labels");
  const std::string labels = path + ": array '" + labels_key + "' ";
  if (h.labels.shape.size() != 1)
    throw DataError(labels + "has shape " + shape_text(h.labels.shape) + "; expected labels, a vector of N");
  if (!label_type(h.labels.dtype)) {
    throw DataError(labels + "has dtype " + h.labels.dtype +
                    "; expected an integer type (uint8, int8, int16, int32 or int64)");
  }
  if (h.labels.shape[0] != h.images.shape[0]) {
    throw DataError(path + ": " + std::to_string(h.images.shape[0]) + " images ('" + images_key + "') but " +
                    std::to_string(h.labels.shape[0]) + " labels ('" + labels_key +
                    "'); expected one label per image");
  }
  return h;
}

// A file's identity for the caches: its path, size and modification time (a replaced file is read
// again), and the keys read from it.
using FileKey = std::tuple<std::string, std::uintmax_t, std::int64_t, std::string, std::string>;

std::optional<FileKey> file_key(const std::string& path, const std::string& images_key,
                                const std::string& labels_key) {
  namespace fs = std::filesystem;
  std::error_code ec;
  const auto size = fs::file_size(path, ec);
  if (ec) return std::nullopt;
  const auto mtime = fs::last_write_time(path, ec).time_since_epoch().count();
  if (ec) return std::nullopt;
  const auto absolute = fs::absolute(path, ec).string();
  if (ec) return std::nullopt;
  return FileKey{absolute, size, static_cast<std::int64_t>(mtime), images_key, labels_key};
}

// Keeps \p compute's result per file for the life of the process (summaries: for the checks and
// the cost hints of every point; raw splits: decompressing them costs more than a small point).
template <class T>
T cached(const std::string& path, const std::string& images_key, const std::string& labels_key,
         const std::function<T()>& compute) {
  static std::mutex mutex;
  static std::map<FileKey, T> cache;
  const auto key = file_key(path, images_key, labels_key);
  if (!key) return compute();  // let the reader report the problem
  {
    std::lock_guard<std::mutex> lock(mutex);
    if (auto it = cache.find(*key); it != cache.end()) return it->second;
  }
  T value = compute();
  std::lock_guard<std::mutex> lock(mutex);
  cache.emplace(*key, value);
  return value;
}

TensorsFileSummary summary(const std::string& path, const std::string& images_key,
                           const std::string& labels_key) {
  return cached<TensorsFileSummary>(path, images_key, labels_key,
                                    [&] { return inspect_tensors_file(path, images_key, labels_key); });
}

// The checks of check_load_options; \p shape receives what load_dataset would give.
std::optional<LoadProblem> examine(const LoadOptions& o, InputShape& shape) {
  shape = {1, 28, 28, 10};
  if (o.name == "cifar10") shape = {3, 32, 32, 10};
  if (o.name == "tensors") {
    if (o.train_path.empty()) {
      return LoadProblem{
          LoadField::TrainPath,
          "no training file given; expected data.train_path, a .npz or HDF5 file, for data.name tensors"};
    }
    if (o.test_path.empty()) {
      return LoadProblem{
          LoadField::TestPath,
          "no test file given; expected data.test_path, a .npz or HDF5 file, for data.name tensors"};
    }
    TensorsFileSummary train, test;
    try {
      train = summary(o.train_path, o.images_key, o.labels_key);
    } catch (const DataError& e) {
      return LoadProblem{LoadField::TrainPath, e.message()};
    }
    try {
      test = summary(o.test_path, o.images_key, o.labels_key);
    } catch (const DataError& e) {
      return LoadProblem{LoadField::TestPath, e.message()};
    }
    if (train.channels != test.channels || train.height != test.height || train.width != test.width) {
      return LoadProblem{LoadField::TestPath, o.test_path + ": images ('" + o.images_key + "') are " +
                                                  image_text(test) + ", the training file " + o.train_path +
                                                  "'s are " + image_text(train) +
                                                  "; expected the same shape in both"};
    }
    if (train.image_dtype != test.image_dtype) {
      return LoadProblem{LoadField::TestPath, o.test_path + ": images ('" + o.images_key + "') are " +
                                                  test.image_dtype + ", the training file " + o.train_path +
                                                  "'s are " + train.image_dtype +
                                                  "; expected the same dtype in both"};
    }
    const bool test_top = test.max_label > train.max_label;
    const auto top = std::max(train.max_label, test.max_label);
    if (o.classes > 0 && top >= o.classes) {
      return LoadProblem{LoadField::Classes,
                         (test_top ? o.test_path : o.train_path) + ": array '" + o.labels_key +
                             "' holds the label " + std::to_string(top) +
                             "; expected labels below data.classes = " + std::to_string(o.classes)};
    }
    shape = {train.channels, train.height, train.width, o.classes > 0 ? o.classes : top + 1};
  }
  if (o.pad_to_32 && (shape.height > 32 || shape.width > 32)) {
    return LoadProblem{LoadField::Pad,
                       o.train_path + ": images are " + std::to_string(shape.height) + "x" +
                           std::to_string(shape.width) +
                           ", larger than 32x32; expected no padding to 32x32 (data.pad false, "
                           "a model other than vgg16 and resnet18)"};
  }
  if (o.pad_to_32) shape.height = shape.width = 32;
  for (const bool is_mean : {true, false}) {
    const std::string& text = is_mean ? o.mean : o.stddev;
    const LoadField field = is_mean ? LoadField::Mean : LoadField::Std;
    if (text.empty()) continue;
    std::vector<double> values;
    try {
      values = parse_channel_values(text, is_mean ? "data.mean" : "data.std");
    } catch (const DataError& e) {
      return LoadProblem{field, e.message()};
    }
    const auto count = static_cast<std::int64_t>(values.size());
    if (count != 1 && count != shape.channels) {
      return LoadProblem{field, "'" + text + "' has " + std::to_string(count) + " values for images of " +
                                    std::to_string(shape.channels) + " channel" +
                                    (shape.channels == 1 ? "" : "s") +
                                    "; expected one value, or one per channel"};
    }
    if (!is_mean && *std::min_element(values.begin(), values.end()) <= 0.0)
      return LoadProblem{field, "'" + text + "' holds a standard deviation <= 0; expected values > 0"};
  }
  return std::nullopt;
}

}  // namespace

TensorsFileSummary inspect_tensors_file(const std::string& path, const std::string& images_key,
                                        const std::string& labels_key) {
  const CheckedHeaders h = check_headers(path, images_key, labels_key);
  TensorsFileSummary s;
  const auto& shape = h.images.shape;
  s.items = shape[0];
  s.channels = shape.size() == 4 ? shape[1] : 1;
  s.height = shape[shape.size() - 2];
  s.width = shape.back();
  s.image_dtype = h.images.dtype;
  s.max_label = read_labels(h.format, path, labels_key).max().item<std::int64_t>();
  return s;
}

Split read_tensors_file(const std::string& path, const std::string& images_key,
                        const std::string& labels_key) {
  const CheckedHeaders h = check_headers(path, images_key, labels_key);
  auto images = to_tensor(h.format.read(path, images_key));
  if (images.dim() == 3) images = images.unsqueeze(1);
  return {images, read_labels(h.format, path, labels_key)};
}

namespace {

// The values of \p text, or the problem with it.
std::vector<double> channel_values(const std::string& text, std::string& problem) {
  std::vector<double> values;
  for (std::size_t at = 0;;) {
    const auto comma = text.find(',', at);
    std::string item = text.substr(at, comma == std::string::npos ? std::string::npos : comma - at);
    item.erase(0, item.find_first_not_of(" \t"));
    item.erase(item.find_last_not_of(" \t") + 1);
    char* end = nullptr;
    const double v = item.empty() ? 0.0 : std::strtod(item.c_str(), &end);
    if (item.empty() || end != item.c_str() + item.size() || !std::isfinite(v)) {
      problem =
          "'" + item +
          "' is not a number; expected comma-separated numbers, one per channel (\"0.49,0.48,0.45\"), or "
          "one for all";
      return {};
    }
    values.push_back(v);
    if (comma == std::string::npos) return values;
    at = comma + 1;
  }
}

}  // namespace

std::vector<double> parse_channel_values(const std::string& text, const std::string& what) {
  std::string problem;
  auto values = channel_values(text, problem);
  if (!problem.empty()) throw DataError(what + " '" + text + "': " + problem);
  return values;
}

std::string channel_values_problem(const std::string& text) {
  std::string problem;
  if (!text.empty()) channel_values(text, problem);
  return problem;
}

std::optional<LoadProblem> check_load_options(const LoadOptions& options) {
  InputShape shape{};
  return examine(options, shape);
}

InputShape input_shape(const LoadOptions& options) {
  if (options.name != "fashion-mnist" && options.name != "cifar10" && options.name != "tensors" &&
      options.name != "synthetic") {
    throw DataError("unknown data set \"" + options.name +
                    "\", expected fashion-mnist, cifar10, tensors or synthetic");
  }
  InputShape shape{};
  if (auto problem = examine(options, shape)) throw DataError(problem->message);
  return shape;
}

namespace detail {

std::int64_t tensors_training_items(const LoadOptions& o) {
  return summary(o.train_path, o.images_key, o.labels_key).items;
}

TensorsSplit read_tensors_cached(const std::string& path, const std::string& images_key,
                                 const std::string& labels_key) {
  return cached<TensorsSplit>(path, images_key, labels_key, [&] {
    TensorsSplit t{read_tensors_file(path, images_key, labels_key), {}, {}};
    // Per-channel statistics on the [0, 1] scale (uint8) or as stored (float32), in double, a
    // thousand images at a time so that no float copy of the whole file is made.
    const auto& x = t.raw.images;
    const double scale = x.scalar_type() == at::kByte ? 1.0 / 255.0 : 1.0;
    auto sum = at::zeros({x.size(1)}, at::kDouble), squares = at::zeros({x.size(1)}, at::kDouble);
    for (std::int64_t begin = 0; begin < x.size(0); begin += 1000) {
      const auto chunk =
          x.narrow(0, begin, std::min<std::int64_t>(1000, x.size(0) - begin)).to(at::kDouble).mul_(scale);
      sum += chunk.sum({0, 2, 3});
      squares += chunk.square().sum({0, 2, 3});
    }
    const double count = static_cast<double>(x.size(0) * x.size(2) * x.size(3));
    const auto mean = sum / count;
    const auto var = (squares / count - mean.square()).clamp_min(0.0);
    for (std::int64_t c = 0; c < x.size(1); ++c) {
      t.mean.push_back(mean[c].item<double>());
      const double sd = std::sqrt(var[c].item<double>());
      t.stddev.push_back(sd > 1e-12 ? sd : 1.0);  // a constant channel is only centred
    }
    return t;
  });
}

}  // namespace detail

}  // namespace xbarsweep::data
