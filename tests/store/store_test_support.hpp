#pragma once
// Helpers shared by the store tests: scratch directories, sample records, exact comparison.

#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <limits>
#include <string>

#include "xbarsweep/store/record.hpp"

namespace xbarsweep::store::test_support {

/// A fresh directory under /tmp, removed when the object goes.
class ScratchDir {
 public:
  ScratchDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "xbarsweep-store-XXXXXX").string();
    if (!::mkdtemp(pattern.data())) throw std::runtime_error("mkdtemp failed");
    path_ = pattern;
  }
  ~ScratchDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  std::string file(const std::string& name) const { return (path_ / name).string(); }

 private:
  std::filesystem::path path_;
};

/// Bitwise equality of doubles (NaN == NaN with the same payload).
inline bool same_double(double a, double b) { return std::memcmp(&a, &b, sizeof a) == 0; }

inline ::testing::AssertionResult same_record(const PointRecord& a, const PointRecord& b) {
  auto fail = [&](const std::string& what) {
    return ::testing::AssertionFailure()
           << "records '" << a.id << "' and '" << b.id << "' differ in " << what;
  };
  if (a.id != b.id) return fail("id");
  if (a.index != b.index) return fail("index");
  if (a.status != b.status) return fail("status");
  if (a.error != b.error) return fail("error");
  if (a.rank != b.rank) return fail("rank");
  if (a.host != b.host) return fail("host");
  if (!same_double(a.start_time, b.start_time)) return fail("start_time");
  if (!same_double(a.end_time, b.end_time)) return fail("end_time");
  const auto& pa = a.params.entries();
  const auto& pb = b.params.entries();
  if (pa.size() != pb.size()) return fail("number of params");
  for (auto ia = pa.begin(), ib = pb.begin(); ia != pa.end(); ++ia, ++ib) {
    if (ia->first != ib->first) return fail("param paths (" + ia->first + " vs " + ib->first + ")");
    if (ia->second.index() != ib->second.index()) return fail("type of param " + ia->first);
    if (const auto* d = std::get_if<double>(&ia->second)) {
      if (!same_double(*d, std::get<double>(ib->second))) return fail("param " + ia->first);
    } else if (ia->second != ib->second) {
      return fail("param " + ia->first);
    }
  }
  if (a.metrics.size() != b.metrics.size()) return fail("number of metrics");
  for (auto ia = a.metrics.begin(), ib = b.metrics.begin(); ia != a.metrics.end(); ++ia, ++ib)
    if (ia->first != ib->first || !same_double(ia->second, ib->second)) return fail("metric " + ia->first);
  if (a.arrays.size() != b.arrays.size()) return fail("number of arrays");
  for (auto ia = a.arrays.begin(), ib = b.arrays.begin(); ia != a.arrays.end(); ++ia, ++ib) {
    if (ia->first != ib->first || ia->second.size() != ib->second.size()) return fail("array " + ia->first);
    for (std::size_t k = 0; k < ia->second.size(); ++k)
      if (!same_double(ia->second[k], ib->second[k])) return fail("array " + ia->first);
  }
  return ::testing::AssertionSuccess();
}

/// A small record like the sweep engine writes: 10 params, 5 metrics, one curve.
inline PointRecord sample_record(std::uint64_t i, const std::string& prefix = "p") {
  PointRecord r;
  r.id = prefix + std::to_string(i);
  r.index = i;
  r.rank = static_cast<std::int32_t>(i % 4);
  r.host = "node" + std::to_string(i % 3);
  r.start_time = 1.7e9 + static_cast<double>(i);
  r.end_time = r.start_time + 0.25;
  r.params.set("train.lr", 1e-3 * static_cast<double>(i % 7 + 1));
  r.params.set("train.epochs", std::int64_t(i % 5 + 1));
  r.params.set("train.batch", std::int64_t(64));
  r.params.set("model.name", std::string(i % 2 ? "vgg" : "resnet"));
  r.params.set("model.width", std::int64_t(16 << (i % 3)));
  r.params.set("crossbar.size", std::int64_t(128));
  r.params.set("crossbar.ideal", i % 2 == 0);
  r.params.set("crossbar.noise", 0.01 * static_cast<double>(i % 4));
  r.params.set("compress.rho", 0.5);
  r.params.set("seed", std::int64_t(i));
  r.metrics["accuracy"] = 0.9 - 1e-6 * static_cast<double>(i);
  r.metrics["loss"] = 0.3;
  r.metrics["energy_nj"] = 12.5;
  r.metrics["latency_us"] = 3.25;
  r.metrics["area_mm2"] = 0.125;
  r.arrays["loss_per_epoch"] = {0.9, 0.5, 0.3};
  return r;
}

}  // namespace xbarsweep::store::test_support
