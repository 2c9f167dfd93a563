#include "xbarsweep/circulant/circulant_matrix.hpp"

#include <fftw3.h>

#include <cmath>
#include <map>
#include <mutex>
#include <string>

namespace xbarsweep::circulant {

namespace {

// The FFTW planner is global and not thread-safe: every plan creation/destruction takes this.
std::mutex& fftw_planner_mutex() {
  static std::mutex m;
  return m;
}

// Output blocks handled by one kernel work item: the inner loop over them is contiguous in the
// weights, so a CPU backend vectorises it and a GPU backend reads it coalesced.
constexpr std::int64_t kLanes = 32;

struct ScopedRegion {
  explicit ScopedRegion(const char* name) { Kokkos::Profiling::pushRegion(name); }
  ~ScopedRegion() { Kokkos::Profiling::popRegion(); }
};

}  // namespace

namespace Impl {

/// FFTW plans and their work buffers for one batch size.
struct CirculantPlans {
  using Space = CirculantMatrix::MemorySpace;
  std::mutex in_use;
  Kokkos::View<float**, Kokkos::LayoutRight, Space> x_pad;     // (B, q*k)
  Kokkos::View<float****, Kokkos::LayoutRight, Space> x_freq;  // (B, q, bins, 2)
  Kokkos::View<float****, Kokkos::LayoutRight, Space> y_freq;  // (B, p, bins, 2)
  Kokkos::View<float**, Kokkos::LayoutRight, Space> y_pad;     // (B, p*k)
  fftwf_plan forward = nullptr, inverse = nullptr;

  CirculantPlans(const BlockLayout& l, std::int64_t batch)
      : x_pad("x_pad", batch, l.block_cols() * l.block_size),
        x_freq("x_freq", batch, l.block_cols(), l.bins(), 2),
        y_freq("y_freq", batch, l.block_rows(), l.bins(), 2),
        y_pad("y_pad", batch, l.block_rows() * l.block_size) {
    const int n[1] = {static_cast<int>(l.block_size)};
    const int k = static_cast<int>(l.block_size), bins = static_cast<int>(l.bins());
    std::lock_guard<std::mutex> guard(fftw_planner_mutex());
    // MEASURE overwrites the buffers while planning: fine, they are filled on every apply().
    forward = fftwf_plan_many_dft_r2c(1, n, static_cast<int>(batch * l.block_cols()), x_pad.data(), nullptr,
                                      1, k, reinterpret_cast<fftwf_complex*>(x_freq.data()), nullptr, 1, bins,
                                      FFTW_MEASURE);
    inverse = fftwf_plan_many_dft_c2r(1, n, static_cast<int>(batch * l.block_rows()),
                                      reinterpret_cast<fftwf_complex*>(y_freq.data()), nullptr, 1, bins,
                                      y_pad.data(), nullptr, 1, k, FFTW_MEASURE);
    XBARSWEEP_THROW_IF(forward == nullptr || inverse == nullptr, CirculantError,
                       "FFTW could not plan a batched length-" + std::to_string(k) + " transform");
  }
  ~CirculantPlans() {
    std::lock_guard<std::mutex> guard(fftw_planner_mutex());
    if (forward) fftwf_destroy_plan(forward);
    if (inverse) fftwf_destroy_plan(inverse);
  }
  CirculantPlans(const CirculantPlans&) = delete;
  CirculantPlans& operator=(const CirculantPlans&) = delete;
};

}  // namespace Impl

struct CirculantMatrix::PlanCache {
  std::mutex mutex;
  std::map<std::int64_t, std::unique_ptr<Impl::CirculantPlans>> by_batch;
};

CirculantMatrix::CirculantMatrix(const BlockLayout& layout, ConstWeightView w)
    : layout_(BlockLayout::make(layout.in_features, layout.out_features, layout.block_size)),
      cache_(std::make_unique<PlanCache>()) {
  ScopedRegion region("xbarsweep::circulant::CirculantMatrix");
  const auto p = layout_.block_rows(), q = layout_.block_cols(), k = layout_.block_size;
  const auto bins = layout_.bins();
  XBARSWEEP_THROW_IF(static_cast<std::int64_t>(w.extent(0)) != p ||
                         static_cast<std::int64_t>(w.extent(1)) != q ||
                         static_cast<std::int64_t>(w.extent(2)) != k,
                     CirculantError,
                     "defining vectors must be (" + std::to_string(p) + ", " + std::to_string(q) + ", " +
                         std::to_string(k) + ")");
  rows_padded_ = (p + kLanes - 1) / kLanes * kLanes;
  weight_re_ = decltype(weight_re_)("weight_re", bins, rows_padded_ / kLanes, q, kLanes);
  weight_im_ = decltype(weight_im_)("weight_im", bins, rows_padded_ / kLanes, q, kLanes);

  // FFT of every defining vector, once, in double for accuracy of the stored bins.
  Kokkos::View<double***, Kokkos::LayoutRight, MemorySpace> w_time("w_time", p, q, k);
  Kokkos::View<double****, Kokkos::LayoutRight, MemorySpace> w_freq("w_freq", p, q, bins, 2);
  Kokkos::parallel_for(
      "circulant_copy_weights", Kokkos::MDRangePolicy<ExecutionSpace, Kokkos::Rank<3>>({0, 0, 0}, {p, q, k}),
      KOKKOS_LAMBDA(std::int64_t i, std::int64_t j, std::int64_t t) {
        w_time(i, j, t) = static_cast<double>(w(i, j, t));
      });
  Kokkos::fence();
  {
    const int n[1] = {static_cast<int>(k)};
    std::lock_guard<std::mutex> guard(fftw_planner_mutex());
    fftw_plan plan = fftw_plan_many_dft_r2c(
        1, n, static_cast<int>(p * q), w_time.data(), nullptr, 1, static_cast<int>(k),
        reinterpret_cast<fftw_complex*>(w_freq.data()), nullptr, 1, static_cast<int>(bins), FFTW_ESTIMATE);
    XBARSWEEP_THROW_IF(plan == nullptr, CirculantError, "FFTW could not plan the weight transform");
    fftw_execute(plan);
    fftw_destroy_plan(plan);
  }
  // Tile as (bin, group of kLanes output blocks, q, lane) and fold in FFTW's unnormalised
  // inverse (1/k).
  const double scale = 1.0 / static_cast<double>(k);
  auto wre = weight_re_, wim = weight_im_;
  Kokkos::parallel_for(
      "circulant_store_weight_bins",
      Kokkos::MDRangePolicy<ExecutionSpace, Kokkos::Rank<3>>({0, 0, 0}, {p, q, bins}),
      KOKKOS_LAMBDA(std::int64_t i, std::int64_t j, std::int64_t b) {
        wre(b, i / kLanes, j, i % kLanes) = static_cast<float>(w_freq(i, j, b, 0) * scale);
        wim(b, i / kLanes, j, i % kLanes) = static_cast<float>(w_freq(i, j, b, 1) * scale);
      });
  Kokkos::fence();
}

CirculantMatrix::CirculantMatrix(const BlockLayout& layout, const float* defining_vectors)
    : CirculantMatrix(layout, ConstWeightView(defining_vectors, layout.block_rows(), layout.block_cols(),
                                              layout.block_size)) {}

CirculantMatrix::~CirculantMatrix() = default;
CirculantMatrix::CirculantMatrix(CirculantMatrix&&) noexcept = default;
CirculantMatrix& CirculantMatrix::operator=(CirculantMatrix&&) noexcept = default;

Impl::CirculantPlans& CirculantMatrix::plans_for(std::int64_t batch) const {
  XBARSWEEP_THROW_IF(batch <= 0, CirculantError, "batch must be positive");
  std::lock_guard<std::mutex> guard(cache_->mutex);
  auto& slot = cache_->by_batch[batch];
  if (!slot) slot = std::make_unique<Impl::CirculantPlans>(layout_, batch);
  return *slot;
}

void CirculantMatrix::prepare(std::int64_t batch) const { plans_for(batch); }

double CirculantMatrix::flops_per_matvec() const { return layout_.circulant_flops(); }

void CirculantMatrix::apply(ConstMatrixView x, MatrixView y) const {
  ScopedRegion region("xbarsweep::circulant::CirculantMatrix::apply");
  const auto batch = static_cast<std::int64_t>(x.extent(0));
  const auto in = layout_.in_features, out = layout_.out_features;
  XBARSWEEP_THROW_IF(static_cast<std::int64_t>(x.extent(1)) != in, CirculantError,
                     "x must have " + std::to_string(in) + " columns, got " + std::to_string(x.extent(1)));
  XBARSWEEP_THROW_IF(
      static_cast<std::int64_t>(y.extent(0)) != batch || static_cast<std::int64_t>(y.extent(1)) != out,
      CirculantError, "y must be (" + std::to_string(batch) + ", " + std::to_string(out) + ")");
  auto& plans = plans_for(batch);
  std::lock_guard<std::mutex> in_use(plans.in_use);

  const auto q = layout_.block_cols(), p = layout_.block_rows(), bins = layout_.bins();
  const auto padded_in = q * layout_.block_size;
  auto x_pad = plans.x_pad;
  Kokkos::parallel_for(
      "circulant_pad_input",
      Kokkos::MDRangePolicy<ExecutionSpace, Kokkos::Rank<2>>({0, 0}, {batch, padded_in}),
      KOKKOS_LAMBDA(std::int64_t s, std::int64_t c) { x_pad(s, c) = c < in ? x(s, c) : 0.0f; });
  Kokkos::fence();
  fftwf_execute(plans.forward);

  // Frequency-domain multiply-accumulate: Y(s, i, b) = sum_j W(i, j, b) X(s, j, b).
  // One work item = (sample, bin, kLanes consecutive output blocks). Samples vary fastest so
  // that consecutive items reuse the same weight slice (q * kLanes bins) from cache.
  auto x_freq = plans.x_freq;
  auto y_freq = plans.y_freq;
  auto wre = weight_re_, wim = weight_im_;
  const std::int64_t chunks = rows_padded_ / kLanes;
  Kokkos::parallel_for(
      "circulant_frequency_mac", Kokkos::RangePolicy<ExecutionSpace>(0, batch * bins * chunks),
      KOKKOS_LAMBDA(std::int64_t item) {
        const std::int64_t s = item % batch;
        const std::int64_t chunk = (item / batch) % chunks;
        const std::int64_t b = item / (batch * chunks);
        const std::int64_t i0 = chunk * kLanes;
        float acc_re[kLanes] = {}, acc_im[kLanes] = {};
        for (std::int64_t j = 0; j < q; ++j) {
          const float xr = x_freq(s, j, b, 0), xi = x_freq(s, j, b, 1);
          const float* wr = &wre(b, chunk, j, 0);
          const float* wi = &wim(b, chunk, j, 0);
          // Two plain real loops, not one complex one: GCC otherwise pairs re/im into
          // permute-heavy complex vectors (fmsubadd); this way each lane is an output block.
          for (std::int64_t l = 0; l < kLanes; ++l) acc_re[l] += wr[l] * xr - wi[l] * xi;
          for (std::int64_t l = 0; l < kLanes; ++l) acc_im[l] += wr[l] * xi + wi[l] * xr;
        }
        for (std::int64_t l = 0; l < kLanes; ++l) {
          if (i0 + l < p) {
            y_freq(s, i0 + l, b, 0) = acc_re[l];
            y_freq(s, i0 + l, b, 1) = acc_im[l];
          }
        }
      });
  Kokkos::fence();
  fftwf_execute(plans.inverse);

  auto y_pad = plans.y_pad;
  Kokkos::parallel_for(
      "circulant_crop_output", Kokkos::MDRangePolicy<ExecutionSpace, Kokkos::Rank<2>>({0, 0}, {batch, out}),
      KOKKOS_LAMBDA(std::int64_t s, std::int64_t r) { y(s, r) = y_pad(s, r); });
  Kokkos::fence();
}

void CirculantMatrix::apply(const float* x, float* y, std::int64_t batch) const {
  apply(ConstMatrixView(x, batch, layout_.in_features), MatrixView(y, batch, layout_.out_features));
}

FixedPointCirculantMatrix::FixedPointCirculantMatrix(const BlockLayout& layout, const float* defining_vectors,
                                                     const FixedPointFormat& format)
    : format_(FixedPointFormat::make(format.integer_bits, format.fraction_bits)) {
  std::vector<float> wq(defining_vectors, defining_vectors + layout.parameters());
  format_.quantize_inplace(wq.data(), static_cast<std::int64_t>(wq.size()));
  engine_ = std::make_unique<CirculantMatrix>(layout, wq.data());
}

void FixedPointCirculantMatrix::apply(const float* x, float* y, std::int64_t batch) const {
  const auto n_in = batch * engine_->layout().in_features;
  x_quantized_.assign(x, x + n_in);
  format_.quantize_inplace(x_quantized_.data(), n_in);
  engine_->apply(x_quantized_.data(), y, batch);
  format_.quantize_inplace(y, batch * engine_->layout().out_features);
}

}  // namespace xbarsweep::circulant
