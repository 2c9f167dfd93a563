#pragma once
/// \file
/// \brief A weight matrix mapped and programmed onto crossbar tiles, and its simulated MVM.
///
/// Orientation: a layer y = W x with W of shape out x in is cut into tiles of
/// CrossbarConfig::rows x CrossbarConfig::cols. Tile (r, c) holds W[c*cols .. , r*rows .. ]
/// transposed: crossbar rows (word lines, driven by DACs) are inputs, crossbar columns (bit
/// lines, read by ADCs) are outputs. The partial sums of the row tiles r = 0 .. row_tiles-1 of
/// an output block c are added digitally. Tiles whose weights are all zero are not allocated.

#include <Kokkos_Core.hpp>
#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "xbarsweep/crossbar/config.hpp"
#include "xbarsweep/error.hpp"

namespace xbarsweep::crossbar {

/// \brief Identity of a layer's devices: (seed, layer) plus the tile and cell coordinates give
/// every device; nothing depends on the rank, the tile order or the backend.
struct DeviceSeed {
  std::uint64_t seed = 0;   ///< experiment / Monte Carlo sample seed
  std::uint32_t layer = 0;  ///< layer index in the model
};

/// \brief Coordinates of a tile in the layer's tile grid.
struct TileIndex {
  int row = 0;  ///< row-tile index: inputs [row*rows, (row+1)*rows)
  int col = 0;  ///< column-tile index: outputs [col*cols, (col+1)*cols)
  friend bool operator==(const TileIndex& a, const TileIndex& b) { return a.row == b.row && a.col == b.col; }
};

struct DeviceModel;

namespace Impl {
struct InputRows;
struct OutputRows;
struct DacPlane;
struct ScratchSlot;
}  // namespace Impl

/// \brief A convolution's input read as the rows of its GEMM, without materialising them (im2col
/// on the fly): row g is (image, output row, output column), feature f is (channel, kernel row,
/// kernel column), the order of weight.view(out, -1). The same values as the unfolded matrix.
struct ConvPatches {
  const float* x = nullptr;  ///< the zero-padded input, images x channels x height x width, contiguous
  int images = 0, channels = 0, height = 0, width = 0;  ///< padded input shape
  int kernel_h = 1, kernel_w = 1, stride_h = 1, stride_w = 1, dilation_h = 1, dilation_w = 1;
  std::int64_t first_row = 0;  ///< the layer row of this call's first row
  int rows = 0;                ///< rows of this call; rows past images x positions read as zeros
  int out_height() const { return (height - dilation_h * (kernel_h - 1) - 1) / stride_h + 1; }
  int out_width() const { return (width - dilation_w * (kernel_w - 1) - 1) / stride_w + 1; }
};

/// \brief A layer programmed onto crossbars: the programmed effective conductances of every
/// allocated tile (static non-idealities applied once), plus the scratch of its MVM.
///
/// \tparam ExecSpace Kokkos execution space of every kernel; Views live in its memory space.
template <class ExecSpace = Kokkos::DefaultExecutionSpace>
class ProgrammedLayer {
 public:
  using execution_space = ExecSpace;
  using memory_space = typename ExecSpace::memory_space;
  /// batch x features, row-major, in the execution space's memory.
  using Matrix = Kokkos::View<float**, Kokkos::LayoutRight, memory_space>;
  using ConstMatrix = Kokkos::View<const float**, Kokkos::LayoutRight, memory_space>;

  ProgrammedLayer() = default;

  /// \brief Maps and programs \p w (out x in, row-major, host memory).
  /// \param tiles when given, only these tiles are programmed, in this order (a rank's share of
  ///   the layer); the others behave as not allocated. Devices do not depend on this choice.
  /// \throws CrossbarError on an invalid config, shape or tile index.
  ProgrammedLayer(const float* w, int out, int in, const CrossbarConfig& config, DeviceSeed seed,
                  const std::vector<TileIndex>* tiles = nullptr);

  /// \brief Sets the DAC full scale (max |x|) and, with AdcRange::Calibrated, each ADC column's
  /// range ([min, max] of its noise-free current over this batch and every input plane).
  /// \param x calibration inputs, batch x in_features().
  void calibrate(ConstMatrix x);

  /// \brief y = simulated W x for every row of \p x: DAC, tile products, read noise, ADC,
  /// shift-and-add over slices and input planes, digital sum over row tiles, rescaling to
  /// weight units. When a DAC or calibrated ADC is on and calibrate() was never called, the
  /// first call calibrates on its own batch. Scratch is allocated only when the batch changes.
  /// \param x batch x in_features()  \param y batch x out_features(), overwritten
  /// \throws CrossbarError on a shape mismatch.
  void mvm(ConstMatrix x, Matrix y);

  /// \brief The same for \p x.rows rows of convolution patches (in the layer's memory space),
  /// read straight from the padded input: the DAC gathers each row's inputs, so the unfolded
  /// matrix never exists. The layer must be calibrated first (calibrate() on unfolded rows).
  /// \throws CrossbarError on a shape mismatch or an uncalibrated layer that needs ranges.
  void mvm(const ConvPatches& x, Matrix y);

  /// \brief The same, written straight into the convolution's output \p y (images x out x
  /// out_height x out_width, NCHW, in the layer's memory space): rows [x.first_row, x.first_row +
  /// x.rows) of the layer, those that exist. No bias is added.
  void mvm(const ConvPatches& x, float* y);

  /// \brief Reads the devices \p t seconds after programming (CrossbarConfig::drift): every
  /// device's conductance drifts from its programmed value (the same devices, the same draws: a
  /// device's drift exponent does not depend on t), while the DAC full scale and the ADC ranges
  /// stay as calibrated. With DriftCompensation::Global the outputs are rescaled digitally by the
  /// reference read at programming over the same read now (reference_read()). Nothing changes
  /// without drift or at t <= drift_t0. Read noise grows by CrossbarConfig::read_noise_gain(t).
  /// \param w the weights the layer was programmed with (out x in, row-major, host memory)
  /// \throws CrossbarError for t < 0 or null weights.
  void drift_to(const float* w, double t);
  /// \brief Seconds after programming at which the devices are read (drift_to); 0 before.
  double read_time() const { return time_; }
  /// \brief The global drift compensation's output factor (1 without compensation or drift).
  float drift_compensation() const { return compensation_; }
  /// \brief The reference read of drift compensation: sum over cells of |sum_s factor_s G(i, j, s)|,
  /// the magnitude of what a one-hot input on each word line reads on each column (aihwkit's
  /// readout of eye(in)), noise-free and without the ADC (a read averaged over repeats).
  double reference_read() const;

  /// \brief Frees the MVM's scratch (the next mvm() allocates it again): between the layers of a
  /// model, so that only one layer's scratch exists at a time.
  void release_scratch();

  int out_features() const { return out_; }
  int in_features() const { return in_; }
  int row_tiles() const { return nr_; }
  int col_tiles() const { return nc_; }
  /// \brief Tiles holding at least one nonzero weight, programmed here.
  int allocated_tiles() const { return static_cast<int>(tiles_.size()); }
  /// \brief Tiles considered (the whole grid, or the given share) that are entirely zero.
  int zero_tiles() const { return zero_tiles_; }
  /// \brief Physical crossbars: allocated tiles x slices x (2 for a differential pair).
  int crossbars() const { return allocated_tiles() * config_.crossbars_per_tile(); }
  /// \brief Allocated tiles in storage order.
  const std::vector<TileIndex>& tiles() const { return tiles_; }
  const CrossbarConfig& config() const { return config_; }
  /// \brief DAC full scale (max |x| of the calibration batch); 0 before calibration.
  float input_full_scale() const { return x_fs_; }
  bool calibrated() const { return calibrated_; }
  /// \brief True while the layer needs calibrate() (a DAC, a calibrated ADC or additive read
  /// noise, and calibrate() not called yet) before mvm() on convolution patches.
  bool needs_calibration() const;
  /// \brief Largest |w| of the layer: the weight that maps to the top level.
  float weight_max() const { return w_max_; }

  /// \brief Host copy of tile (r, c)'s programmed effective conductances in uS (G+ - G- or G,
  /// after variation, faults and IR drop), rows x (slices * cols) row-major, slice-major
  /// columns; cells outside the layer are 0. Empty when the tile is not allocated.
  std::vector<float> tile_conductance(int r, int c) const;

  /// \brief Host copy of the ADC ranges [lo, hi] of tile (r, c)'s columns (slices * cols).
  void adc_ranges(int r, int c, std::vector<float>& lo, std::vector<float>& hi) const;

 private:
  using FlatView = Kokkos::View<float*, memory_space>;
  void reserve_scratch(int block, int slots);
  Impl::ScratchSlot scratch_slot(int slot) const;
  float plane_full_scale() const;
  Impl::DacPlane dac_plane(const Impl::InputRows& x, int plane, const Impl::ScratchSlot& slot,
                           int first) const;
  void encode_block(const Impl::InputRows& x, int plane, const Impl::ScratchSlot& slot, int b0, int b1);
  Impl::InputRows drive_patch_input(const Impl::InputRows& x, int batch);
  void check_output(const Matrix& y, int batch) const;
  void simulate(const Impl::InputRows& x, int batch, const Impl::OutputRows& y);
  Impl::InputRows patch_rows(const ConvPatches& x);
  static bool transposed_patches(const Impl::InputRows& x);
  void tile_product(int r, const Impl::ScratchSlot& slot, int n, bool used_only, bool transposed = false);
  void set_theoretical_adc_ranges();
  void program_devices(const float* w, const DeviceModel& model);

  CrossbarConfig config_{};
  DeviceSeed seed_{};
  int out_ = 0, in_ = 0, nr_ = 0, nc_ = 0, slices_ = 1, planes_ = 1;
  int zero_tiles_ = 0;
  std::vector<TileIndex> tiles_;
  std::vector<int> tile_k_host_;          // nr x nc: position of tile (r, c) in its row, or -1
  std::vector<int> nphys_host_;           // physical columns per row tile
  std::vector<std::int64_t> pcoff_host_;  // first physical column of each row tile
  std::vector<int> product_rows_host_;    // per row tile: word lines that carry inputs
  std::vector<int> product_cols_host_;    // per row tile: physical columns up to the last used one
  std::int64_t total_phys_ = 0;
  int max_nphys_ = 0;  // physical columns of the widest row tile
  Kokkos::View<int**, Kokkos::LayoutRight, memory_space> tile_k_;
  Kokkos::View<int*, memory_space> nphys_;
  Kokkos::View<std::int64_t*, memory_space> pcoff_;
  Kokkos::View<float*, memory_space> slice_factor_;
  FlatView g_;        // per row tile r: rows x nphys_[r] at rows * pcoff_[r]
  FlatView g2_;       // the same with G+^2 + G-^2 (proportional read noise only)
  FlatView col_abs_;  // sum_i |G_ij| per physical column
  FlatView adc_lo_, adc_step_, adc_inv_step_;
  float w_max_ = 0.0f, out_scale_ = 1.0f, offset_per_x_ = 0.0f;
  float x_fs_ = 0.0f;
  bool calibrated_ = false;
  double time_ = 0.0;             // s after programming of the devices' read (drift_to)
  double drift_reference_ = 0.0;  // reference_read() as programmed (drift on)
  float compensation_ = 1.0f;     // global drift compensation's output factor
  bool narrow_tiles_ = false;     // at most 16 columns used per tile: readout vectorises over rows
  std::uint64_t reads_ = 0;       // MVM calls so far: keys the fresh read noise of each call

  // MVM scratch: slots_ blocks of block_ rows (one per thread on host spaces; the whole batch
  // elsewhere), each an Impl::ScratchSlot: DAC codes, input sums, one row tile's products, sums.
  int block_ = 0, slots_ = 0;
  FlatView xq_, xq2_, xsum_, p_, p2_, acc_;
  std::vector<float> driven_;                      // host: the padded input of a call, driven once
  Kokkos::View<int*, memory_space> patch_offset_;  // convolution patches: each feature's offset
  std::array<int, 5> patch_shape_{};               // the input shape patch_offset_ was built for
};

/// \brief Maps and programs a layer: ProgrammedLayer<ExecSpace>(w, out, in, config, seed).
template <class ExecSpace = Kokkos::DefaultExecutionSpace>
ProgrammedLayer<ExecSpace> program_layer(const float* w, int out, int in, const CrossbarConfig& config,
                                         DeviceSeed seed) {
  return ProgrammedLayer<ExecSpace>(w, out, in, config, seed);
}

/// \brief The same from a View (any memory space), copied to the host once.
template <class ExecSpace = Kokkos::DefaultExecutionSpace, class ViewType>
ProgrammedLayer<ExecSpace> program_layer(const ViewType& w, const CrossbarConfig& config, DeviceSeed seed) {
  Kokkos::View<float**, Kokkos::LayoutRight, Kokkos::HostSpace> host("xbarsweep::crossbar::weights",
                                                                     w.extent(0), w.extent(1));
  Kokkos::deep_copy(host, w);
  return ProgrammedLayer<ExecSpace>(host.data(), static_cast<int>(w.extent(0)), static_cast<int>(w.extent(1)),
                                    config, seed);
}

extern template class ProgrammedLayer<Kokkos::DefaultExecutionSpace>;

}  // namespace xbarsweep::crossbar
