// The .npz reader (stored and deflated members, refusals naming the file and the key) and the
// `tensors` data set built on it: checks from headers and labels, shapes, normalisation, classes.
#include <ATen/ATen.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>

#include "data/npz_writer.hpp"
#include "xbarsweep/data/array_file.hpp"
#include "xbarsweep/data/dataset.hpp"
#include "xbarsweep/error.hpp"

namespace fs = std::filesystem;
using namespace xbarsweep::data;
using xbarsweep::test::npy;
using xbarsweep::test::write_zip;

namespace {

class Npz : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = (fs::temp_directory_path() / ("xbarsweep_npz_" + std::to_string(::getpid()) + "_" +
                                         ::testing::UnitTest::GetInstance()->current_test_info()->name()))
               .string();
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  // \p n images C x H x W, image i filled with i (uint8), labels i % classes (int64).
  std::string write_set(const std::string& name, std::int64_t n, std::int64_t c, std::int64_t h,
                        std::int64_t w, std::int64_t classes = 4, bool deflated = false) {
    std::vector<std::uint8_t> pixels;
    for (std::int64_t i = 0; i < n; ++i)
      pixels.insert(pixels.end(), static_cast<std::size_t>(c * h * w), static_cast<std::uint8_t>(i));
    std::vector<std::int64_t> labels;
    for (std::int64_t i = 0; i < n; ++i) labels.push_back(i % classes);
    const std::string path = dir_ + "/" + name;
    write_zip(path,
              {{"images.npy", npy("|u1", {n, c, h, w}, pixels)}, {"labels.npy", npy("<i8", {n}, labels)}},
              deflated);
    return path;
  }

  // The message of the DataError \p f throws (empty, and a test failure, when it throws none).
  template <class F>
  static std::string error_of(F&& f) {
    try {
      f();
    } catch (const DataError& e) {
      return e.what();
    }
    ADD_FAILURE() << "no DataError";
    return "";
  }

  std::string dir_;
};

TEST_F(Npz, ReadsStoredAndDeflatedMembers) {
  const std::vector<float> values = {0.5f, -1.0f, 2.25f, 3.0f, 4.0f, 5.5f};
  for (const bool deflated : {false, true}) {
    const std::string path = dir_ + (deflated ? "/c.npz" : "/s.npz");
    write_zip(
        path,
        {{"x.npy", npy("<f4", {2, 3}, values)}, {"y.npy", npy("<i4", {2}, std::vector<std::int32_t>{7, -8})}},
        deflated);
    const auto format = array_format(path);
    EXPECT_EQ(format.keys(path), (std::vector<std::string>{"x", "y"}));
    const auto h = format.header(path, "x");
    ASSERT_TRUE(h);
    EXPECT_EQ(h->dtype, "float32");
    EXPECT_EQ(h->shape, (std::vector<std::int64_t>{2, 3}));
    EXPECT_FALSE(format.header(path, "z"));
    const auto x = format.read(path, "x");
    ASSERT_EQ(x.bytes.size(), values.size() * sizeof(float));
    EXPECT_EQ(std::memcmp(x.bytes.data(), values.data(), x.bytes.size()), 0)
        << (deflated ? "deflated" : "stored");
    const auto y = format.read(path, "y");
    EXPECT_EQ(y.header.dtype, "int32");
    EXPECT_EQ(reinterpret_cast<const std::int32_t*>(y.bytes.data())[1], -8);
  }
}

TEST_F(Npz, RefusesWhatItCannotReadNamingFileAndKey) {
  const std::vector<std::int32_t> v = {1, 2, 3};
  const std::string path = dir_ + "/bad.npz";
  write_zip(path,
            {{"fortran.npy", npy("<i4", {3}, v.data(), 12, /*fortran=*/true)},
             {"big.npy", npy(">i4", {3}, v)},
             {"record.npy", npy("[('a', '<i4')]", {3}, v)},
             {"short.npy", npy("<i4", {4}, v)}},
            false);
  const auto format = array_format(path);
  const auto fortran = error_of([&] { format.header(path, "fortran"); });
  EXPECT_NE(fortran.find(path), std::string::npos) << fortran;
  EXPECT_NE(fortran.find("'fortran'"), std::string::npos) << fortran;
  EXPECT_NE(fortran.find("Fortran order"), std::string::npos) << fortran;
  EXPECT_NE(error_of([&] { format.header(path, "big"); }).find("big-endian"), std::string::npos);
  EXPECT_NE(error_of([&] { format.header(path, "record"); }).find("structured"), std::string::npos);
  EXPECT_NE(error_of([&] { format.header(path, "short"); }).find("truncated"), std::string::npos);

  const std::string text = dir_ + "/text.npz";
  std::ofstream(text) << "not a zip archive at all, just text\n";
  EXPECT_NE(error_of([&] { format.keys(text); }).find("not a zip archive"), std::string::npos);

  // Cut in half: the central directory is gone.
  const std::string good = write_set("good.npz", 10, 1, 4, 4);
  const auto size = fs::file_size(good);
  fs::resize_file(good, size / 2);
  const auto cut = error_of([&] { format.header(good, "images"); });
  EXPECT_NE(cut.find(good), std::string::npos) << cut;

  // One damaged data byte of a stored member fails its CRC-32.
  const std::string damaged = write_set("damaged.npz", 10, 1, 4, 4);
  {
    std::fstream f(damaged, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(200);
    f.put('\x7f');
  }
  EXPECT_NE(error_of([&] { format.read(damaged, "images"); }).find("CRC-32"), std::string::npos);

  EXPECT_NE(error_of([&] { array_format(dir_ + "/x.csv"); }).find(".npz"), std::string::npos);
}

TEST_F(Npz, TensorsLoadWithShapesClassesAndNormalisation) {
  LoadOptions o;
  o.name = "tensors";
  o.train_path = write_set("train.npz", 12, 3, 5, 6, 4, /*deflated=*/true);
  o.test_path = write_set("test.npz", 6, 3, 5, 6, 3);
  const auto shape = input_shape(o);
  EXPECT_EQ(shape.channels, 3);
  EXPECT_EQ(shape.height, 5);
  EXPECT_EQ(shape.width, 6);
  EXPECT_EQ(shape.num_classes, 4) << "largest label of both files + 1";

  o.normalize = false;
  auto ds = load_dataset(o);
  EXPECT_EQ(ds.train.images.sizes(), (at::IntArrayRef{12, 3, 5, 6}));
  EXPECT_EQ(ds.test.images.sizes(), (at::IntArrayRef{6, 3, 5, 6}));
  EXPECT_EQ(ds.num_classes, 4);
  EXPECT_NEAR(ds.train.images[7][2][4][5].item<double>(), 7.0 / 255.0, 1e-7) << "uint8 scaled to [0, 1]";
  EXPECT_EQ(ds.train.labels[7].item<std::int64_t>(), 3);

  // Computed statistics: each channel of the training file has mean 5.5/255 and std of 0..11 / 255.
  o.normalize = true;
  ds = load_dataset(o);
  const auto values = at::arange(12, at::kDouble).div(255.0);
  const double mean = values.mean().item<double>(), sd = values.std(/*unbiased=*/false).item<double>();
  EXPECT_NEAR(ds.train.images[0][1][0][0].item<double>(), (0.0 - mean) / sd, 1e-5);
  EXPECT_NEAR(ds.train.images.mean().item<double>(), 0.0, 1e-5);

  o.mean = "0.1, 0.2,0.3";
  o.stddev = "0.5";
  ds = load_dataset(o);
  EXPECT_NEAR(ds.train.images[2][2][0][0].item<double>(), (2.0 / 255.0 - 0.3) / 0.5, 1e-6);

  o.mean = o.stddev = "";
  o.classes = 9;
  o.pad_to_32 = true;
  o.train_subset = 5;
  EXPECT_EQ(input_shape(o).num_classes, 9);
  EXPECT_EQ(input_shape(o).height, 32);
  ds = load_dataset(o);
  EXPECT_EQ(ds.num_classes, 9);
  EXPECT_EQ(ds.train.images.sizes(), (at::IntArrayRef{5, 3, 32, 32}));
  EXPECT_EQ(training_items(o), 5);
}

TEST_F(Npz, FloatImagesAreTakenAsStoredAndHxWGainsAChannel) {
  const std::vector<float> pixels = {10.f, 20.f, 30.f, 40.f, 50.f, 60.f, 70.f, 80.f};
  LoadOptions o;
  o.name = "tensors";
  o.normalize = false;
  o.images_key = "x";
  o.labels_key = "y";
  o.train_path = o.test_path = dir_ + "/f.npz";
  write_zip(
      o.train_path,
      {{"x.npy", npy("<f4", {2, 2, 2}, pixels)}, {"y.npy", npy("|u1", {2}, std::vector<std::uint8_t>{0, 1})}},
      true);
  const auto ds = load_dataset(o);
  EXPECT_EQ(ds.train.images.sizes(), (at::IntArrayRef{2, 1, 2, 2}));
  EXPECT_EQ(ds.train.images[1][0][1][1].item<float>(), 80.f);
  EXPECT_EQ(ds.num_classes, 2);
}

TEST_F(Npz, ProblemsNameTheFileTheKeyAndTheOption) {
  LoadOptions o;
  o.name = "tensors";
  o.train_path = write_set("train.npz", 8, 1, 4, 4);
  o.test_path = write_set("test.npz", 4, 1, 4, 4);
  EXPECT_FALSE(check_load_options(o));

  const auto problem = [&](LoadOptions q) {
    const auto p = check_load_options(q);
    EXPECT_TRUE(p);
    return p ? *p : LoadProblem{LoadField::Pad, ""};
  };
  auto q = o;
  q.images_key = "pixels";
  auto p = problem(q);
  EXPECT_EQ(p.field, LoadField::TrainPath);
  EXPECT_NE(p.message.find(o.train_path + ": no array 'pixels'"), std::string::npos) << p.message;
  EXPECT_NE(p.message.find("'images', 'labels'"), std::string::npos) << p.message;

  q = o;
  q.test_path = dir_ + "/missing.npz";
  p = problem(q);
  EXPECT_EQ(p.field, LoadField::TestPath);
  EXPECT_NE(p.message.find("no such file"), std::string::npos) << p.message;

  q = o;
  q.test_path = write_set("wide.npz", 4, 1, 4, 5);
  p = problem(q);
  EXPECT_EQ(p.field, LoadField::TestPath);
  EXPECT_NE(p.message.find("1x4x5"), std::string::npos) << p.message;

  q = o;
  q.classes = 3;
  p = problem(q);
  EXPECT_EQ(p.field, LoadField::Classes);
  EXPECT_NE(p.message.find("label 3"), std::string::npos) << p.message;

  q = o;
  q.mean = "0.1,0.2";
  EXPECT_EQ(problem(q).field, LoadField::Mean);
  q = o;
  q.stddev = "0";
  EXPECT_EQ(problem(q).field, LoadField::Std);
  EXPECT_NE(channel_values_problem("0.1,,0.2"), "");
  EXPECT_EQ(channel_values_problem("0.1, 0.2"), "");

  q = o;
  q.train_path = dir_ + "/neg.npz";
  write_zip(q.train_path,
            {{"images.npy", npy("|u1", {2, 1, 1}, std::vector<std::uint8_t>{1, 2})},
             {"labels.npy", npy("<i4", {2}, std::vector<std::int32_t>{0, -1})}},
            false);
  p = problem(q);
  EXPECT_EQ(p.field, LoadField::TrainPath);
  EXPECT_NE(p.message.find("'labels' holds the label -1"), std::string::npos) << p.message;
  EXPECT_THROW(load_dataset(q), DataError);
  EXPECT_THROW(input_shape(q), DataError);

  write_zip(q.train_path,
            {{"images.npy", npy("|u1", {2, 1, 1}, std::vector<std::uint8_t>{1, 2})},
             {"labels.npy", npy("<f8", {2}, std::vector<double>{0, 1})}},
            false);
  EXPECT_NE(problem(q).message.find("has dtype float64; expected an integer type"), std::string::npos);
  write_zip(q.train_path,
            {{"images.npy", npy("|u1", {2, 1, 1}, std::vector<std::uint8_t>{1, 2})},
             {"labels.npy", npy("<i8", {3}, std::vector<std::int64_t>{0, 1, 1})}},
            false);
  EXPECT_NE(problem(q).message.find("2 images ('images') but 3 labels"), std::string::npos);
  write_zip(q.train_path,
            {{"images.npy", npy("|u1", {2, 2}, std::vector<std::uint8_t>{1, 2, 3, 4})},
             {"labels.npy", npy("<i8", {2}, std::vector<std::int64_t>{0, 1})}},
            false);
  EXPECT_NE(problem(q).message.find("expected images N x C x H x W or N x H x W"), std::string::npos);
}

}  // namespace
