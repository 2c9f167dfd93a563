// Fashion-MNIST loading (a fake directory, and the real files when installed) and the synthetic set.
#include <ATen/ATen.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "xbarsweep/data/dataset.hpp"
#include "xbarsweep/error.hpp"

namespace fs = std::filesystem;
using namespace xbarsweep::data;

namespace {

class FakeFashionMnist : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = (fs::temp_directory_path() / ("xbarsweep_fmnist_" + std::to_string(::getpid()) + "_" +
                                         ::testing::UnitTest::GetInstance()->current_test_info()->name()))
               .string();
    fs::create_directories(dir_);
    write("train", 40);
    write("t10k", 20);
  }
  void TearDown() override { fs::remove_all(dir_); }
  void write(const std::string& split, std::int64_t n, std::int64_t side = 28) {
    // Image i is filled with the value i, its label is i % 10.
    const auto values = at::arange(n, at::kInt).view({n, 1, 1}).expand({n, side, side}).contiguous();
    write_idx_gz(dir_ + "/" + split + "-images-idx3-ubyte.gz", values.to(at::kByte));
    write_idx_gz(dir_ + "/" + split + "-labels-idx1-ubyte.gz",
                 at::arange(n, at::kInt).remainder(10).to(at::kByte));
  }
  std::string dir_;
};

TEST_F(FakeFashionMnist, LoadsShapesAndNormalises) {
  LoadOptions o;
  o.dir = dir_;
  const auto ds = load_dataset(o);
  EXPECT_EQ(ds.train.images.sizes(), (at::IntArrayRef{40, 1, 28, 28}));
  EXPECT_EQ(ds.test.images.sizes(), (at::IntArrayRef{20, 1, 28, 28}));
  EXPECT_EQ(ds.train.images.scalar_type(), at::kFloat);
  EXPECT_EQ(ds.train.labels.scalar_type(), at::kLong);
  const double expected = (5.0 / 255.0 - kFashionMnistMean) / kFashionMnistStd;
  EXPECT_NEAR(ds.train.images[5][0][3][3].item<double>(), expected, 1e-6);
  EXPECT_EQ(ds.train.labels[13].item<std::int64_t>(), 3);

  o.normalize = false;
  EXPECT_NEAR(load_dataset(o).train.images[5][0][0][0].item<double>(), 5.0 / 255.0, 1e-7);
}

TEST_F(FakeFashionMnist, SubsetsFirstAndRandom) {
  LoadOptions o;
  o.dir = dir_;
  o.normalize = false;
  o.train_subset = 7;
  o.test_subset = 3;
  auto ds = load_dataset(o);
  EXPECT_EQ(ds.train.size(), 7);
  EXPECT_EQ(ds.test.size(), 3);
  EXPECT_TRUE(ds.train.labels.equal(at::arange(7, at::kLong)));

  o.subset_mode = SubsetMode::Random;
  o.subset_seed = 11;
  const auto a = load_dataset(o), b = load_dataset(o);
  EXPECT_TRUE(a.train.labels.equal(b.train.labels)) << "same seed, same subset";
  // Kept in file order: the pixel value (= item index) increases.
  const auto idx = a.train.images.select(3, 0).select(2, 0).select(1, 0).mul(255.0).round();
  EXPECT_TRUE(idx.slice(0, 1).gt(idx.slice(0, 0, -1)).all().item<bool>());
  o.subset_seed = 12;
  EXPECT_FALSE(load_dataset(o).train.images.equal(a.train.images)) << "another seed, another subset";
}

TEST_F(FakeFashionMnist, PadsAndGivesSequences) {
  LoadOptions o;
  o.dir = dir_;
  o.normalize = false;
  o.pad_to_32 = true;
  auto ds = load_dataset(o);
  EXPECT_EQ(ds.train.images.sizes(), (at::IntArrayRef{40, 1, 32, 32}));
  EXPECT_EQ(ds.train.images[5][0][0][0].item<double>(), 0.0);  // padding is background
  EXPECT_NEAR(ds.train.images[5][0][2][2].item<double>(), 5.0 / 255.0, 1e-7);
  o.pad_to_32 = false;
  o.sequence = true;
  EXPECT_EQ(load_dataset(o).train.images.sizes(), (at::IntArrayRef{40, 28, 28}));
}

TEST_F(FakeFashionMnist, InconsistentFilesAreDataErrors) {
  write("t10k", 20, 27);
  LoadOptions o;
  o.dir = dir_;
  EXPECT_THROW(load_dataset(o), DataError);
  write("t10k", 20);
  write_idx_gz(dir_ + "/t10k-labels-idx1-ubyte.gz", at::zeros({19}, at::kByte));
  try {
    load_dataset(o);
    FAIL() << "expected a DataError";
  } catch (const DataError& e) {
    EXPECT_NE(std::string(e.what()).find("holds 20 images but"), std::string::npos) << e.what();
  }
  o.dir = dir_ + "/nowhere";
  try {
    load_dataset(o);
    FAIL() << "expected a DataError";
  } catch (const DataError& e) {
    EXPECT_NE(std::string(e.what()).find("nowhere/train-images-idx3-ubyte.gz"), std::string::npos)
        << e.what();
  }
  o.name = "cifar10";
  EXPECT_THROW(load_dataset(o), DataError);
}

// CIFAR-10's binary version, in its real format: records of 1 label byte + 3072 pixel bytes
// (R, G, B planes), five training batches and a test batch; here 4 and 3 records each.
class FakeCifar10 : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = (fs::temp_directory_path() / ("xbarsweep_cifar_" + std::to_string(::getpid()) + "_" +
                                         ::testing::UnitTest::GetInstance()->current_test_info()->name()))
               .string();
    fs::create_directories(dir_);
    for (int b = 1; b <= 5; ++b) write("data_batch_" + std::to_string(b) + ".bin", 4, b);
    write("test_batch.bin", 3, 9);
  }
  void TearDown() override { fs::remove_all(dir_); }
  // Record r: label (first + r) % 10; channel c of its image is filled with 10 * c + r.
  void write(const std::string& name, int records, int first, int label_override = -1) {
    std::ofstream out(dir_ + "/" + name, std::ios::binary);
    for (int r = 0; r < records; ++r) {
      out.put(static_cast<char>(label_override >= 0 ? label_override : (first + r) % 10));
      for (int c = 0; c < 3; ++c)
        for (int i = 0; i < 1024; ++i) out.put(static_cast<char>(10 * c + r));
    }
  }
  std::string dir_;
};

TEST_F(FakeCifar10, ReadsTheBinaryFormat) {
  const auto train = read_cifar10(dir_, "train");
  ASSERT_EQ(train.images.sizes(), (at::IntArrayRef{20, 3, 32, 32}));
  EXPECT_EQ(train.images.scalar_type(), at::kByte);
  EXPECT_EQ(train.labels[0].item<std::int64_t>(), 1);     // batch 1, record 0
  EXPECT_EQ(train.labels[19].item<std::int64_t>(), 8);    // batch 5, record 3
  EXPECT_EQ(train.images[5][2][31][31].item<int>(), 21);  // batch 2, record 1, blue
  const auto test = read_cifar10(dir_, "test");
  ASSERT_EQ(test.size(), 3);
  EXPECT_EQ(test.labels[2].item<std::int64_t>(), 1);
}

TEST_F(FakeCifar10, LoadsNormalisedPerChannelWithSubsets) {
  LoadOptions o;
  o.name = "cifar10";
  o.dir = dir_;
  o.train_subset = 6;
  const auto ds = load_dataset(o);
  ASSERT_EQ(ds.train.images.sizes(), (at::IntArrayRef{6, 3, 32, 32}));
  ASSERT_EQ(ds.test.images.sizes(), (at::IntArrayRef{3, 3, 32, 32}));
  for (int c = 0; c < 3; ++c) {
    const double want = ((10.0 * c + 1) / 255.0 - kCifar10Mean[c]) / kCifar10Std[c];  // image 1 is record 1
    EXPECT_NEAR(ds.train.images[1][c][7][7].item<double>(), want, 1e-6) << "channel " << c;
  }
  EXPECT_EQ(dataset_files(o).size(), 6u);
  o.sequence = true;
  EXPECT_THROW(load_dataset(o), xbarsweep::DataError);
}

TEST_F(FakeCifar10, BadFilesAreRefusedNamingTheFile) {
  const auto message = [&] {
    try {
      read_cifar10(dir_, "train");
    } catch (const xbarsweep::DataError& e) {
      return std::string(e.what());
    }
    return std::string("(no error)");
  };
  write("data_batch_3.bin", 2, 0, 10);  // CIFAR-100-like labels
  EXPECT_NE(message().find("data_batch_3.bin: label 10"), std::string::npos) << message();
  write("data_batch_3.bin", 2, 0);
  {
    std::ofstream(dir_ + "/data_batch_3.bin", std::ios::binary | std::ios::app).put('x');
  }  // one byte too many
  EXPECT_NE(message().find("data_batch_3.bin: 6147 bytes, not a whole number"), std::string::npos)
      << message();
  fs::remove(dir_ + "/data_batch_3.bin");
  EXPECT_NE(message().find("data_batch_3.bin: cannot open"), std::string::npos) << message();
}

TEST(Synthetic, SeededAndShaped) {
  const auto a = make_synthetic(200, 1), b = make_synthetic(200, 1), c = make_synthetic(200, 2);
  EXPECT_EQ(a.images.sizes(), (at::IntArrayRef{200, 28, 28}));
  EXPECT_TRUE(a.images.equal(b.images));
  EXPECT_TRUE(a.labels.equal(b.labels));
  EXPECT_FALSE(a.images.equal(c.images));
  EXPECT_GE(a.images.min().item<double>(), 0.0);
  EXPECT_LE(a.images.max().item<double>(), 255.0);
  EXPECT_EQ(at::bincount(a.labels).size(0), 10) << "every class drawn";

  LoadOptions o;
  o.name = "synthetic";
  o.train_subset = 300;
  const auto ds = load_dataset(o);
  EXPECT_EQ(ds.train.images.sizes(), (at::IntArrayRef{300, 1, 28, 28}));
  EXPECT_EQ(ds.test.size(), 1000);
  EXPECT_FALSE(ds.train.images.slice(0, 0, 100).equal(ds.test.images.slice(0, 0, 100)));
}

TEST(Synthetic, ClassesAreSeparableByNearestMean) {
  // The class patterns must be far apart relative to the noise: nearest class mean of the training
  // images classifies the test images almost perfectly.
  const auto train = make_synthetic(2000, 1), test = make_synthetic(500, 2);
  std::vector<at::Tensor> means;
  for (int c = 0; c < 10; ++c) means.push_back(train.images.index({train.labels == c}).mean(0).flatten());
  const auto d = at::cdist(test.images.flatten(1), at::stack(means));
  const double acc = d.argmin(1).eq(test.labels).to(at::kDouble).mean().item<double>();
  EXPECT_GT(acc, 0.95);
}

TEST(FashionMnist, RealFilesLoadWhenInstalled) {
  const std::string dir = kDefaultFashionMnistDir;
  if (!fs::exists(dir + "/train-images-idx3-ubyte.gz")) GTEST_SKIP() << "dataset-fashion-mnist not installed";
  const auto train = read_fashion_mnist(dir, "train");
  const auto test = read_fashion_mnist(dir, "t10k");
  EXPECT_EQ(train.images.sizes(), (at::IntArrayRef{60000, 28, 28}));
  EXPECT_EQ(test.images.sizes(), (at::IntArrayRef{10000, 28, 28}));
  EXPECT_EQ(train.labels.size(0), 60000);
  EXPECT_EQ(test.labels.size(0), 10000);
  EXPECT_EQ(at::bincount(train.labels).eq(6000).all().item<bool>(), true) << "6000 per class";
  const double mean = train.images.to(at::kDouble).mean().item<double>() / 255.0;
  EXPECT_NEAR(mean, kFashionMnistMean, 5e-4);
}

}  // namespace
