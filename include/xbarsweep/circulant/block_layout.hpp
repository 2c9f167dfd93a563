#pragma once
/// \file
/// \brief Shape of a block-circulant matrix: how an out x in matrix is tiled into k x k blocks.
///
/// Convention (used by every part of the concept): block (i, j) of the zero-padded matrix is the
/// circulant matrix whose first *column* is the defining vector w_ij:
///
///     W[i*k + r][j*k + c] = w_ij[(r - c) mod k]
///
/// so that the block product is the circular convolution y_i = sum_j IFFT(FFT(w_ij) o FFT(x_j)),
/// the formula of C-LSTM (Wang et al., FPGA 2018), with no conjugation. Rows >= out and
/// columns >= in of the padded matrix do not exist (inputs are zero-padded, outputs cropped).

#include <cmath>
#include <cstdint>

#include "xbarsweep/error.hpp"

namespace xbarsweep::circulant {

/// \brief Block tiling of an out_features x in_features matrix with k x k circulant blocks.
struct BlockLayout {
  std::int64_t in_features = 0;   ///< columns of the dense matrix
  std::int64_t out_features = 0;  ///< rows of the dense matrix
  std::int64_t block_size = 1;    ///< k

  /// \brief Validates and builds a layout.
  /// \throws CirculantError when a size is not positive.
  static BlockLayout make(std::int64_t in_features, std::int64_t out_features, std::int64_t block_size) {
    XBARSWEEP_THROW_IF(in_features <= 0, CirculantError, "in_features must be positive");
    XBARSWEEP_THROW_IF(out_features <= 0, CirculantError, "out_features must be positive");
    XBARSWEEP_THROW_IF(block_size <= 0, CirculantError, "block_size k must be positive");
    return BlockLayout{in_features, out_features, block_size};
  }
  /// \brief p = ceil(out / k), the number of block rows.
  std::int64_t block_rows() const { return (out_features + block_size - 1) / block_size; }
  /// \brief q = ceil(in / k), the number of block columns.
  std::int64_t block_cols() const { return (in_features + block_size - 1) / block_size; }
  /// \brief k/2 + 1, the complex bins of the real FFT of one block.
  std::int64_t bins() const { return block_size / 2 + 1; }
  /// \brief Stored weights: p * q * k (the dense matrix stores out * in).
  std::int64_t parameters() const { return block_rows() * block_cols() * block_size; }
  /// \brief Real flops of one dense matvec, 2 * out * in.
  double dense_flops() const {
    return 2.0 * static_cast<double>(out_features) * static_cast<double>(in_features);
  }
  /// \brief Real flops of one FFT matvec: 8 per complex multiply-accumulate (p * q * bins of
  /// them) plus 2.5 k log2 k per real FFT (q forward, p inverse; the usual split-radix count).
  double circulant_flops() const {
    const double k = static_cast<double>(block_size);
    const double fft = block_size > 1 ? 2.5 * k * std::log2(k) : 0.0;
    const double p = static_cast<double>(block_rows()), q = static_cast<double>(block_cols());
    return 8.0 * p * q * static_cast<double>(bins()) + (p + q) * fft;
  }
  /// \brief out * in / (p * q * k): k when both dimensions are multiples of k.
  double compression_ratio() const {
    return static_cast<double>(out_features) * static_cast<double>(in_features) /
           static_cast<double>(parameters());
  }
};

}  // namespace xbarsweep::circulant
