// Random crops and horizontal flips of a training batch, vectorised: one pad, then per-sample
// windows gathered by index arithmetic (torchvision's RandomCrop(padding=P) and
// RandomHorizontalFlip(0.5), in that order).
#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>

#include "xbarsweep/data/dataset.hpp"
#include "xbarsweep/error.hpp"

namespace xbarsweep::data {

at::Tensor augment(const at::Tensor& images, const Augmentation& a, std::uint64_t seed) {
  if (!a.active()) return images;
  XBARSWEEP_THROW_IF(images.dim() != 3 && images.dim() != 4, DataError,
                     "augment: expected a batch N x C x H x W or N x H x W, got " << images.sizes());
  XBARSWEEP_THROW_IF(a.crop_padding < 0, DataError, "augment: crop padding " << a.crop_padding << " < 0");
  const bool one_channel = images.dim() == 3;
  const auto x = one_channel ? images.unsqueeze(1) : images;
  const std::int64_t n = x.size(0), c = x.size(1), h = x.size(2), w = x.size(3), p = a.crop_padding;
  if (n == 0) return images;
  XBARSWEEP_THROW_IF(!a.fill.empty() && a.fill.size() != 1 && static_cast<std::int64_t>(a.fill.size()) != c,
                     DataError, "augment: " << a.fill.size() << " fill values for " << c << " channels");
  auto gen = at::make_generator<at::CPUGeneratorImpl>(seed);
  // out[k, :, i, j] = source[k, :, rows[k, i], cols[k, j]].
  auto rows = at::arange(h, at::kLong).unsqueeze(0).expand({n, h});
  auto cols = at::arange(w, at::kLong).unsqueeze(0).expand({n, w});
  at::Tensor source = x;
  if (p > 0) {
    const bool filled = std::any_of(a.fill.begin(), a.fill.end(), [](double v) { return v != 0.0; });
    if (filled) {
      auto fill = at::tensor(a.fill, x.scalar_type());
      fill = (a.fill.size() == 1 ? fill.expand({c}) : fill).view({1, c, 1, 1});
      source = at::constant_pad_nd(x - fill, {p, p, p, p}, 0.0).add_(fill);
    } else {
      source = at::constant_pad_nd(x, {p, p, p, p}, 0.0);
    }
    rows = rows + at::randint(2 * p + 1, {n, 1}, gen, at::kLong);
    cols = cols + at::randint(2 * p + 1, {n, 1}, gen, at::kLong);
  }
  if (a.hflip) {
    // A mirrored window reads its columns right to left.
    const auto flip = at::rand({n, 1}, gen, at::kFloat).lt(0.5);
    cols = at::where(flip, cols.flip({1}), cols);
  }
  auto out = source;
  if (p > 0) out = out.gather(2, rows.reshape({n, 1, h, 1}).expand({n, c, h, source.size(3)}));
  out = out.gather(3, cols.reshape({n, 1, 1, w}).expand({n, c, h, w}));
  return one_channel ? out.squeeze(1) : out;
}

}  // namespace xbarsweep::data
