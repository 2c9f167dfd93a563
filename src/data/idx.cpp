// IDX files (LeCun's MNIST format, also Fashion-MNIST's), read and written through zlib.
//
// Layout: 4-byte magic {0, 0, type, ndims} with type 0x08 = unsigned byte, then ndims big-endian
// uint32 dimensions, then the data in row-major order. gzopen reads plain files transparently.
#include <ATen/ATen.h>
#include <zlib.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "xbarsweep/data/dataset.hpp"
#include "xbarsweep/error.hpp"

namespace xbarsweep::data {
namespace {

constexpr unsigned char kUnsignedByte = 0x08;
constexpr std::uint32_t kMaxDim = 1u << 24;  // far above any real data set; guards allocation

struct GzCloser {
  void operator()(gzFile_s* f) const { gzclose(f); }
};
using GzFile = std::unique_ptr<gzFile_s, GzCloser>;

class IdxReader {
 public:
  explicit IdxReader(std::string path) : path_(std::move(path)) {
    errno = 0;
    file_.reset(gzopen(path_.c_str(), "rb"));
    if (!file_) {
      fail(std::string("cannot open (") + (errno ? std::strerror(errno) : "zlib error") + ")");
    }
  }

  /// Reads exactly \p n bytes or throws naming what was being read.
  void read(void* out, std::size_t n, const char* what) {
    auto* bytes = static_cast<unsigned char*>(out);
    std::size_t done = 0;
    while (done < n) {
      const auto chunk = static_cast<unsigned>(std::min<std::size_t>(n - done, 1u << 30));
      const int got = gzread(file_.get(), bytes + done, chunk);
      if (got < 0) {
        int code = 0;
        fail(std::string("corrupt compressed data while reading ") + what + ": " +
             gzerror(file_.get(), &code));
      }
      if (got == 0) {
        fail(std::string("truncated: ") + what + " needs " + std::to_string(n) + " bytes, found " +
             std::to_string(done));
      }
      done += static_cast<std::size_t>(got);
    }
  }

  std::vector<std::int64_t> header(unsigned char expected_dims, const char* kind) {
    std::array<unsigned char, 4> magic{};
    read(magic.data(), magic.size(), "the magic number");
    if (magic[0] != 0 || magic[1] != 0 || magic[2] != kUnsignedByte || magic[3] != expected_dims) {
      char text[64];
      std::snprintf(text, sizeof text, "0x%02x%02x%02x%02x", magic[0], magic[1], magic[2], magic[3]);
      char want[16];
      std::snprintf(want, sizeof want, "0x000008%02x", expected_dims);
      fail(std::string("wrong magic number ") + text + ", expected " + want + " (IDX " + kind +
           ", unsigned bytes, " + std::to_string(expected_dims) + " dimensions)");
    }
    std::vector<std::int64_t> dims;
    for (unsigned d = 0; d < expected_dims; ++d) {
      std::array<unsigned char, 4> b{};
      read(b.data(), b.size(), "the dimensions");
      const std::uint32_t v = (std::uint32_t{b[0]} << 24) | (std::uint32_t{b[1]} << 16) |
                              (std::uint32_t{b[2]} << 8) | std::uint32_t{b[3]};
      if (v == 0 || v > kMaxDim) {
        fail("dimension " + std::to_string(d) + " is " + std::to_string(v) + ", expected 1.." +
             std::to_string(kMaxDim));
      }
      dims.push_back(static_cast<std::int64_t>(v));
    }
    return dims;
  }

  /// Fails when bytes remain after the data the header announced.
  void expect_end() {
    unsigned char extra = 0;
    const int got = gzread(file_.get(), &extra, 1);
    if (got > 0) fail("longer than its header says (trailing data after the last item)");
    if (got < 0) {
      int code = 0;
      fail(std::string("corrupt compressed data at the end: ") + gzerror(file_.get(), &code));
    }
  }

  [[noreturn]] void fail(const std::string& what) const { throw DataError(path_ + ": " + what); }

 private:
  std::string path_;
  GzFile file_;
};

}  // namespace

at::Tensor read_idx_images(const std::string& path) {
  IdxReader in(path);
  const auto dims = in.header(3, "images");
  auto images = at::empty({dims[0], dims[1], dims[2]}, at::kByte);
  in.read(images.data_ptr<std::uint8_t>(), static_cast<std::size_t>(images.numel()), "the pixels");
  in.expect_end();
  return images;
}

at::Tensor read_idx_labels(const std::string& path, std::int64_t max_label) {
  IdxReader in(path);
  const auto dims = in.header(1, "labels");
  auto raw = at::empty({dims[0]}, at::kByte);
  in.read(raw.data_ptr<std::uint8_t>(), static_cast<std::size_t>(raw.numel()), "the labels");
  in.expect_end();
  const auto top = raw.max().item<std::int64_t>();
  if (top > max_label) {
    in.fail("label " + std::to_string(top) + " out of range, expected 0.." + std::to_string(max_label));
  }
  return raw.to(at::kLong);
}

void write_idx_gz(const std::string& path, const at::Tensor& values) {
  if (values.scalar_type() != at::kByte || (values.dim() != 1 && values.dim() != 3)) {
    throw DataError("write_idx_gz: expected a uint8 tensor of 1 or 3 dimensions");
  }
  GzFile out(gzopen(path.c_str(), "wb"));
  if (!out) throw DataError(path + ": cannot open for writing");
  std::vector<unsigned char> head = {0, 0, kUnsignedByte, static_cast<unsigned char>(values.dim())};
  for (auto d : values.sizes()) {
    const auto v = static_cast<std::uint32_t>(d);
    head.insert(head.end(), {static_cast<unsigned char>(v >> 24), static_cast<unsigned char>(v >> 16),
                             static_cast<unsigned char>(v >> 8), static_cast<unsigned char>(v)});
  }
  const auto body = values.contiguous();
  const auto n = static_cast<unsigned>(body.numel());
  if (gzwrite(out.get(), head.data(), static_cast<unsigned>(head.size())) != static_cast<int>(head.size()) ||
      (n > 0 && gzwrite(out.get(), body.data_ptr<std::uint8_t>(), n) != static_cast<int>(n))) {
    throw DataError(path + ": write failed");
  }
  if (gzclose(out.release()) != Z_OK) throw DataError(path + ": write failed on close");
}

}  // namespace xbarsweep::data
