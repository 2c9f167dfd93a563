#pragma once
/// \file
/// \brief Kokkos + FFTW inference engine for block-circulant matrices (float). Torch-free.
///
/// Weights are stored as their real FFTs (k/2+1 complex bins per block, pre-scaled by 1/k);
/// inputs are transformed with one batched FFTW r2c; the frequency-domain multiply-accumulate
/// over block columns is a Kokkos kernel; one batched c2r gives every output block.
/// Block convention: block_layout.hpp.

#include <Kokkos_Core.hpp>
#include <cstdint>
#include <memory>
#include <vector>

#include "xbarsweep/circulant/block_layout.hpp"
#include "xbarsweep/circulant/fixed_point.hpp"

namespace xbarsweep::circulant {

namespace Impl {
struct CirculantPlans;
}

/// \brief y = W x for a block-circulant W, batch 1 or B, float.
///
/// FFTW works on host memory, so the engine runs on Kokkos's default host execution space.
/// FFTW plans (and their work buffers) are made once per batch size, under a mutex (FFTW
/// planning is not thread-safe), and reused by every later apply() of that batch size.
/// apply() calls on one object are serialised by a per-batch-size lock.
class CirculantMatrix {
 public:
  using ExecutionSpace = Kokkos::DefaultHostExecutionSpace;
  using MemorySpace = Kokkos::HostSpace;
  /// (batch, features), row-major.
  using ConstMatrixView = Kokkos::View<const float**, Kokkos::LayoutRight, MemorySpace>;
  using MatrixView = Kokkos::View<float**, Kokkos::LayoutRight, MemorySpace>;
  /// Defining vectors (p, q, k), row-major.
  using ConstWeightView = Kokkos::View<const float***, Kokkos::LayoutRight, MemorySpace>;

  /// \brief Builds the engine from defining vectors (p, q, k) (the `weight` parameter of
  /// CirculantLinear, same convention). Kokkos must be initialised.
  /// \throws CirculantError when w's extents do not match the layout.
  CirculantMatrix(const BlockLayout& layout, ConstWeightView defining_vectors);
  /// \brief Same, from a contiguous row-major (p, q, k) buffer.
  CirculantMatrix(const BlockLayout& layout, const float* defining_vectors);
  ~CirculantMatrix();
  CirculantMatrix(CirculantMatrix&&) noexcept;
  CirculantMatrix& operator=(CirculantMatrix&&) noexcept;
  CirculantMatrix(const CirculantMatrix&) = delete;
  CirculantMatrix& operator=(const CirculantMatrix&) = delete;

  /// \brief y (B, out) = x (B, in) W^T, i.e. one matvec per row of x. Fences before returning.
  /// \throws CirculantError when extents disagree with the layout or with each other.
  void apply(ConstMatrixView x, MatrixView y) const;
  /// \brief Same on contiguous row-major buffers x (batch, in) and y (batch, out).
  void apply(const float* x, float* y, std::int64_t batch) const;

  /// \brief Makes the FFTW plans for a batch size now (otherwise the first apply() does).
  void prepare(std::int64_t batch) const;

  const BlockLayout& layout() const { return layout_; }
  /// \brief Real flops of one matvec, BlockLayout::circulant_flops().
  double flops_per_matvec() const;

 private:
  Impl::CirculantPlans& plans_for(std::int64_t batch) const;

  BlockLayout layout_;
  std::int64_t rows_padded_ = 0;  // p rounded up to the kernel's lane count
  /// FFT(w)/k, split real/imag, tiled (bin, group of 32 output blocks, q, lane): one kernel
  /// work item reads one contiguous tile (streams well from cache on CPUs).
  Kokkos::View<float****, Kokkos::LayoutRight, MemorySpace> weight_re_, weight_im_;
  struct PlanCache;
  std::unique_ptr<PlanCache> cache_;
};

/// \brief The fixed-point path of the engine: defining vectors, inputs and outputs are values
/// of a FixedPointFormat (default 1+5+10 bits). The product of the quantized operands is
/// computed by the float engine (its error, ~1e-6 relative, is far below an LSB) and rounded
/// once with saturation, as a datapath with a wide accumulator would. The round-off of a
/// 16-bit FFT datapath is not modelled.
class FixedPointCirculantMatrix {
 public:
  /// \brief Quantizes the defining vectors (p, q, k) to `format` and builds the engine.
  FixedPointCirculantMatrix(const BlockLayout& layout, const float* defining_vectors,
                            const FixedPointFormat& format = {});
  /// \brief y (batch, out) = Q(Q(x) W_q^T) on contiguous row-major buffers.
  void apply(const float* x, float* y, std::int64_t batch) const;
  const FixedPointFormat& format() const { return format_; }
  const CirculantMatrix& engine() const { return *engine_; }

 private:
  FixedPointFormat format_;
  std::unique_ptr<CirculantMatrix> engine_;
  mutable std::vector<float> x_quantized_;
};

}  // namespace xbarsweep::circulant
