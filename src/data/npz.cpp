// numpy's .npz files: a zip archive of .npy members, read with zlib (raw deflate) and no LibTorch.
//
// Zip layout: PKWARE's APPNOTE.TXT 6.3 (end of central directory record, central directory file
// headers, local file headers, the zip64 extra field 0x0001 and the zip64 end records, all
// little-endian). The .npy layout: numpy's NEP 1 ("A simple file format for NumPy arrays"): the
// magic "\x93NUMPY", a version byte pair, the header length (2 bytes in version 1, 4 in 2 and 3),
// then a Python dict literal {'descr': '<f4', 'fortran_order': False, 'shape': (N, 28, 28), }.
#include <zlib.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <fstream>
#include <limits>
#include <optional>
#include <string>
#include <vector>

#include "xbarsweep/data/array_file.hpp"
#include "xbarsweep/error.hpp"

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "the .npz reader hands out little-endian bytes as they are: a big-endian host needs byte swaps"
#endif

namespace xbarsweep::data {
namespace {

constexpr std::uint32_t kLocalHeader = 0x04034b50;
constexpr std::uint32_t kCentralHeader = 0x02014b50;
constexpr std::uint32_t kEndRecord = 0x06054b50;
constexpr std::uint32_t kZip64EndRecord = 0x06064b50;
constexpr std::uint32_t kZip64Locator = 0x07064b50;
constexpr std::uint16_t kZip64Extra = 0x0001;
constexpr std::uint16_t kStored = 0, kDeflated = 8;
constexpr std::size_t kEndRecordSize = 22, kMaxComment = 0xffff;
constexpr std::size_t kChunk = 1 << 16;

std::uint64_t le(const unsigned char* p, int bytes) {
  std::uint64_t v = 0;
  for (int i = bytes - 1; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

struct Member {
  std::string name;
  std::uint16_t flags = 0;
  std::uint16_t method = 0;
  std::uint32_t crc = 0;
  std::uint64_t compressed = 0;
  std::uint64_t size = 0;
  std::uint64_t local_offset = 0;
};

// One open .npz file: its central directory, and members read as streams of their bytes.
class ZipArchive {
 public:
  explicit ZipArchive(std::string path) : path_(std::move(path)), in_(path_, std::ios::binary) {
    if (!in_) fail("cannot open for reading; expected a readable .npz file");
    in_.seekg(0, std::ios::end);
    file_size_ = static_cast<std::uint64_t>(in_.tellg());
    read_directory();
  }

  const std::vector<Member>& members() const { return members_; }

  const Member* find(const std::string& name) const {
    for (const Member& m : members_)
      if (m.name == name) return &m;
    return nullptr;
  }

  [[noreturn]] void fail(const std::string& what) const { throw DataError(path_ + ": " + what); }

  // The uncompressed bytes of one member, from its start.
  class Stream {
   public:
    Stream(ZipArchive& zip, const Member& m) : zip_(zip), m_(m) {
      if (m.flags & 0x1) fail("is encrypted; expected a plain numpy .npz member");
      if (m.method != kStored && m.method != kDeflated) {
        fail("uses zip compression method " + std::to_string(m.method) +
             "; expected stored or deflated (np.savez or np.savez_compressed)");
      }
      unsigned char local[30];
      zip_.read_at(m.local_offset, local, sizeof local, "its local header");
      if (le(local, 4) != kLocalHeader)
        fail("has a damaged local header; the file is not a whole zip archive");
      position_ = m.local_offset + 30 + le(local + 26, 2) + le(local + 28, 2);
      remaining_in_ = m.compressed;
      if (position_ + remaining_in_ > zip_.file_size_) fail("is cut short: the file is truncated");
      if (m.method == kDeflated) {
        if (inflateInit2(&z_, -MAX_WBITS) != Z_OK) fail("zlib cannot start inflating");
        inflating_ = true;
      }
    }
    ~Stream() {
      if (inflating_) inflateEnd(&z_);
    }
    Stream(const Stream&) = delete;
    Stream& operator=(const Stream&) = delete;

    /// Reads exactly \p n bytes or throws naming \p what.
    void read(void* out, std::size_t n, const std::string& what) {
      auto* bytes = static_cast<unsigned char*>(out);
      if (produced_ + n > m_.size) {
        fail("holds " + std::to_string(m_.size - produced_) + " more bytes where " + what + " needs " +
             std::to_string(n) + ": truncated or damaged");
      }
      if (!inflating_) {
        zip_.read_at(position_, bytes, n, what);
        position_ += n;
      } else {
        std::size_t done = 0;
        while (done < n) {
          if (z_.avail_in == 0 && remaining_in_ > 0) {
            const auto take = static_cast<std::size_t>(std::min<std::uint64_t>(remaining_in_, kChunk));
            zip_.read_at(position_, input_.data(), take, what);
            position_ += take;
            remaining_in_ -= take;
            z_.next_in = input_.data();
            z_.avail_in = static_cast<uInt>(take);
          }
          const auto want = static_cast<uInt>(std::min<std::size_t>(n - done, 1u << 30));
          z_.next_out = bytes + done;
          z_.avail_out = want;
          const int rc = inflate(&z_, Z_NO_FLUSH);
          done += want - z_.avail_out;
          if (rc == Z_STREAM_END && done < n) fail("ends early while reading " + what + ": damaged");
          if (rc == Z_BUF_ERROR && z_.avail_in == 0 && remaining_in_ == 0)
            fail("is cut short while reading " + what + ": truncated");
          if (rc != Z_OK && rc != Z_STREAM_END && rc != Z_BUF_ERROR) {
            fail("has corrupt compressed data while reading " + what +
                 (z_.msg ? std::string(": ") + z_.msg : ""));
          }
        }
      }
      crc_ = crc32_z(crc_, bytes, n);
      produced_ += n;
    }

    /// Checks that every byte was read and matches the member's CRC-32.
    void finish() {
      if (produced_ != m_.size) fail("holds more bytes than its .npy header announces: damaged");
      if (crc_ != m_.crc) fail("fails its CRC-32 check: damaged");
    }

   private:
    [[noreturn]] void fail(const std::string& what) const { zip_.fail("member " + m_.name + " " + what); }

    ZipArchive& zip_;
    const Member& m_;
    std::uint64_t position_ = 0;
    std::uint64_t remaining_in_ = 0;
    std::uint64_t produced_ = 0;
    uLong crc_ = crc32_z(0L, Z_NULL, 0);
    bool inflating_ = false;
    z_stream z_{};
    std::array<unsigned char, kChunk> input_{};
  };

 private:
  void read_at(std::uint64_t offset, void* out, std::size_t n, const std::string& what) {
    if (offset + n > file_size_) fail("is truncated: " + what + " lies beyond the end of the file");
    in_.clear();
    in_.seekg(static_cast<std::streamoff>(offset));
    in_.read(static_cast<char*>(out), static_cast<std::streamsize>(n));
    if (static_cast<std::size_t>(in_.gcount()) != n) fail("cannot read " + what);
  }

  void read_directory() {
    const std::string not_zip =
        "not a zip archive (no end of central directory record); expected a numpy .npz "
        "file (np.savez or np.savez_compressed), whole";
    if (file_size_ < kEndRecordSize) fail(not_zip);
    const auto tail_size =
        static_cast<std::size_t>(std::min<std::uint64_t>(file_size_, kEndRecordSize + kMaxComment));
    std::vector<unsigned char> tail(tail_size);
    read_at(file_size_ - tail_size, tail.data(), tail_size, "the end record");
    std::optional<std::size_t> end;
    for (std::size_t i = tail_size - kEndRecordSize + 1; i-- > 0;) {
      if (le(&tail[i], 4) == kEndRecord && i + kEndRecordSize + le(&tail[i + 20], 2) <= tail_size) {
        end = i;
        break;
      }
    }
    if (!end) fail(not_zip);
    const unsigned char* e = &tail[*end];
    if (le(e + 4, 2) != 0 || le(e + 6, 2) != 0) fail("is a multi-volume zip archive; expected one .npz file");
    std::uint64_t entries = le(e + 10, 2), directory_size = le(e + 12, 4), directory_offset = le(e + 16, 4);
    if (entries == 0xffff || directory_size == 0xffffffff || directory_offset == 0xffffffff) {
      const std::uint64_t end_at = file_size_ - tail_size + *end;
      if (end_at < 20) fail("has a damaged zip64 end record");
      unsigned char locator[20];
      read_at(end_at - 20, locator, sizeof locator, "the zip64 end locator");
      if (le(locator, 4) != kZip64Locator) fail("has a damaged zip64 end locator");
      unsigned char record[56];
      read_at(le(locator + 8, 8), record, sizeof record, "the zip64 end record");
      if (le(record, 4) != kZip64EndRecord) fail("has a damaged zip64 end record");
      entries = le(record + 32, 8);
      directory_size = le(record + 40, 8);
      directory_offset = le(record + 48, 8);
    }
    if (directory_offset + directory_size > file_size_) fail("is truncated: its central directory is cut");
    std::vector<unsigned char> dir(static_cast<std::size_t>(directory_size));
    read_at(directory_offset, dir.data(), dir.size(), "the central directory");
    std::size_t at = 0;
    for (std::uint64_t k = 0; k < entries; ++k) {
      if (at + 46 > dir.size() || le(&dir[at], 4) != kCentralHeader) fail("has a damaged central directory");
      const unsigned char* h = &dir[at];
      Member m;
      m.flags = static_cast<std::uint16_t>(le(h + 8, 2));
      m.method = static_cast<std::uint16_t>(le(h + 10, 2));
      m.crc = static_cast<std::uint32_t>(le(h + 16, 4));
      m.compressed = le(h + 20, 4);
      m.size = le(h + 24, 4);
      m.local_offset = le(h + 42, 4);
      const std::size_t name_length = le(h + 28, 2), extra_length = le(h + 30, 2), comment = le(h + 32, 2);
      if (at + 46 + name_length + extra_length + comment > dir.size())
        fail("has a damaged central directory");
      m.name.assign(reinterpret_cast<const char*>(h + 46), name_length);
      // Fields at 0xffffffff are in the zip64 extra field, in this order.
      for (std::size_t x = 0; x + 4 <= extra_length;) {
        const unsigned char* f = h + 46 + name_length + x;
        const std::size_t length = le(f + 2, 2);
        if (x + 4 + length > extra_length) break;
        if (le(f, 2) == kZip64Extra) {
          std::size_t field = 4;
          for (std::uint64_t* value : {&m.size, &m.compressed, &m.local_offset}) {
            if (*value != 0xffffffff) continue;
            if (field + 8 > 4 + length) fail("has a damaged zip64 extra field");
            *value = le(f + field, 8);
            field += 8;
          }
        }
        x += 4 + length;
      }
      members_.push_back(std::move(m));
      at += 46 + name_length + extra_length + comment;
    }
  }

  std::string path_;
  std::ifstream in_;
  std::uint64_t file_size_ = 0;
  std::vector<Member> members_;
};

// numpy's descr ('<f4', '|u1') as ArrayHeader::dtype; big-endian data refused.
std::string dtype_of(const std::string& descr, const std::string& fail_prefix) {
  if (descr.size() < 2)
    throw DataError(fail_prefix + "has the dtype '" + descr + "'; expected a numeric dtype");
  const char order = descr[0];
  const std::string code = descr.substr(1);
  static const std::vector<std::pair<std::string, std::string>> names = {
      {"u1", "uint8"},   {"i1", "int8"},    {"b1", "bool"},      {"i2", "int16"},      {"i4", "int32"},
      {"i8", "int64"},   {"u2", "uint16"},  {"u4", "uint32"},    {"u8", "uint64"},     {"f2", "float16"},
      {"f4", "float32"}, {"f8", "float64"}, {"c8", "complex64"}, {"c16", "complex128"}};
  for (const auto& [c, name] : names) {
    if (c != code) continue;
    if (order == '>' && dtype_size(name) > 1) {
      throw DataError(fail_prefix + "is big-endian (dtype '" + descr + "'); expected little-endian (save " +
                      "arr.astype('<" + code + "'))");
    }
    if (order != '<' && order != '|' && order != '=' && order != '>')
      throw DataError(fail_prefix + "has the dtype '" + descr + "'; expected a numeric dtype");
    return name;
  }
  return "numpy dtype '" + descr + "'";
}

// The value after 'key': in numpy's header dict, as raw text up to the next top-level ',' or '}'.
std::optional<std::string> dict_value(const std::string& text, const std::string& key) {
  for (const char quote : {'\'', '"'}) {
    const std::string quoted = quote + key + quote;
    auto at = text.find(quoted);
    if (at == std::string::npos) continue;
    at = text.find(':', at + quoted.size());
    if (at == std::string::npos) return std::nullopt;
    ++at;
    while (at < text.size() && text[at] == ' ') ++at;
    int depth = 0;
    std::size_t end = at;
    char in_string = 0;
    for (; end < text.size(); ++end) {
      const char c = text[end];
      if (in_string) {
        if (c == in_string) in_string = 0;
      } else if (c == '\'' || c == '"') {
        in_string = c;
      } else if (c == '(' || c == '[' || c == '{') {
        ++depth;
      } else if (c == ')' || c == ']' || c == '}') {
        if (depth == 0) break;
        --depth;
      } else if (c == ',' && depth == 0) {
        break;
      }
    }
    std::string value = text.substr(at, end - at);
    while (!value.empty() && value.back() == ' ') value.pop_back();
    return value;
  }
  return std::nullopt;
}

struct NpyHeader {
  ArrayHeader header;
  std::size_t item_size = 0;
};

// Reads a member's .npy header from \p in (which then stands at the first element).
NpyHeader read_npy_header(ZipArchive::Stream& in, const Member& m, const std::string& file,
                          const std::string& key) {
  const std::string where = file + ": array '" + key + "' ";
  unsigned char magic[8];
  in.read(magic, sizeof magic, "the .npy magic");
  if (std::memcmp(magic, "\x93NUMPY", 6) != 0)
    throw DataError(where + "is not a .npy array (no \\x93NUMPY magic); expected a numpy .npz member");
  const int major = magic[6];
  if (major < 1 || major > 3) {
    throw DataError(where + "has .npy format version " + std::to_string(major) + "." +
                    std::to_string(magic[7]) + "; expected 1.0 to 3.0");
  }
  unsigned char length_bytes[4] = {0, 0, 0, 0};
  in.read(length_bytes, major == 1 ? 2 : 4, "the .npy header length");
  const std::uint64_t length = le(length_bytes, major == 1 ? 2 : 4);
  if (length > (1u << 20))
    throw DataError(where + "has an implausible .npy header length " + std::to_string(length));
  std::string text(static_cast<std::size_t>(length), '\0');
  in.read(text.data(), text.size(), "the .npy header");

  const auto descr = dict_value(text, "descr");
  const auto fortran = dict_value(text, "fortran_order");
  const auto shape = dict_value(text, "shape");
  if (!descr || !fortran || !shape) throw DataError(where + "has a damaged .npy header: " + text);
  if (descr->empty() || (descr->front() != '\'' && descr->front() != '"')) {
    throw DataError(where + "is a structured array (dtype " + *descr + "); expected a plain numeric array");
  }
  NpyHeader h;
  h.header.dtype = dtype_of(descr->substr(1, descr->size() - 2), where);
  if (*fortran == "True")
    throw DataError(where + "is in Fortran order; expected C order (save np.ascontiguousarray(arr))");
  if (*fortran != "False") throw DataError(where + "has a damaged .npy header: fortran_order " + *fortran);
  if (shape->size() < 2 || shape->front() != '(' || shape->back() != ')')
    throw DataError(where + "has a damaged .npy header: shape " + *shape);
  const std::string dims = shape->substr(1, shape->size() - 2);
  std::int64_t count = 1;
  for (std::size_t at = 0; at < dims.size();) {
    while (at < dims.size() && (dims[at] == ' ' || dims[at] == ',')) ++at;
    if (at == dims.size()) break;
    std::size_t end = at;
    while (end < dims.size() && dims[end] >= '0' && dims[end] <= '9') ++end;
    if (end == at || end - at > 15) throw DataError(where + "has a damaged .npy header: shape " + *shape);
    const std::int64_t d = std::stoll(dims.substr(at, end - at));
    if (d > 0 && count > std::numeric_limits<std::int64_t>::max() / d / 16)
      throw DataError(where + "has an implausible shape " + *shape);
    count *= d;
    h.header.shape.push_back(d);
    at = end;
  }
  h.item_size = dtype_size(h.header.dtype);
  const std::uint64_t offset = (major == 1 ? 10 : 12) + length;
  if (h.item_size > 0 && offset + static_cast<std::uint64_t>(count) * h.item_size != m.size) {
    throw DataError(where + "holds " + std::to_string(m.size - offset) + " bytes of data, but its shape " +
                    *shape + " of " + h.header.dtype + " needs " + std::to_string(count * h.item_size) +
                    ": truncated or damaged");
  }
  return h;
}

const std::string kNpy = ".npy";

std::vector<std::string> npz_keys(const std::string& file) {
  ZipArchive zip(file);
  std::vector<std::string> keys;
  for (const Member& m : zip.members()) {
    const bool npy =
        m.name.size() > kNpy.size() && m.name.compare(m.name.size() - kNpy.size(), kNpy.size(), kNpy) == 0;
    keys.push_back(npy ? m.name.substr(0, m.name.size() - kNpy.size()) : m.name);
  }
  return keys;
}

std::optional<ArrayHeader> npz_header(const std::string& file, const std::string& key) {
  ZipArchive zip(file);
  const Member* m = zip.find(key + kNpy);
  if (m == nullptr) return std::nullopt;
  ZipArchive::Stream in(zip, *m);
  return read_npy_header(in, *m, file, key).header;
}

ArrayData npz_read(const std::string& file, const std::string& key) {
  ZipArchive zip(file);
  const Member* m = zip.find(key + kNpy);
  if (m == nullptr) throw DataError(file + ": holds no array '" + key + "'");
  ZipArchive::Stream in(zip, *m);
  const NpyHeader h = read_npy_header(in, *m, file, key);
  if (h.item_size == 0)
    throw DataError(file + ": array '" + key + "' has the " + h.header.dtype + ", which cannot be read");
  ArrayData data{h.header, {}};
  data.bytes.resize(static_cast<std::size_t>(h.header.count()) * h.item_size);
  in.read(data.bytes.data(), data.bytes.size(), "the elements of '" + key + "'");
  in.finish();
  return data;
}

}  // namespace

std::size_t dtype_size(const std::string& dtype) {
  static const std::vector<std::pair<std::string, std::size_t>> sizes = {
      {"uint8", 1},   {"int8", 1},    {"bool", 1},      {"int16", 2},      {"uint16", 2},
      {"float16", 2}, {"int32", 4},   {"uint32", 4},    {"float32", 4},    {"int64", 8},
      {"uint64", 8},  {"float64", 8}, {"complex64", 8}, {"complex128", 16}};
  for (const auto& [name, size] : sizes)
    if (name == dtype) return size;
  return 0;
}

ArrayFormat npz_format() { return {"numpy .npz", npz_keys, npz_header, npz_read}; }

}  // namespace xbarsweep::data
