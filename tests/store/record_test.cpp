// Binary encoding of point records: exact round trip, and garbage is rejected, never misread.

#include "xbarsweep/store/record.hpp"

#include <gtest/gtest.h>

#include <random>

#include "store_test_support.hpp"
#include "xbarsweep/error.hpp"

namespace xbarsweep::store {
namespace {

using test_support::same_record;
using test_support::sample_record;

PointRecord every_kind_of_value() {
  PointRecord r;
  r.id = "0123456789abcdef";
  r.index = std::numeric_limits<std::uint64_t>::max();
  r.status = PointStatus::Failed;
  r.error = std::string("diverged: loss = nan\n\0with a NUL", 32);
  r.rank = -3;
  r.host = "héllo-node";
  r.start_time = -0.0;
  r.end_time = std::numeric_limits<double>::infinity();
  r.params.set("flag", true);
  r.params.set("off", false);
  r.params.set("int.min", std::numeric_limits<std::int64_t>::min());
  r.params.set("int.max", std::numeric_limits<std::int64_t>::max());
  r.params.set("real.tiny", std::numeric_limits<double>::denorm_min());
  r.params.set("real.nan", std::numeric_limits<double>::quiet_NaN());
  r.params.set("text", std::string("a b\tc"));
  r.params.set("empty", std::string());
  r.metrics["nan"] = std::numeric_limits<double>::quiet_NaN();
  r.metrics["neg_inf"] = -std::numeric_limits<double>::infinity();
  r.arrays["curve"] = {1.0, std::numeric_limits<double>::quiet_NaN(), -2.5};
  r.arrays["empty"] = {};
  return r;
}

TEST(RecordEncoding, RoundTripsEveryValueTypeExactly) {
  for (const PointRecord& r : {PointRecord{}, every_kind_of_value(), sample_record(42)}) {
    const std::string bytes = encode(r);
    EXPECT_TRUE(same_record(decode(bytes), r));
    EXPECT_EQ(encode(decode(bytes)), bytes);
  }
}

TEST(RecordEncoding, StatusNames) {
  EXPECT_EQ(status_name(PointStatus::Done), "done");
  EXPECT_EQ(status_name(PointStatus::Failed), "failed");
}

TEST(RecordEncoding, RejectsEveryTruncationAndTrailingBytes) {
  const std::string bytes = encode(every_kind_of_value());
  for (std::size_t n = 0; n < bytes.size(); ++n)
    EXPECT_THROW(decode(std::string_view(bytes).substr(0, n)), StoreError) << "prefix of " << n;
  EXPECT_THROW(decode(bytes + "x"), StoreError);
}

TEST(RecordEncoding, GarbageThrowsOrDecodesButNeverCrashes) {
  std::mt19937_64 rng(12345);
  const std::string valid = encode(every_kind_of_value());
  std::size_t rejected = 0;
  for (int trial = 0; trial < 20000; ++trial) {
    std::string bytes;
    if (trial % 2 == 0) {
      bytes.resize(rng() % 200);
      for (auto& c : bytes) c = static_cast<char>(rng());
      if (!bytes.empty()) bytes[0] = 1;  // get past the version byte
    } else {
      bytes = valid;
      for (int flips = 1 + static_cast<int>(rng() % 4); flips > 0; --flips)
        bytes[rng() % bytes.size()] = static_cast<char>(rng());
    }
    try {
      const PointRecord r = decode(bytes);
      EXPECT_EQ(encode(r).size(), bytes.size());  // what decodes re-encodes to the same length
    } catch (const StoreError&) {
      ++rejected;
    }
  }
  EXPECT_GT(rejected, 10000u);
}

TEST(RecordEncoding, HugeCountsAreRejectedWithoutAllocating) {
  PointRecord r;
  r.id = "x";
  std::string bytes = encode(r);
  // The last 4 bytes are the array count: claim 2^32-1 arrays.
  for (std::size_t k = bytes.size() - 4; k < bytes.size(); ++k) bytes[k] = '\xff';
  EXPECT_THROW(decode(bytes), StoreError);
}

}  // namespace
}  // namespace xbarsweep::store
