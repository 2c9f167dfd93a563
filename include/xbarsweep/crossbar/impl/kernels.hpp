#pragma once
/// \file
/// \brief The per-element work of a simulated MVM, shared by the host loops (compiled once per
/// instruction set, src/crossbar/host_kernels.cpp) and the Kokkos kernels of other memory
/// spaces (layer_impl.hpp): the DAC of one input plane and the readout of one row tile.
///
/// Both are plain structs of pointers and sizes, so that host and device code read the same
/// formulas, draws and summation order.

#include <Kokkos_Core.hpp>
#include <cstdint>
#include <string>
#include <vector>

#include "xbarsweep/crossbar/random.hpp"

#if defined(__GNUC__) && !defined(__clang__)
#define XBARSWEEP_IVDEP _Pragma("GCC ivdep")
#else
#define XBARSWEEP_IVDEP
#endif

namespace xbarsweep::crossbar::Impl {

/// Where the rows of an MVM's input come from: a row-major matrix (batch x in, leading dimension
/// \p ld), or a convolution's patches read straight from its zero-padded input (im2col on the fly).
struct InputRows {
  const float* x = nullptr;
  std::int64_t ld = 0;  ///< matrix: elements between rows
  // Patches: row g = (image, output row, output column) of the layer's rows [first, first + valid),
  // feature f at x[row_base(g) + feature_offset[f]] of the padded input (N x C x Hp x Wp).
  const int* feature_offset = nullptr;  ///< in_features entries; null for a matrix
  std::int64_t first = 0;               ///< layer row of this call's row 0
  std::int64_t valid = 0;               ///< rows of this call that exist (the rest read as zeros)
  std::int64_t image_stride = 0;        ///< C Hp Wp
  int out_w = 0, positions = 0;         ///< output columns, output positions per image
  int row_step = 0, col_step = 0;       ///< stride (rows) * Wp, stride (columns)
  bool driven = false;                  ///< x already holds the DAC's values (drive_patch_input)

  /// Row \p b of this call as a pointer to its first feature (matrix) or the base its feature
  /// offsets add to (patches); null for a row past the end.
  KOKKOS_INLINE_FUNCTION const float* row(const int b) const {
    if (feature_offset == nullptr) return x + static_cast<std::int64_t>(b) * ld;
    if (b >= valid) return nullptr;
    const std::int64_t g = first + b;
    const std::int64_t image = g / positions;
    const int pos = static_cast<int>(g - image * positions);
    const int oh = pos / out_w, ow = pos - oh * out_w;
    return x + image * image_stride + static_cast<std::int64_t>(oh) * row_step +
           static_cast<std::int64_t>(ow) * col_step;
  }
  /// Patches, walked position by position (no division per row): row \p b's patch and its output
  /// column \p ow; then past \p run rows of one output row, to row b + run.
  KOKKOS_INLINE_FUNCTION const float* walk_start(const int b, int& ow) const {
    const float* src = row(b);
    ow = src == nullptr ? 0 : static_cast<int>((first + b) % positions) % out_w;
    return src;
  }
  KOKKOS_INLINE_FUNCTION const float* walk_on(const float* src, int& ow, const int b, const int run) const {
    if (src == nullptr || b + run >= valid) return nullptr;
    ow += run;
    if (ow < out_w) return src + static_cast<std::int64_t>(run) * col_step;
    ow = 0;  // the next output row, or the next image
    return row(b + run);
  }
  KOKKOS_INLINE_FUNCTION float at(const float* row_ptr, const int f) const {
    if (row_ptr == nullptr) return 0.0f;
    return feature_offset == nullptr ? row_ptr[f] : row_ptr[feature_offset[f]];
  }
};

/// Where the rows of an MVM's output go: a row-major matrix (batch x out), or a convolution's
/// output (images x out x positions, NCHW) at the positions of the input's patch rows.
struct OutputRows {
  float* y = nullptr;
  std::int64_t ld = 0;         ///< matrix: elements between rows
  bool nchw = false;           ///< a convolution's output
  std::int64_t first = 0;      ///< NCHW: layer row of this call's row 0
  std::int64_t valid = 0;      ///< NCHW: rows of this call that exist (the rest are not written)
  int positions = 0, out = 0;  ///< NCHW: output positions per image, output channels

  /// Output \p j of row \p b is base(b)[j * stride()]; null for a row past the end.
  KOKKOS_INLINE_FUNCTION float* base(const int b) const {
    if (!nchw) return y + static_cast<std::int64_t>(b) * ld;
    if (b >= valid) return nullptr;
    const std::int64_t g = first + b;
    const std::int64_t image = g / positions;
    return y + image * out * positions + (g - image * positions);
  }
  KOKKOS_INLINE_FUNCTION std::int64_t stride() const { return nchw ? positions : 1; }
};

/// A row-major matrix View as OutputRows.
template <class View>
OutputRows matrix_rows(const View& y) {
  OutputRows o;
  o.y = y.data();
  o.ld = static_cast<std::int64_t>(y.stride(0));
  return o;
}

/// The DAC of one input plane: |x| quantised to input_bits over [0, full scale] (sign kept by
/// the drive polarity), plane `plane` taken (dac_bits bits of the code, least significant plane
/// first), written per row tile as xq (nr x batch x rows), with xq^2 for proportional read noise
/// and each row tile's input sum for the offset mapping.
struct DacPlane {
  InputRows input;
  float* xq = nullptr;    ///< nr x batch x rows (transposed: nr x rows x batch)
  float* xq2 = nullptr;   ///< the same squared; null unless proportional read noise
  float* xsum = nullptr;  ///< nr x batch; null unless the offset mapping
  int batch = 0;          ///< rows the scratch holds per row tile (its stride)
  int first = 0;          ///< the input row that scratch row 0 holds
  int rows = 0, in = 0, nr = 0;
  bool ideal = false;  ///< no DAC: x as it is
  /// Patches on the host: xq feature-major per row tile (nr x rows x batch), see encode_rows.
  bool transposed = false;
  float to_code = 1.0f, lsb = 1.0f;
  int shift = 0;                             ///< plane * dac_bits
  std::int32_t code_max = 1, code_mask = 1;  ///< codes fit 32 bits (input_bits <= 24)

  /// The driven value of input \p xv (exact in float: codes below 2^24).
  KOKKOS_FORCEINLINE_FUNCTION float drive(const float xv) const {
    if (ideal) return xv;
    float a = Kokkos::Experimental::fabs(xv) * to_code + 0.5f;
    a = a > float(code_max) ? float(code_max) : a;
    const float digit = float((static_cast<std::int32_t>(a) >> shift) & code_mask);
    return (xv < 0.0f ? -digit : digit) * lsb;
  }

  /// Row tile \p r of row \p b, whose inputs start at \p src (InputRows::row; null: zeros).
  /// Every input of the tile is written; those past the layer's end are zero.
  KOKKOS_INLINE_FUNCTION void encode(const int b, const int r, const float* src) const {
    const int base = r * rows;
    const int valid = (in - base) < rows ? (in - base) : rows;
    const std::int64_t at = static_cast<std::int64_t>(r) * batch + (b - first);
    float* KOKKOS_RESTRICT dst = xq + at * rows;
    if (src == nullptr) {
      for (int i = 0; i < rows; ++i) dst[i] = 0.0f;
    } else if (input.feature_offset == nullptr) {
      const float* KOKKOS_RESTRICT s = src + base;
      XBARSWEEP_IVDEP
      for (int i = 0; i < valid; ++i) dst[i] = drive(s[i]);
    } else {
      const int* KOKKOS_RESTRICT off = input.feature_offset + base;
      XBARSWEEP_IVDEP
      for (int i = 0; i < valid; ++i) dst[i] = drive(src[off[i]]);
    }
    for (int i = valid; i < rows; ++i) dst[i] = 0.0f;
    if (xq2 != nullptr) {
      float* KOKKOS_RESTRICT d2 = xq2 + at * rows;
      for (int i = 0; i < rows; ++i) d2[i] = dst[i] * dst[i];
    }
    if (xsum != nullptr) {
      float s = 0.0f;
      for (int i = 0; i < rows; ++i) s += dst[i];
      xsum[at] = s;
    }
  }
  KOKKOS_INLINE_FUNCTION void encode(const int b, const int r) const { encode(b, r, input.row(b)); }

  /// Patch rows [b0, b1) feature-major: row tile r's feature i of row b at xq[(r rows + i) batch
  /// + b - first] (xq2 the same). The positions of one output row read one input each per
  /// feature, col_step apart, so each feature of such a run is one strided copy instead of a
  /// gather per row. The same values as encode's, and each row's input sum over the same
  /// features in the same order.
  KOKKOS_INLINE_FUNCTION void encode_rows_transposed(const int b0, const int b1) const {
    if (input.out_w < kShortRow) {
      encode_rows_gathered(b0, b1);
    } else {
      encode_rows_by_runs(b0, b1);
    }
    finish_transposed(b0, b1);
  }
  /// Output rows narrower than this are gathered (encode_rows_gathered), wider ones copied run by
  /// run (encode_rows_by_runs): a run of 2-8 positions costs more to set up than to copy.
  static constexpr int kShortRow = 16;

  /// encode_rows_transposed's codes for output rows of at least kShortRow positions: each
  /// feature of a run of positions in one output row is one strided copy.
  KOKKOS_INLINE_FUNCTION void encode_rows_by_runs(const int b0, const int b1) const {
    int ow = 0;
    const float* src = input.walk_start(b0, ow);
    const int step = input.col_step;
    for (int b = b0; b < b1;) {
      int run = b1 - b;  // rows of one output row (or, past the end, every row left)
      if (src != nullptr) {
        run = run < input.out_w - ow ? run : input.out_w - ow;
        const std::int64_t left = input.valid - b;
        run = left < run ? static_cast<int>(left) : run;
      }
      for (int r = 0; r < nr; ++r) {
        const int base = r * rows;
        const int valid = (in - base) < rows ? (in - base) : rows;
        for (int i = 0; i < rows; ++i) {
          float* KOKKOS_RESTRICT dst = xq + (static_cast<std::int64_t>(base) + i) * batch + (b - first);
          if (src == nullptr || i >= valid) {
            for (int t = 0; t < run; ++t) dst[t] = 0.0f;
            continue;
          }
          const float* KOKKOS_RESTRICT s = src + input.feature_offset[base + i];
          XBARSWEEP_IVDEP
          for (int t = 0; t < run; ++t) dst[t] = drive(s[static_cast<std::int64_t>(t) * step]);
        }
      }
      src = input.walk_on(src, ow, b, run);
      b += run;
    }
  }

  /// encode_rows_transposed's codes for narrow output rows: the rows' patch bases for up to 64
  /// rows at a time, then each feature over those rows (one load each, no per-run set-up).
  KOKKOS_INLINE_FUNCTION void encode_rows_gathered(const int b0, const int b1) const {
    constexpr int kChunk = 64;
    std::int64_t at[kChunk];
    int ow = 0;
    const float* src = input.walk_start(b0, ow);
    for (int c0 = b0; c0 < b1; c0 += kChunk) {
      const int n = (b1 - c0) < kChunk ? (b1 - c0) : kChunk;
      int live = 0;  // rows of the chunk that exist: a prefix
      for (int t = 0; t < n && src != nullptr; ++t) {
        at[live++] = src - input.x;
        src = input.walk_on(src, ow, c0 + t, 1);
      }
      for (int r = 0; r < nr; ++r) {
        const int base = r * rows;
        const int valid = (in - base) < rows ? (in - base) : rows;
        for (int i = 0; i < rows; ++i) {
          float* KOKKOS_RESTRICT dst = xq + (static_cast<std::int64_t>(base) + i) * batch + (c0 - first);
          int t = 0;
          if (i < valid) {
            const float* KOKKOS_RESTRICT s = input.x + input.feature_offset[base + i];
            XBARSWEEP_IVDEP
            for (; t < live; ++t) dst[t] = drive(s[at[t]]);
          }
          for (; t < n; ++t) dst[t] = 0.0f;
        }
      }
    }
  }

  /// encode_rows_transposed's squares and input sums, from the codes.
  KOKKOS_INLINE_FUNCTION void finish_transposed(const int b0, const int b1) const {
    const int n = b1 - b0;
    for (int r = 0; r < nr; ++r) {
      const float* const q = xq + static_cast<std::int64_t>(r) * rows * batch + (b0 - first);
      if (xq2 != nullptr) {
        float* const q2 = xq2 + static_cast<std::int64_t>(r) * rows * batch + (b0 - first);
        for (int i = 0; i < rows; ++i) {
          const float* KOKKOS_RESTRICT a = q + static_cast<std::int64_t>(i) * batch;
          float* KOKKOS_RESTRICT a2 = q2 + static_cast<std::int64_t>(i) * batch;
          for (int t = 0; t < n; ++t) a2[t] = a[t] * a[t];
        }
      }
      if (xsum != nullptr) {
        float* KOKKOS_RESTRICT sum = xsum + static_cast<std::int64_t>(r) * batch + (b0 - first);
        for (int t = 0; t < n; ++t) sum[t] = 0.0f;
        for (int i = 0; i < rows; ++i) {
          const float* KOKKOS_RESTRICT a = q + static_cast<std::int64_t>(i) * batch;
          for (int t = 0; t < n; ++t) sum[t] += a[t];
        }
      }
    }
  }

  /// The driven values of \p n inputs, elementwise: a convolution's padded input driven once per
  /// call, so that each input is converted once instead of once per patch that reads it (the
  /// DAC is elementwise, and drive(0) = 0 keeps the padding).
  KOKKOS_INLINE_FUNCTION void drive_values(const float* KOKKOS_RESTRICT x, float* KOKKOS_RESTRICT y,
                                           const std::int64_t n) const {
    XBARSWEEP_IVDEP
    for (std::int64_t i = 0; i < n; ++i) y[i] = drive(x[i]);
  }

  /// Rows [b0, b1), every row tile. Patch rows are walked position by position (no division
  /// per row).
  KOKKOS_INLINE_FUNCTION void encode_rows(const int b0, const int b1) const {
    if (transposed) return encode_rows_transposed(b0, b1);
    if (input.feature_offset == nullptr) {
      for (int b = b0; b < b1; ++b) {
        const float* src = input.row(b);
        for (int r = 0; r < nr; ++r) encode(b, r, src);
      }
      return;
    }
    int ow = 0;
    const float* src = input.walk_start(b0, ow);
    for (int b = b0; b < b1; ++b) {
      for (int r = 0; r < nr; ++r) encode(b, r, src);
      src = input.walk_on(src, ow, b, 1);
    }
  }
};

/// What the readout of one row tile r of one input plane reads and writes: the row tile's
/// products P (batch x np), its ADC ranges, and the digital sums acc (batch x nc * cols).
struct ReadoutArgs {
  const float *p = nullptr, *p2 = nullptr;  ///< P and, for proportional read noise, P2
  const float *lo = nullptr, *step = nullptr, *inv_step = nullptr;  ///< ADC ranges, every column
  const float* slice_factor = nullptr;                              ///< per slice
  const int* tile_k = nullptr;  ///< row r of tile_k: nc entries, -1 = not allocated
  float* acc = nullptr;
  std::int64_t acc_stride = 0;  ///< elements per row of acc
  int first = 0;                ///< the row that row 0 of P and acc holds (its noise is that row's)
  std::int64_t pcoff = 0;       ///< first physical column of row tile r
  int np = 0;                   ///< physical columns of row tile r
  int r = 0, out = 0, nc = 0, cols = 0, slices = 1;
  float additive_sigma = 0.0f, prop_sigma = 0.0f, adc_top = 0.0f;
  std::uint64_t stream_key = 0;
};

/// The readout of row tile r, right after its products: read noise, ADC, shift-and-add over
/// slices and the digital sum over row tiles into acc. Row tile by row tile, only one tile
/// row's products (batch x np) are live, and they are read while still in cache. The effects
/// that are off are compiled out.
template <bool kAdditive, bool kProportional, bool kAdc>
struct Readout : ReadoutArgs {
  Readout() = default;
  explicit Readout(const ReadoutArgs& a) : ReadoutArgs(a) {}

  /// The read-noise draw of a column is z = sqrt(l) t, with l = -2 ln u1 and t a cos or sin
  /// (box_muller_parts); a column gets the draw as (a, t) with a = l for proportional noise, so
  /// that sigma sqrt(p2) z = sigma sqrt(p2 l) t takes one square root, and a = sqrt(l) otherwise.
  KOKKOS_FORCEINLINE_FUNCTION static float radius_term(const float l) {
    return kProportional ? l : Kokkos::Experimental::sqrt(l);
  }

  /// One column current of one read, given its read-noise draw (\p a, \p t): read noise, then the ADC.
  KOKKOS_FORCEINLINE_FUNCTION float read_column(const int jj, const float a, const float t,
                                                const float* KOKKOS_RESTRICT pr,
                                                const float* KOKKOS_RESTRICT p2r,
                                                const float* KOKKOS_RESTRICT lor,
                                                const float* KOKKOS_RESTRICT str,
                                                const float* KOKKOS_RESTRICT isr) const {
    float v = pr[jj];
    if (kAdditive) v += additive_sigma * a * t;
    if (kProportional) v += prop_sigma * Kokkos::Experimental::sqrt(p2r[jj] * a) * t;
    if (kAdc) {
      float u = (v - lor[jj]) * isr[jj];
      u = u < 0.0f ? 0.0f : (u > adc_top ? adc_top : u);
      v = lor[jj] + static_cast<float>(static_cast<int>(u + 0.5f)) * str[jj];
    }
    return v;
  }

  /// The read-noise draw (\p a, \p t) of column \p jj of \p n in the stream (k1, k2) starting at
  /// element i0: columns jj and jj + n/2 share one Box-Muller pair (its cos and sin draws, from
  /// elements i0 + jj and i0 + jj + n/2); an odd last column takes the cos draw of its own pair
  /// (element i0 + jj of the stream and of a second stream). read_columns computes each pair
  /// once; this per-column form (one lane per column, as on GPUs) gives the same values.
  KOKKOS_INLINE_FUNCTION static void column_draw(const int jj, const int n, const std::uint32_t k1,
                                                 const std::uint32_t k2, const std::uint32_t i0, float& a,
                                                 float& t) {
    const int half = n / 2;
    float l = 0.0f, s = 0.0f, c = 0.0f;
    if (jj >= 2 * half) {
      const std::uint32_t at = i0 + static_cast<std::uint32_t>(jj);
      box_muller_parts(stream_hash32(k1, k2, at), stream_hash32(k1 ^ kOddStream, k2, at), l, s, c);
      a = radius_term(l);
      t = c;
      return;
    }
    const int first = jj < half ? jj : jj - half;
    box_muller_parts(stream_hash32(k1, k2, i0 + static_cast<std::uint32_t>(first)),
                     stream_hash32(k1, k2, i0 + static_cast<std::uint32_t>(first + half)), l, s, c);
    a = radius_term(l);
    t = jj < half ? c : s;
  }
  static constexpr std::uint32_t kOddStream = 0x9E3779B9u;

  KOKKOS_INLINE_FUNCTION void read_columns(const int n, const float* KOKKOS_RESTRICT pr,
                                           const float* KOKKOS_RESTRICT p2r, const float* KOKKOS_RESTRICT lor,
                                           const float* KOKKOS_RESTRICT str, const float* KOKKOS_RESTRICT isr,
                                           float* KOKKOS_RESTRICT accr, const float f, const std::uint32_t k1,
                                           const std::uint32_t k2, const std::uint32_t i0) const {
    if (!(kAdditive || kProportional)) {
      XBARSWEEP_IVDEP
      for (int jj = 0; jj < n; ++jj) accr[jj] += f * read_column(jj, 0.0f, 0.0f, pr, p2r, lor, str, isr);
      return;
    }
    // Noise draws in Box-Muller pairs: column jj takes the cos draw, column jj + half the sin.
    const int half = n / 2;
    XBARSWEEP_IVDEP
    for (int jj = 0; jj < half; ++jj) {
      float l = 0.0f, s = 0.0f, c = 0.0f;
      box_muller_parts(stream_hash32(k1, k2, i0 + static_cast<std::uint32_t>(jj)),
                       stream_hash32(k1, k2, i0 + static_cast<std::uint32_t>(jj + half)), l, s, c);
      const float a = radius_term(l);
      accr[jj] += f * read_column(jj, a, c, pr, p2r, lor, str, isr);
      accr[jj + half] += f * read_column(jj + half, a, s, pr, p2r, lor, str, isr);
    }
    if (n % 2 != 0) {
      float a = 0.0f, t = 0.0f;
      column_draw(n - 1, n, k1, k2, i0, a, t);
      accr[n - 1] += f * read_column(n - 1, a, t, pr, p2r, lor, str, isr);
    }
  }

  /// What every read of slice \p s of tile (r, c) (its k-th in row r) shares: where its columns
  /// start within a row of P, their ADC ranges, its read-noise stream and its sign.
  struct TileSlice {
    std::int64_t within = 0;  ///< offset of its columns within a row of P
    const float *lo = nullptr, *step = nullptr, *inv_step = nullptr;
    std::uint32_t k1 = 0, k2 = 0;
    float factor = 0.0f;
  };
  KOKKOS_INLINE_FUNCTION TileSlice tile_slice(const int c, const int k, const int s) const {
    TileSlice t;
    t.within = static_cast<std::int64_t>(k * slices + s) * cols;
    const std::int64_t col0 = pcoff + t.within;
    if (kAdc) {
      t.lo = lo + col0;
      t.step = step + col0;
      t.inv_step = inv_step + col0;
    }
    const std::uint64_t key =
        hash_extend(stream_key, (static_cast<std::uint64_t>(r) << 40) |
                                    (static_cast<std::uint64_t>(c) << 16) | static_cast<std::uint64_t>(s));
    t.k1 = static_cast<std::uint32_t>(key);
    t.k2 = static_cast<std::uint32_t>(key >> 32);
    t.factor = slice_factor[s];
    return t;
  }
  /// Columns of column tile \p c that hold outputs (the last tile may be partial).
  KOKKOS_INLINE_FUNCTION int used_columns(const int c) const {
    return (out - c * cols) < cols ? (out - c * cols) : cols;
  }

  /// Calls \p f(ncv, acc_row, p_row, p2_row, slice, i0) for every allocated tile and slice of
  /// row \p b: its used columns, where its sums, products and (proportional noise) squared
  /// products start, what its reads share, and the row's first read-noise stream element.
  template <class F>
  KOKKOS_FORCEINLINE_FUNCTION void each_slice(const int b, F&& f) const {
    const std::uint32_t i0 = static_cast<std::uint32_t>(b) * static_cast<std::uint32_t>(cols);
    for (int c = 0; c < nc; ++c) {
      const int k = tile_k[c];
      if (k < 0) continue;
      const int ncv = used_columns(c);
      float* accp =
          acc + static_cast<std::int64_t>(b - first) * acc_stride + static_cast<std::int64_t>(c) * cols;
      for (int s = 0; s < slices; ++s) {
        const TileSlice t = tile_slice(c, k, s);
        const std::int64_t at = static_cast<std::int64_t>(b - first) * np + t.within;
        f(ncv, accp, p + at, kProportional ? p2 + at : nullptr, t, i0);
      }
    }
  }

  /// Rows [b0, b1), each allocated tile and slice in turn (what its reads share computed once),
  /// its rows in order, the columns of a tile innermost (read_columns). Each output's sum over
  /// slices runs in slice order, as in the device form.
  KOKKOS_INLINE_FUNCTION void read_rows(const int b0, const int b1) const {
    const int row0 = first, width = np;
    const std::int64_t stride = acc_stride;
    each_tile_slice([&](const int ncv, float* const acc0, const TileSlice& t) {
      for (int b = b0; b < b1; ++b) {
        const std::int64_t at = static_cast<std::int64_t>(b - row0) * width + t.within;
        const std::uint32_t i0 = static_cast<std::uint32_t>(b) * static_cast<std::uint32_t>(cols);
        read_columns(ncv, p + at, kProportional ? p2 + at : nullptr, t.lo, t.step, t.inv_step,
                     acc0 + static_cast<std::int64_t>(b - row0) * stride, t.factor, t.k1, t.k2, i0);
      }
    });
  }

  /// Calls \p f(ncv, acc0, slice) for every allocated tile and slice of the row tile: its used
  /// columns, where its column block of the sums starts, and what its reads share.
  template <class F>
  KOKKOS_FORCEINLINE_FUNCTION void each_tile_slice(F&& f) const {
    for (int c = 0; c < nc; ++c) {
      const int k = tile_k[c];
      if (k < 0) continue;
      const int ncv = used_columns(c);
      float* const acc0 = acc + static_cast<std::int64_t>(c) * cols;
      for (int s = 0; s < slices; ++s) f(ncv, acc0, tile_slice(c, k, s));
    }
  }

  /// Rows [b0, b1) with the rows innermost: for a tile that uses few columns (a small layer's
  /// last column tile, a convolution with few filters) the columns are too few to fill a
  /// vector, the rows are not. Every draw, read and sum is the one read_rows makes for that row
  /// and column, in the same order per output.
  KOKKOS_INLINE_FUNCTION void read_rows_innermost(const int b0, const int b1) const {
    // Locals, not members, in the row loop: stores through acc could alias a member.
    const int row0 = first, width = np;
    const std::int64_t stride = acc_stride;
    each_tile_slice([&](const int ncv, float* const acc0, const TileSlice& t) {
      const int half = ncv / 2;
      const float *lor = t.lo, *str = t.step, *isr = t.inv_step;
      const std::uint32_t k1 = t.k1, k2 = t.k2;
      const float f = t.factor;
      const float* const p0 = p + t.within;
      const float* const p20 = kProportional ? p2 + t.within : nullptr;
      const auto column = [&](const int jj, const int partner) {
        XBARSWEEP_IVDEP
        for (int b = b0; b < b1; ++b) {
          const std::int64_t at = static_cast<std::int64_t>(b - row0) * width;
          const float* pr = p0 + at;
          const float* p2r = kProportional ? p20 + at : nullptr;
          float* accr = acc0 + static_cast<std::int64_t>(b - row0) * stride;
          const std::uint32_t i0 = static_cast<std::uint32_t>(b) * static_cast<std::uint32_t>(cols);
          if (!(kAdditive || kProportional)) {
            accr[jj] += f * read_column(jj, 0.0f, 0.0f, pr, p2r, lor, str, isr);
            continue;
          }
          if (partner < 0) {  // the odd last column: its own pair
            float a = 0.0f, tt = 0.0f;
            column_draw(jj, ncv, k1, k2, i0, a, tt);
            accr[jj] += f * read_column(jj, a, tt, pr, p2r, lor, str, isr);
            continue;
          }
          float l = 0.0f, sn = 0.0f, cs = 0.0f;
          box_muller_parts(stream_hash32(k1, k2, i0 + static_cast<std::uint32_t>(jj)),
                           stream_hash32(k1, k2, i0 + static_cast<std::uint32_t>(partner)), l, sn, cs);
          const float a = radius_term(l);
          accr[jj] += f * read_column(jj, a, cs, pr, p2r, lor, str, isr);
          accr[partner] += f * read_column(partner, a, sn, pr, p2r, lor, str, isr);
        }
      };
      if (kAdditive || kProportional) {
        for (int jj = 0; jj < half; ++jj) column(jj, jj + half);
        if (ncv % 2 != 0) column(ncv - 1, -1);
      } else {
        for (int jj = 0; jj < ncv; ++jj) column(jj, -1);
      }
    });
  }

  /// Device form: one team (one thread, vector lanes) per row, the columns of a tile a
  /// ThreadVectorRange, each lane drawing its own column's noise (column_draw).
  template <class Member>
  KOKKOS_INLINE_FUNCTION void operator()(const Member& team) const {
    each_slice(first + team.league_rank(), [&](const int ncv, float* accp, const float* pr, const float* p2r,
                                               const TileSlice& t, const std::uint32_t i0) {
      Kokkos::parallel_for(Kokkos::ThreadVectorRange(team, ncv), [&](const int jj) {
        float a = 0.0f, tt = 0.0f;
        if (kAdditive || kProportional) column_draw(jj, ncv, t.k1, t.k2, i0, a, tt);
        accp[jj] += t.factor * read_column(jj, a, tt, pr, p2r, t.lo, t.step, t.inv_step);
      });
    });
  }
};

/// One block's scratch: per row tile its DAC codes (nr x block x rows, and squared for
/// proportional read noise) and input sums (nr x block), one row tile's products (block x
/// nphys), the sums over row tiles (block x nc * cols).
struct ScratchSlot {
  float *xq = nullptr, *xq2 = nullptr, *xsum = nullptr, *p = nullptr, *p2 = nullptr, *acc = nullptr;
};

/// The last step of one input plane for one row: offset removal (the offset mapping's reference
/// current, from the inputs' sum over the row tiles each column tile has), rescaling to weight
/// units, and the sum over input planes into the output.
struct PlaneSum {
  const float* acc = nullptr;
  std::int64_t acc_stride = 0;
  const float* xsum = nullptr;  ///< nr x batch; null unless the offset mapping
  const int* tile_k = nullptr;  ///< nr x nc
  OutputRows y;
  float scale = 1.0f, offset_per_x = 0.0f;
  bool accumulate = false;  ///< add to the output (planes after the first)
  int batch = 0;            ///< rows xsum holds per row tile (its stride)
  int first = 0;            ///< the row that row 0 of acc and xsum holds
  int nr = 0, nc = 0, cols = 0, out = 0;

  KOKKOS_INLINE_FUNCTION void operator()(const int b) const {
    float* const row = y.base(b);
    if (row == nullptr) return;
    const std::int64_t stride = y.stride();
    const float* a = acc + static_cast<std::int64_t>(b - first) * acc_stride;
    for (int j = 0; j < out; ++j) {
      float xs = 0.0f;
      if (xsum != nullptr) {
        const int c = j / cols;
        for (int r = 0; r < nr; ++r)
          if (tile_k[r * nc + c] >= 0) xs += xsum[static_cast<std::int64_t>(r) * batch + (b - first)];
      }
      const float v = scale * (a[j] - offset_per_x * xs);
      float& dst = row[j * stride];
      dst = accumulate ? dst + v : v;
    }
  }
};

/// The readout modes: which of additive read noise, proportional read noise and the ADC are on.
KOKKOS_INLINE_FUNCTION constexpr int readout_mode(bool additive, bool proportional, bool adc) {
  return (additive ? 1 : 0) | (proportional ? 2 : 0) | (adc ? 4 : 0);
}

/// \brief The host loops, compiled for several instruction sets in one binary (x86-64 with GCC:
/// AVX-512, AVX2 + FMA, baseline; elsewhere, or with XBARSWEEP_CROSSBAR_NATIVE, the build's own),
/// one chosen at the first call from the CPU or from the environment variable
/// XBARSWEEP_CROSSBAR_ISA (avx512, avx2, baseline). Every version computes the same values.
/// Rows [b0, b1) of the DAC of one input plane.
/// \throws CrossbarError when XBARSWEEP_CROSSBAR_ISA names a version this build or CPU lacks.
void host_dac(const DacPlane& dac, int b0, int b1);
/// \p n inputs from \p x driven into \p y (DacPlane::drive_values). \throws CrossbarError as host_dac.
void host_drive(const DacPlane& dac, const float* x, float* y, std::int64_t n);
/// Rows [b0, b1) of the readout of one row tile in readout_mode \p mode; \p rows_innermost for
/// tiles of few used columns (Readout::read_rows_innermost), else Readout::read_rows.
void host_readout(const ReadoutArgs& args, int mode, bool rows_innermost, int b0, int b1);
/// The version host_dac and host_readout run: "avx512", "avx2" or "baseline".
const char* host_kernel_isa();
/// Every version this build has that this CPU runs, widest first.
std::vector<std::string> host_kernel_isas();
/// Runs \p isa from now on (tests and benchmarks). \throws CrossbarError as host_dac.
void set_host_kernel_isa(const std::string& isa);

}  // namespace xbarsweep::crossbar::Impl
