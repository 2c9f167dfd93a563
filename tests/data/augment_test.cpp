// Random crops and flips of training batches: each does what it says on a small known batch, the
// same seed gives the same batch, other seeds others, and only the training split is augmented.
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <set>

#include "xbarsweep/data/dataset.hpp"
#include "xbarsweep/error.hpp"

using namespace xbarsweep::data;

namespace {

// 64 copies of one 2-channel 3 x 4 image with distinct pixel values 1 .. 24.
at::Tensor batch() {
  return at::arange(1, 25, at::kFloat).view({1, 2, 3, 4}).expand({64, 2, 3, 4}).contiguous();
}

TEST(Augment, InactiveReturnsTheBatchItself) {
  const auto x = batch();
  EXPECT_TRUE(augment(x, Augmentation{}, 1).is_same(x));
}

TEST(Augment, CropsAreWindowsOfThePaddedImageAtEveryOffset) {
  const auto x = batch();
  Augmentation a;
  a.crop_padding = 1;
  a.fill = {-1.0, -2.0};
  const auto out = augment(x, a, 7);
  ASSERT_EQ(out.sizes(), x.sizes());
  // The image padded by one pixel of each channel's fill value.
  const auto fill = at::tensor(std::vector<float>{-1.f, -2.f}).view({1, 2, 1, 1});
  const auto padded = at::constant_pad_nd(x[0].unsqueeze(0) - fill, {1, 1, 1, 1}, 0.0) + fill;
  std::set<std::pair<int, int>> offsets;
  for (std::int64_t k = 0; k < out.size(0); ++k) {
    bool found = false;
    for (int dy = 0; dy <= 2 && !found; ++dy)
      for (int dx = 0; dx <= 2 && !found; ++dx)
        if (out[k].equal(padded[0].narrow(1, dy, 3).narrow(2, dx, 4))) {
          found = true;
          offsets.insert({dy, dx});
        }
    EXPECT_TRUE(found) << "sample " << k << " is no 3 x 4 window of the padded image:\n" << out[k];
  }
  EXPECT_EQ(offsets.size(), 9u) << "64 draws reach every one of the 3 x 3 offsets";
}

TEST(Augment, FlipsMirrorAboutHalfTheSamples) {
  const auto x = batch();
  Augmentation a;
  a.hflip = true;
  const auto out = augment(x, a, 3);
  std::int64_t flipped = 0;
  for (std::int64_t k = 0; k < out.size(0); ++k) {
    const bool same = out[k].equal(x[k]), mirrored = out[k].equal(x[k].flip({2}));
    EXPECT_TRUE(same || mirrored) << "sample " << k;
    flipped += mirrored;
  }
  EXPECT_GT(flipped, 16);
  EXPECT_LT(flipped, 48);
}

TEST(Augment, SeededAndIndependentOfTorchsGenerator) {
  const auto x = batch();
  Augmentation a;
  a.crop_padding = 2;
  a.hflip = true;
  const auto first = augment(x, a, 11);
  at::manual_seed(12345);  // the global generator plays no part
  (void)at::rand({100});
  EXPECT_TRUE(augment(x, a, 11).equal(first)) << "same seed, same batch";
  EXPECT_FALSE(augment(x, a, 12).equal(first)) << "another seed, another batch";
  // One channel without its channel dimension (N x H x W: the sequence view's images) works too.
  const auto one = augment(x.select(1, 0), a, 11);
  EXPECT_EQ(one.sizes(), (at::IntArrayRef{64, 3, 4}));
  EXPECT_THROW(augment(at::zeros({4}), a, 1), xbarsweep::DataError);
}

TEST(Augment, OnlyTheTrainingSplitIsAugmentedWithBlackPadding) {
  LoadOptions o;
  o.name = "synthetic";
  o.train_subset = 20;
  o.test_subset = 10;
  o.augmentation.crop_padding = 4;
  o.augmentation.hflip = true;
  const auto ds = load_dataset(o);
  EXPECT_TRUE(ds.train.augmentation.active());
  EXPECT_FALSE(ds.test.augmentation.active())
      << "test (and validation, calibration) batches stay as they are";
  ASSERT_EQ(ds.train.augmentation.fill.size(), 1u);
  EXPECT_NEAR(ds.train.augmentation.fill[0], -kFashionMnistMean / kFashionMnistStd, 1e-12)
      << "a black pixel after normalisation";
  // Loading augments nothing itself: the images are those of the same set without augmentation.
  LoadOptions plain = o;
  plain.augmentation = {};
  const auto reference = load_dataset(plain);
  EXPECT_TRUE(ds.train.images.equal(reference.train.images));
  EXPECT_FALSE(reference.train.augmentation.active());
}

}  // namespace
