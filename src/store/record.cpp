#include "xbarsweep/store/record.hpp"

#include <cstring>
#include <limits>
#include <type_traits>

#include "xbarsweep/error.hpp"

namespace xbarsweep::store {

std::string_view status_name(PointStatus s) { return s == PointStatus::Done ? "done" : "failed"; }

// Encoding, all integers little-endian:
//   u8 version (=1), str id, u64 index, u8 status, str error, i32 rank, str host,
//   f64 start_time, f64 end_time,
//   u32 n_params,  n x (str path, u8 tag, payload)   tag: 0 bool(u8) 1 int(i64) 2 real(f64) 3 str
//   u32 n_metrics, n x (str name, f64)
//   u32 n_arrays,  n x (str name, u32 length, length x f64)
// where str = u32 byte count + bytes and f64 is the IEEE-754 bit pattern (NaN payloads kept).
namespace {

constexpr std::uint8_t kEncodingVersion = 1;
constexpr std::uint8_t kTagBool = 0, kTagInt = 1, kTagReal = 2, kTagString = 3;

class Encoder {
 public:
  explicit Encoder(std::string& out) : out_(out) {}

  template <class T>
  void integer(T v) {
    static_assert(std::is_integral_v<T>);
    using U = std::make_unsigned_t<T>;
    U u = static_cast<U>(v);
    char bytes[sizeof(T)];
    for (std::size_t i = 0; i < sizeof(T); ++i) bytes[i] = static_cast<char>((u >> (8 * i)) & 0xffu);
    out_.append(bytes, sizeof(T));
  }
  void real(double v) {
    std::uint64_t bits;
    std::memcpy(&bits, &v, sizeof bits);
    integer(bits);
  }
  void count(std::size_t n) {
    if (n > std::numeric_limits<std::uint32_t>::max())
      throw StoreError("encode: a string, map or array has more than 2^32-1 elements");
    integer(static_cast<std::uint32_t>(n));
  }
  void text(std::string_view s) {
    count(s.size());
    out_.append(s.data(), s.size());
  }

 private:
  std::string& out_;
};

class Decoder {
 public:
  explicit Decoder(std::string_view in) : in_(in) {}

  template <class T>
  T integer(const char* what) {
    static_assert(std::is_integral_v<T>);
    need(sizeof(T), what);
    using U = std::make_unsigned_t<T>;
    U u = 0;
    for (std::size_t i = 0; i < sizeof(T); ++i)
      u |= static_cast<U>(static_cast<U>(static_cast<unsigned char>(in_[pos_ + i])) << (8 * i));
    pos_ += sizeof(T);
    return static_cast<T>(u);
  }
  double real(const char* what) {
    const auto bits = integer<std::uint64_t>(what);
    double v;
    std::memcpy(&v, &bits, sizeof v);
    return v;
  }
  std::uint32_t count(const char* what) { return integer<std::uint32_t>(what); }
  std::string text(const char* what) {
    const std::uint32_t n = count(what);
    need(n, what);
    std::string s(in_.substr(pos_, n));
    pos_ += n;
    return s;
  }
  /// Rejects element counts that cannot fit in what is left (each element takes >= min_bytes),
  /// so garbage never makes us reserve gigabytes.
  void plausible(std::uint64_t n, std::size_t min_bytes, const char* what) const {
    if (n > (in_.size() - pos_) / min_bytes) fail(std::string(what) + " count exceeds the input");
  }
  bool done() const { return pos_ == in_.size(); }
  std::size_t position() const { return pos_; }

  [[noreturn]] void fail(const std::string& why) const {
    throw StoreError("decode: not an encoded point record (" + why + " at byte " + std::to_string(pos_) +
                     " of " + std::to_string(in_.size()) + ")");
  }

 private:
  void need(std::size_t n, const char* what) const {
    if (n > in_.size() - pos_) fail(std::string("truncated ") + what);
  }

  std::string_view in_;
  std::size_t pos_ = 0;
};

}  // namespace

std::string encode(const PointRecord& r) {
  std::string out;
  out.reserve(128 + r.id.size() + r.error.size() + 32 * r.params.entries().size() + 24 * r.metrics.size());
  Encoder e(out);
  e.integer(kEncodingVersion);
  e.text(r.id);
  e.integer(r.index);
  e.integer(static_cast<std::uint8_t>(r.status));
  e.text(r.error);
  e.integer(r.rank);
  e.text(r.host);
  e.real(r.start_time);
  e.real(r.end_time);

  e.count(r.params.entries().size());
  for (const auto& [path, value] : r.params.entries()) {
    e.text(path);
    if (const auto* b = std::get_if<bool>(&value)) {
      e.integer(kTagBool);
      e.integer(static_cast<std::uint8_t>(*b ? 1 : 0));
    } else if (const auto* i = std::get_if<std::int64_t>(&value)) {
      e.integer(kTagInt);
      e.integer(*i);
    } else if (const auto* d = std::get_if<double>(&value)) {
      e.integer(kTagReal);
      e.real(*d);
    } else {
      e.integer(kTagString);
      e.text(std::get<std::string>(value));
    }
  }
  e.count(r.metrics.size());
  for (const auto& [name, v] : r.metrics) {
    e.text(name);
    e.real(v);
  }
  e.count(r.arrays.size());
  for (const auto& [name, values] : r.arrays) {
    e.text(name);
    e.count(values.size());
    for (double v : values) e.real(v);
  }
  return out;
}

PointRecord decode(std::string_view bytes) {
  Decoder d(bytes);
  const auto version = d.integer<std::uint8_t>("version");
  if (version != kEncodingVersion) d.fail("unknown encoding version " + std::to_string(version));
  PointRecord r;
  r.id = d.text("id");
  r.index = d.integer<std::uint64_t>("index");
  const auto status = d.integer<std::uint8_t>("status");
  if (status > 1) d.fail("bad status " + std::to_string(status));
  r.status = static_cast<PointStatus>(status);
  r.error = d.text("error");
  r.rank = d.integer<std::int32_t>("rank");
  r.host = d.text("host");
  r.start_time = d.real("start_time");
  r.end_time = d.real("end_time");

  const std::uint32_t n_params = d.count("parameter count");
  d.plausible(n_params, 4 + 1 + 1, "parameter");
  for (std::uint32_t k = 0; k < n_params; ++k) {
    std::string path = d.text("parameter path");
    const auto tag = d.integer<std::uint8_t>("parameter tag");
    switch (tag) {
      case kTagBool: {
        const auto b = d.integer<std::uint8_t>("bool");
        if (b > 1) d.fail("bad bool " + std::to_string(b));
        r.params.set(path, b == 1);
        break;
      }
      case kTagInt:
        r.params.set(path, d.integer<std::int64_t>("int"));
        break;
      case kTagReal:
        r.params.set(path, d.real("real"));
        break;
      case kTagString:
        r.params.set(path, d.text("string"));
        break;
      default:
        d.fail("bad value tag " + std::to_string(tag));
    }
  }
  const std::uint32_t n_metrics = d.count("metric count");
  d.plausible(n_metrics, 4 + 8, "metric");
  for (std::uint32_t k = 0; k < n_metrics; ++k) {
    std::string name = d.text("metric name");
    r.metrics[std::move(name)] = d.real("metric");
  }
  const std::uint32_t n_arrays = d.count("array count");
  d.plausible(n_arrays, 4 + 4, "array");
  for (std::uint32_t k = 0; k < n_arrays; ++k) {
    std::string name = d.text("array name");
    const std::uint32_t n = d.count("array length");
    d.plausible(n, 8, "array element");
    std::vector<double> values(n);
    for (auto& v : values) v = d.real("array element");
    r.arrays[std::move(name)] = std::move(values);
  }
  if (!d.done()) d.fail("trailing bytes");
  return r;
}

}  // namespace xbarsweep::store
