// IDX reading and writing: round trips, and every kind of bad file gives a DataError.
#include <ATen/ATen.h>
#include <gtest/gtest.h>
#include <unistd.h>
#include <zlib.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "xbarsweep/data/dataset.hpp"

namespace fs = std::filesystem;
using xbarsweep::data::DataError;
using xbarsweep::data::read_idx_images;
using xbarsweep::data::read_idx_labels;
using xbarsweep::data::write_idx_gz;

namespace {

class IdxTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("xbarsweep_idx_" + std::to_string(::getpid()) + "_" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string path(const std::string& name) const { return (dir_ / name).string(); }

  static void write_bytes(const std::string& p, const std::string& bytes, bool gzip) {
    if (gzip) {
      gzFile f = gzopen(p.c_str(), "wb");
      ASSERT_NE(f, nullptr);
      gzwrite(f, bytes.data(), static_cast<unsigned>(bytes.size()));
      gzclose(f);
    } else {
      std::ofstream(p, std::ios::binary).write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    }
  }
  static std::string header(unsigned char ndims, std::initializer_list<std::uint32_t> dims,
                            unsigned char type = 0x08) {
    std::string h = {0, 0, static_cast<char>(type), static_cast<char>(ndims)};
    for (auto d : dims) {
      h += static_cast<char>(d >> 24);
      h += static_cast<char>(d >> 16);
      h += static_cast<char>(d >> 8);
      h += static_cast<char>(d);
    }
    return h;
  }
  // The message of the DataError thrown by f, or "" when none is thrown.
  template <class F>
  static std::string error_of(F f) {
    try {
      f();
    } catch (const DataError& e) {
      return e.what();
    }
    return "";
  }

  fs::path dir_;
};

TEST_F(IdxTest, ImagesAndLabelsRoundTrip) {
  const auto images = at::arange(3 * 4 * 5, at::kInt).remainder(256).to(at::kByte).view({3, 4, 5});
  const auto labels = at::tensor({7, 0, 9}, at::kByte);
  write_idx_gz(path("img.gz"), images);
  write_idx_gz(path("lab.gz"), labels);
  const auto back = read_idx_images(path("img.gz"));
  EXPECT_EQ(back.sizes(), images.sizes());
  EXPECT_TRUE(back.equal(images));
  const auto lab = read_idx_labels(path("lab.gz"), 9);
  EXPECT_EQ(lab.scalar_type(), at::kLong);
  EXPECT_TRUE(lab.equal(labels.to(at::kLong)));
}

TEST_F(IdxTest, ReadsUncompressedFilesToo) {
  write_bytes(path("plain"), header(1, {3}) + std::string("\x01\x02\x03", 3), false);
  EXPECT_TRUE(read_idx_labels(path("plain")).equal(at::tensor({1, 2, 3}, at::kLong)));
}

TEST_F(IdxTest, MissingFileNamesThePath) {
  const auto msg = error_of([&] { read_idx_images(path("absent.gz")); });
  EXPECT_NE(msg.find("absent.gz"), std::string::npos) << msg;
  EXPECT_NE(msg.find("cannot open"), std::string::npos) << msg;
}

TEST_F(IdxTest, WrongMagicIsRejected) {
  write_bytes(path("labels_as_images.gz"), header(1, {3}) + "abc", true);
  auto msg = error_of([&] { read_idx_images(path("labels_as_images.gz")); });
  EXPECT_NE(msg.find("wrong magic number 0x00000801, expected 0x00000803"), std::string::npos) << msg;
  EXPECT_NE(msg.find("labels_as_images.gz"), std::string::npos) << msg;

  write_bytes(path("int_type.gz"), header(1, {1}, 0x0C) + "abcd", true);
  msg = error_of([&] { read_idx_labels(path("int_type.gz")); });
  EXPECT_NE(msg.find("wrong magic"), std::string::npos) << msg;

  write_bytes(path("text.gz"), "hello, world", true);
  EXPECT_NE(error_of([&] { read_idx_labels(path("text.gz")); }), "");
}

TEST_F(IdxTest, TruncatedDataIsRejected) {
  write_bytes(path("short.gz"), header(3, {10, 28, 28}) + std::string(3 * 28 * 28, '\x10'), true);
  auto msg = error_of([&] { read_idx_images(path("short.gz")); });
  EXPECT_NE(msg.find("truncated"), std::string::npos) << msg;
  EXPECT_NE(msg.find("7840 bytes"), std::string::npos) << msg;

  write_bytes(path("short_header.gz"), header(3, {10, 28, 28}).substr(0, 9), true);
  msg = error_of([&] { read_idx_images(path("short_header.gz")); });
  EXPECT_NE(msg.find("truncated: the dimensions"), std::string::npos) << msg;

  write_bytes(path("empty.gz"), "", false);
  EXPECT_NE(error_of([&] { read_idx_images(path("empty.gz")); }).find("truncated"), std::string::npos);
}

TEST_F(IdxTest, CutCompressedStreamIsRejected) {
  // A gzip file cut in half (a download or copy interrupted).
  const auto images = at::randint(256, {50, 28, 28}, at::kInt).to(at::kByte);
  write_idx_gz(path("full.gz"), images);
  std::ifstream in(path("full.gz"), std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  write_bytes(path("cut.gz"), bytes.substr(0, bytes.size() / 2), false);
  EXPECT_NE(error_of([&] { read_idx_images(path("cut.gz")); }), "");

  // Flipped bytes inside the deflate stream.
  for (std::size_t i = bytes.size() / 3; i < bytes.size() / 3 + 64; ++i)
    bytes[i] = static_cast<char>(~bytes[i]);
  write_bytes(path("flipped.gz"), bytes, false);
  EXPECT_NE(error_of([&] { read_idx_images(path("flipped.gz")); }), "");
}

TEST_F(IdxTest, BadDimensionsAndTrailingDataAreRejected) {
  write_bytes(path("zero.gz"), header(3, {0, 28, 28}), true);
  EXPECT_NE(error_of([&] { read_idx_images(path("zero.gz")); }).find("dimension 0 is 0"), std::string::npos);

  write_bytes(path("huge.gz"), header(3, {0xFFFFFFFFu, 28, 28}), true);
  EXPECT_NE(error_of([&] { read_idx_images(path("huge.gz")); }).find("dimension 0"), std::string::npos);

  write_bytes(path("long.gz"), header(1, {2}) + "\x01\x02\x03", true);
  EXPECT_NE(error_of([&] { read_idx_labels(path("long.gz")); }).find("longer than its header"),
            std::string::npos);
}

TEST_F(IdxTest, LabelOutOfRangeIsRejected) {
  write_bytes(path("lab.gz"), header(1, {3}) + std::string("\x01\x0A\x02", 3), true);
  const auto msg = error_of([&] { read_idx_labels(path("lab.gz"), 9); });
  EXPECT_NE(msg.find("label 10 out of range, expected 0..9"), std::string::npos) << msg;
}

}  // namespace
