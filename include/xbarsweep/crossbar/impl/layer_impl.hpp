#pragma once
/// \file
/// \brief Definitions of ProgrammedLayer's members. Included by src/crossbar/layer.cpp for the
/// default execution space; include it yourself to instantiate another space.

#include <KokkosKernels_config.h>

#include <KokkosBlas3_gemm.hpp>
#if defined(KOKKOSKERNELS_ENABLE_TPL_BLAS)
#include <KokkosBlas_Host_tpl.hpp>
#endif
#include <Kokkos_Core.hpp>
#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <functional>
#include <queue>
#include <string>
#include <type_traits>
#include <vector>

#include "xbarsweep/crossbar/device.hpp"
#include "xbarsweep/crossbar/impl/kernels.hpp"
#include "xbarsweep/crossbar/layer.hpp"
#include "xbarsweep/crossbar/random.hpp"

namespace xbarsweep::crossbar {
namespace Impl {

/// Opens a named Kokkos profiling region for the lifetime of the object.
struct ProfilingRegion {
  explicit ProfilingRegion(const std::string& name) { Kokkos::Profiling::pushRegion(name); }
  ~ProfilingRegion() { Kokkos::Profiling::popRegion(); }
  ProfilingRegion(const ProfilingRegion&) = delete;
  ProfilingRegion& operator=(const ProfilingRegion&) = delete;
};

inline std::int64_t ipow(std::int64_t base, int e) {
  std::int64_t v = 1;
  for (int i = 0; i < e; ++i) v *= base;
  return v;
}

}  // namespace Impl

template <class ExecSpace>
ProgrammedLayer<ExecSpace>::ProgrammedLayer(const float* w, int out, int in, const CrossbarConfig& config,
                                            DeviceSeed seed, const std::vector<TileIndex>* tiles)
    : config_(config), seed_(seed), out_(out), in_(in) {
  Impl::ProfilingRegion region("xbarsweep::crossbar::program_layer");
  config_.validate();
  // The host loops' version is chosen now, outside any parallel region (a bad
  // XBARSWEEP_CROSSBAR_ISA is reported here).
  if constexpr (std::is_same<memory_space, Kokkos::HostSpace>::value) (void)Impl::host_kernel_isa();
  XBARSWEEP_THROW_IF(w == nullptr && out > 0 && in > 0, CrossbarError, "program_layer: null weights");
  XBARSWEEP_THROW_IF(out <= 0 || in <= 0, CrossbarError,
                     "program_layer: layer shape " << out << " x " << in << " must be positive");
  const int rows = config_.rows, cols = config_.cols;
  narrow_tiles_ = std::min(out, cols) <= 16;
  nr_ = (in + rows - 1) / rows;
  nc_ = (out + cols - 1) / cols;
  slices_ = config_.slices;
  planes_ = config_.input_planes();

  // Which tiles are considered, and which of them hold a nonzero weight.
  std::vector<TileIndex> considered;
  if (tiles) {
    considered = *tiles;
    for (std::size_t a = 0; a < considered.size(); ++a) {
      const TileIndex t = considered[a];
      XBARSWEEP_THROW_IF(t.row < 0 || t.row >= nr_ || t.col < 0 || t.col >= nc_, CrossbarError,
                         "program_layer: tile (" << t.row << ", " << t.col << ") outside the " << nr_ << " x "
                                                 << nc_ << " tile grid");
      for (std::size_t b = 0; b < a; ++b)
        XBARSWEEP_THROW_IF(considered[b] == t, CrossbarError,
                           "program_layer: tile (" << t.row << ", " << t.col << ") listed twice");
    }
  } else {
    for (int r = 0; r < nr_; ++r)
      for (int c = 0; c < nc_; ++c) considered.push_back({r, c});
  }
  float wmax = 0.0f;
  for (std::int64_t i = 0; i < static_cast<std::int64_t>(out) * in; ++i)
    wmax = std::max(wmax, std::fabs(w[i]));
  w_max_ = wmax;
  for (const TileIndex t : considered) {
    bool nonzero = false;
    const int o_end = std::min(out, (t.col + 1) * cols), i_end = std::min(in, (t.row + 1) * rows);
    for (int o = t.col * cols; o < o_end && !nonzero; ++o)
      for (int i = t.row * rows; i < i_end; ++i)
        if (w[static_cast<std::int64_t>(o) * in + i] != 0.0f) {
          nonzero = true;
          break;
        }
    if (nonzero)
      tiles_.push_back(t);
    else
      ++zero_tiles_;
  }

  // Storage: per row tile, its allocated tiles side by side, each slices * cols columns wide.
  tile_k_host_.assign(static_cast<std::size_t>(nr_) * nc_, -1);
  nphys_host_.assign(nr_, 0);
  pcoff_host_.assign(nr_, 0);
  for (const TileIndex t : tiles_) {
    const int k = nphys_host_[t.row] / (slices_ * cols);
    tile_k_host_[static_cast<std::size_t>(t.row) * nc_ + t.col] = k;
    nphys_host_[t.row] += slices_ * cols;
  }
  // The part of each row tile's product the readout reads: its word lines that carry inputs,
  // and its physical columns up to the last used one (a small layer uses few of a tile's).
  product_rows_host_.assign(nr_, 0);
  product_cols_host_.assign(nr_, 0);
  for (const TileIndex t : tiles_) {
    const int k = tile_k_host_[static_cast<std::size_t>(t.row) * nc_ + t.col];
    const int used = std::min(cols, out - t.col * cols);
    product_rows_host_[t.row] = std::min(rows, in - t.row * rows);
    product_cols_host_[t.row] =
        std::max(product_cols_host_[t.row], (k * slices_ + slices_ - 1) * cols + used);
  }
  total_phys_ = 0;
  for (int r = 0; r < nr_; ++r) {
    pcoff_host_[r] = total_phys_;
    total_phys_ += nphys_host_[r];
    max_nphys_ = std::max(max_nphys_, nphys_host_[r]);
  }

  tile_k_ = decltype(tile_k_)("xbarsweep::crossbar::tile_k", nr_, nc_);
  nphys_ = decltype(nphys_)("xbarsweep::crossbar::nphys", nr_);
  pcoff_ = decltype(pcoff_)("xbarsweep::crossbar::pcoff", nr_);
  {
    auto h_k = Kokkos::create_mirror_view(tile_k_);
    auto h_n = Kokkos::create_mirror_view(nphys_);
    auto h_p = Kokkos::create_mirror_view(pcoff_);
    for (int r = 0; r < nr_; ++r) {
      h_n(r) = nphys_host_[r];
      h_p(r) = pcoff_host_[r];
      for (int c = 0; c < nc_; ++c) h_k(r, c) = tile_k_host_[static_cast<std::size_t>(r) * nc_ + c];
    }
    Kokkos::deep_copy(tile_k_, h_k);
    Kokkos::deep_copy(nphys_, h_n);
    Kokkos::deep_copy(pcoff_, h_p);
  }

  // Weight -> integer level code -> per-slice digits -> nominal conductances.
  const CodeMapping map = code_mapping(config_);
  const bool quantized = map.quantized, differential = map.differential;
  const std::int64_t L = map.levels;
  const double q_top = map.q_top, unit = map.unit, g_min = config_.g_min_us;
  std::vector<float> factors(slices_);
  double factor_sum = 0.0;
  for (int s = 0; s < slices_; ++s) {
    factors[s] = static_cast<float>(quantized ? Impl::ipow(L, s) : 1);
    factor_sum += factors[s];
  }
  slice_factor_ = decltype(slice_factor_)("xbarsweep::crossbar::slice_factor", slices_);
  {
    auto h = Kokkos::create_mirror_view(slice_factor_);
    for (int s = 0; s < slices_; ++s) h(s) = factors[s];
    Kokkos::deep_copy(slice_factor_, h);
  }
  out_scale_ = wmax > 0.0f ? static_cast<float>(wmax / (q_top * unit)) : 0.0f;
  offset_per_x_ = differential ? 0.0f : static_cast<float>(g_min * factor_sum + q_top * unit);

  g_ = FlatView("xbarsweep::crossbar::G", static_cast<std::size_t>(rows) * total_phys_);
  const bool prop = config_.read_noise > 0.0 && config_.read_noise_mode == ReadNoiseMode::Proportional;
  if (prop) g2_ = FlatView("xbarsweep::crossbar::G2", static_cast<std::size_t>(rows) * total_phys_);
  col_abs_ = FlatView("xbarsweep::crossbar::col_abs", total_phys_);
  adc_lo_ = FlatView("xbarsweep::crossbar::adc_lo", total_phys_);
  adc_step_ = FlatView("xbarsweep::crossbar::adc_step", total_phys_);
  adc_inv_step_ = FlatView("xbarsweep::crossbar::adc_inv_step", total_phys_);
  if (tiles_.empty()) return;
  program_devices(w, DeviceModel::from(config_));
  if (config_.drift != Drift::None) drift_reference_ = reference_read();
}

template <class ExecSpace>
void ProgrammedLayer<ExecSpace>::program_devices(const float* w, const DeviceModel& model) {
  const int rows = config_.rows, cols = config_.cols;
  const CodeMapping map = code_mapping(config_);
  const bool quantized = map.quantized, differential = map.differential;
  const std::int64_t L = map.levels;
  const double q_top = map.q_top, unit = map.unit, g_min = config_.g_min_us;
  const bool prop = config_.read_noise > 0.0 && config_.read_noise_mode == ReadNoiseMode::Proportional;
  const float wmax = w_max_;
  std::vector<int> tile_r, tile_c, tile_k;
  for (const TileIndex t : tiles_) {
    tile_r.push_back(t.row);
    tile_c.push_back(t.col);
    tile_k.push_back(tile_k_host_[static_cast<std::size_t>(t.row) * nc_ + t.col]);
  }
  const int out = out_, in = in_;

  using HostMatrix = Kokkos::View<const float**, Kokkos::LayoutRight, Kokkos::HostSpace,
                                  Kokkos::MemoryTraits<Kokkos::Unmanaged>>;
  Kokkos::View<float**, Kokkos::LayoutRight, memory_space> wd("xbarsweep::crossbar::W", out, in);
  {
    auto h = Kokkos::create_mirror_view(wd);
    Kokkos::deep_copy(h, HostMatrix(w, out, in));
    Kokkos::deep_copy(wd, h);
  }
  const int ntiles = static_cast<int>(tiles_.size());
  Kokkos::View<int*, memory_space> d_tr("tile_r", ntiles), d_tc("tile_c", ntiles), d_tk("tile_k", ntiles);
  {
    auto hr = Kokkos::create_mirror_view(d_tr);
    auto hc = Kokkos::create_mirror_view(d_tc);
    auto hk = Kokkos::create_mirror_view(d_tk);
    for (int t = 0; t < ntiles; ++t) {
      hr(t) = tile_r[t];
      hc(t) = tile_c[t];
      hk(t) = tile_k[t];
    }
    Kokkos::deep_copy(d_tr, hr);
    Kokkos::deep_copy(d_tc, hc);
    Kokkos::deep_copy(d_tk, hk);
  }

  // Each tile slice and polarity's group key once (device_group_key), not once per cell.
  const int slices = slices_;
  Kokkos::View<std::uint64_t*, memory_space> group_key("xbarsweep::crossbar::device_group_key",
                                                       static_cast<std::size_t>(ntiles) * slices * 2);
  {
    auto h = Kokkos::create_mirror_view(group_key);
    for (int t = 0; t < ntiles; ++t)
      for (int s = 0; s < slices; ++s)
        for (int pol = 0; pol < 2; ++pol) {
          DeviceAddress addr;
          addr.seed = seed_.seed + config_.seed_offset;
          addr.layer = seed_.layer;
          addr.tile_row = static_cast<std::uint32_t>(tile_r[t]);
          addr.tile_col = static_cast<std::uint32_t>(tile_c[t]);
          addr.slice = static_cast<std::uint32_t>(s);
          addr.polarity = static_cast<std::uint32_t>(pol);
          h((static_cast<std::size_t>(t) * slices + s) * 2 + pol) = device_group_key(addr);
        }
    Kokkos::deep_copy(group_key, h);
  }
  const double wire = config_.wire_ohm;
  const auto g = g_;
  const auto g2 = g2_;
  const auto nphys = nphys_;
  const auto pcoff = pcoff_;
  const float wmax_f = wmax;
  const std::int64_t per_tile = static_cast<std::int64_t>(rows) * slices * cols;
  Kokkos::parallel_for(
      "xbarsweep::crossbar::program_devices",
      Kokkos::RangePolicy<ExecSpace, Kokkos::IndexType<std::int64_t>>(0, per_tile * ntiles),
      KOKKOS_LAMBDA(const std::int64_t idx) {
        const int t = static_cast<int>(idx / per_tile);
        const std::int64_t rem = idx % per_tile;
        const int i = static_cast<int>(rem / (slices * cols));
        const int pl = static_cast<int>(rem % (slices * cols));  // column within the tile's block
        const int s = pl / cols, jj = pl % cols;
        const int r = d_tr(t), c = d_tc(t), k = d_tk(t);
        const int o = c * cols + jj, ii = r * rows + i;
        const std::int64_t at = static_cast<std::int64_t>(rows) * pcoff(r) +
                                static_cast<std::int64_t>(i) * nphys(r) +
                                static_cast<std::int64_t>(k) * slices * cols + pl;
        if (o >= out || ii >= in) {  // cells outside the layer: never driven, never read
          g(at) = 0.0f;
          if (prop) g2(at) = 0.0f;
          return;
        }
        const double wv = wd(o, ii);
        double nominal[2];
        if (differential) {
          const double a = Kokkos::Experimental::fabs(wv) / wmax_f * q_top;
          double digit = a;
          if (quantized) {
            const std::int64_t q = static_cast<std::int64_t>(a + 0.5);
            std::int64_t d = q;
            for (int e = 0; e < s; ++e) d /= L;
            digit = double(d % L);
          }
          nominal[0] = g_min + (wv > 0.0 ? digit : 0.0) * unit;
          nominal[1] = g_min + (wv < 0.0 ? digit : 0.0) * unit;
        } else {
          const double a = wv / wmax_f * q_top;
          double digit = a + q_top;
          if (quantized) {
            const std::int64_t q = static_cast<std::int64_t>(Kokkos::Experimental::floor(a + 0.5));
            std::int64_t d = q + static_cast<std::int64_t>(q_top);
            for (int e = 0; e < s; ++e) d /= L;
            digit = double(d % L);
          }
          nominal[0] = g_min + digit * unit;
        }
        const int segments = wire_segments(rows, i, jj);
        double ge[2] = {0.0, 0.0};
        for (int pol = 0; pol < (differential ? 2 : 1); ++pol) {
          const std::uint64_t key =
              device_key(group_key((static_cast<std::int64_t>(t) * slices + s) * 2 + pol),
                         static_cast<std::uint32_t>(i), static_cast<std::uint32_t>(jj));
          const double gp = program_device(model, nominal[pol], key);
          ge[pol] = wire > 0.0 ? ir_drop(gp, wire, segments) : gp;
        }
        g(at) = static_cast<float>(ge[0] - ge[1]);
        if (prop) g2(at) = static_cast<float>(ge[0] * ge[0] + ge[1] * ge[1]);
      });

  const auto col_abs = col_abs_;
  for (int r = 0; r < nr_; ++r) {
    const int np = nphys_host_[r];
    if (np == 0) continue;
    const std::int64_t goff = static_cast<std::int64_t>(rows) * pcoff_host_[r];
    const std::int64_t coff = pcoff_host_[r];
    Kokkos::parallel_for(
        "xbarsweep::crossbar::column_abs_sum", Kokkos::RangePolicy<ExecSpace>(0, np),
        KOKKOS_LAMBDA(const int p) {
          float acc = 0.0f;
          for (int i = 0; i < rows; ++i)
            acc += Kokkos::Experimental::fabs(g(goff + std::int64_t(i) * np + p));
          col_abs(coff + p) = acc;
        });
  }
  Kokkos::fence();
}

template <class ExecSpace>
double ProgrammedLayer<ExecSpace>::reference_read() const {
  // A one-hot input on word line i reads column j as sum_s factor_s G(i, j, s); the sum of its
  // magnitude over every cell stands for aihwkit's mean (only ratios of it are used).
  double total = 0.0;
  const auto g = g_;
  const auto factor = slice_factor_;
  const int rows = config_.rows, cols = config_.cols, slices = slices_;
  for (int r = 0; r < nr_; ++r) {
    const int np = nphys_host_[r];
    if (np == 0) continue;
    const std::int64_t goff = static_cast<std::int64_t>(rows) * pcoff_host_[r];
    double part = 0.0;
    Kokkos::parallel_reduce(
        "xbarsweep::crossbar::drift_reference_read",
        Kokkos::RangePolicy<ExecSpace, Kokkos::IndexType<std::int64_t>>(0,
                                                                        static_cast<std::int64_t>(rows) * np),
        KOKKOS_LAMBDA(const std::int64_t idx, double& acc) {
          const std::int64_t i = idx / np;
          const int p = static_cast<int>(idx % np);
          if ((p / cols) % slices != 0) return;  // slice 0's cell stands for its tile column
          double v = 0.0;
          for (int s = 0; s < slices; ++s) v += double(factor(s)) * double(g(goff + i * np + p + s * cols));
          acc += Kokkos::Experimental::fabs(v);
        },
        part);
    total += part;
  }
  return total;
}

template <class ExecSpace>
void ProgrammedLayer<ExecSpace>::drift_to(const float* w, double t) {
  Impl::ProfilingRegion region("xbarsweep::crossbar::drift_to");
  XBARSWEEP_THROW_IF(!(t >= 0.0), CrossbarError, "drift_to: t = " << t << " s; expected >= 0");
  if (config_.drift == Drift::None || tiles_.empty()) return;
  XBARSWEEP_THROW_IF(w == nullptr, CrossbarError, "drift_to: null weights");
  program_devices(w, DeviceModel::at_time(config_, t));
  time_ = t;
  const double now = reference_read();
  compensation_ = config_.drift_compensation == DriftCompensation::Global && now > 0.0
                      ? static_cast<float>(drift_reference_ / now)
                      : 1.0f;
}

template <class ExecSpace>
float ProgrammedLayer<ExecSpace>::plane_full_scale() const {
  if (config_.dac_bits == 0 || planes_ == 1) return x_fs_;
  const int total = config_.effective_input_bits();
  const float lsb = x_fs_ / float((std::int64_t(1) << total) - 1);
  return lsb * float((std::int64_t(1) << config_.dac_bits) - 1);
}

template <class ExecSpace>
void ProgrammedLayer<ExecSpace>::reserve_scratch(int block, int slots) {
  if (block <= block_ && slots <= slots_) return;
  block = std::max(block, block_);
  slots = std::max(slots, slots_);
  const bool prop = config_.read_noise > 0.0 && config_.read_noise_mode == ReadNoiseMode::Proportional;
  const auto alloc = [](const std::string& name, std::size_t n) {
    return FlatView(Kokkos::view_alloc(Kokkos::WithoutInitializing, name), n);
  };
  const std::size_t n = static_cast<std::size_t>(slots) * block,
                    rows = static_cast<std::size_t>(config_.rows);
  xq_ = alloc("xbarsweep::crossbar::Xq", n * nr_ * rows);
  xq2_ = prop ? alloc("xbarsweep::crossbar::Xq2", n * nr_ * rows) : FlatView();
  xsum_ = alloc("xbarsweep::crossbar::xsum", n * nr_);
  p_ = alloc("xbarsweep::crossbar::P", n * max_nphys_);
  p2_ = prop ? alloc("xbarsweep::crossbar::P2", n * max_nphys_) : FlatView();
  acc_ = alloc("xbarsweep::crossbar::acc", n * nc_ * config_.cols);
  block_ = block;
  slots_ = slots;
}

template <class ExecSpace>
Impl::ScratchSlot ProgrammedLayer<ExecSpace>::scratch_slot(int slot) const {
  const std::int64_t n = static_cast<std::int64_t>(slot) * block_;
  Impl::ScratchSlot s;
  s.xq = xq_.data() + n * nr_ * config_.rows;
  s.xq2 = xq2_.data() ? xq2_.data() + n * nr_ * config_.rows : nullptr;
  s.xsum = xsum_.data() + n * nr_;
  s.p = p_.data() + n * max_nphys_;
  s.p2 = p2_.data() ? p2_.data() + n * max_nphys_ : nullptr;
  s.acc = acc_.data() + n * nc_ * config_.cols;
  return s;
}

template <class ExecSpace>
void ProgrammedLayer<ExecSpace>::release_scratch() {
  xq_ = {};
  xq2_ = {};
  xsum_ = {};
  p_ = {};
  p2_ = {};
  acc_ = {};
  std::vector<float>().swap(driven_);
  block_ = slots_ = 0;
}

// Rows per block of the host loops: 512 (the block's scratch stays in cache, its tile GEMMs are
// still efficient), or half the batch when that is smaller, so that two threads share even a
// small batch; at least 64. A function of the batch alone, never of the threads: BLAS rounds a
// product differently depending on how many rows one call has, and the results must not depend
// on the thread count.
inline int host_block(int batch) {
  return std::max(1, std::min(batch, std::min(512, std::max(64, (batch + 1) / 2))));
}

template <class ExecSpace>
Impl::DacPlane ProgrammedLayer<ExecSpace>::dac_plane(const Impl::InputRows& x, int plane,
                                                     const Impl::ScratchSlot& slot, int first) const {
  const bool ideal = config_.dac_bits == 0;
  const int total = config_.effective_input_bits();
  const std::int64_t max_code = ideal ? 1 : (std::int64_t(1) << total) - 1;
  const float fs = x_fs_ > 0.0f ? x_fs_ : 1.0f;
  const bool prop = config_.read_noise > 0.0 && config_.read_noise_mode == ReadNoiseMode::Proportional;
  Impl::DacPlane dac;
  dac.input = x;
  dac.xq = slot.xq;
  dac.xq2 = prop ? slot.xq2 : nullptr;
  dac.xsum = config_.mapping == Mapping::Offset ? slot.xsum : nullptr;
  dac.batch = block_;
  dac.first = first;
  dac.rows = config_.rows;
  dac.in = in_;
  dac.nr = nr_;
  dac.ideal = ideal || x.driven;  // driven inputs (drive_patch_input) are taken as they are
  dac.transposed = transposed_patches(x);
  dac.to_code = float(max_code) / fs;
  dac.lsb = fs / float(max_code);
  dac.shift = plane * config_.dac_bits;
  dac.code_max = static_cast<std::int32_t>(max_code);
  dac.code_mask = ideal ? 1 : static_cast<std::int32_t>((std::int64_t(1) << config_.dac_bits) - 1);
  return dac;
}

// The DAC of one input plane for rows [b0, b1) into \p slot.
template <class ExecSpace>
void ProgrammedLayer<ExecSpace>::encode_block(const Impl::InputRows& x, int plane,
                                              const Impl::ScratchSlot& slot, int b0, int b1) {
  const Impl::DacPlane dac = dac_plane(x, plane, slot, b0);
  if constexpr (std::is_same<memory_space, Kokkos::HostSpace>::value) {
    Impl::host_dac(dac, b0, b1);
  } else {
    const int nr = nr_;
    Kokkos::parallel_for(
        "xbarsweep::crossbar::dac", Kokkos::RangePolicy<ExecSpace>(0, (b1 - b0) * nr),
        KOKKOS_LAMBDA(const int i) { dac.encode(b0 + i / nr, i % nr); });
  }
}

// Whether the host loops write \p x's DAC codes feature-major (DacPlane::encode_rows_transposed):
// a convolution's patches, on a host space whose tile GEMMs go to a BLAS (which takes the codes
// transposed at no cost).
template <class ExecSpace>
bool ProgrammedLayer<ExecSpace>::transposed_patches(const Impl::InputRows& x) {
#if defined(KOKKOSKERNELS_ENABLE_TPL_BLAS)
  return std::is_same<memory_space, Kokkos::HostSpace>::value && x.feature_offset != nullptr;
#else
  (void)x;
  return false;
#endif
}

// One GEMM per row tile over all its allocated tiles, for the \p n rows of \p slot:
// P = Xq_r (n x rows) G_r (rows x nphys_r), and with proportional read noise
// P2 = Xq_r^2 (G+^2 + G-^2)_r. With \p used_only (host spaces, a BLAS TPL), only the part the
// readout reads: the word lines that carry inputs and the columns up to the last used one (the
// rest of P is left as it was); LeNet-5's first convolution uses 25 x 6 of a 32 x 32 tile.
template <class ExecSpace>
void ProgrammedLayer<ExecSpace>::tile_product(int r, const Impl::ScratchSlot& slot, int n, bool used_only,
                                              bool transposed) {
  const int rows = config_.rows, np = nphys_host_[r];
  const std::int64_t xoff = static_cast<std::int64_t>(r) * block_ * rows;
  const float* g = g_.data() + static_cast<std::int64_t>(rows) * pcoff_host_[r];
  const float* g2 = g2_.data() ? g2_.data() + static_cast<std::int64_t>(rows) * pcoff_host_[r] : nullptr;
  const bool second = slot.xq2 != nullptr && slot.p2 != nullptr;
#if defined(KOKKOSKERNELS_ENABLE_TPL_BLAS)
  if constexpr (std::is_same<memory_space, Kokkos::HostSpace>::value) {
    if (used_only) {  // row-major C = A B as column-major C^T = B^T A^T, with the leading dimensions
      const int k = product_rows_host_[r], m = product_cols_host_[r];
      // Feature-major codes (rows x block) are A^T row-major: A^T's column-major form, transposed.
      const char tb = transposed ? 'T' : 'N';
      const int ldb = transposed ? block_ : rows;
      KokkosBlas::Impl::HostBlas<float>::gemm('N', tb, m, n, k, 1.0f, g, np, slot.xq + xoff, ldb, 0.0f,
                                              slot.p, np);
      if (second)
        KokkosBlas::Impl::HostBlas<float>::gemm('N', tb, m, n, k, 1.0f, g2, np, slot.xq2 + xoff, ldb, 0.0f,
                                                slot.p2, np);
      return;
    }
  }
#endif
  XBARSWEEP_THROW_IF(transposed, CrossbarError, "tile_product: feature-major codes need the host BLAS path");
  using Unmanaged =
      Kokkos::View<float**, Kokkos::LayoutRight, memory_space, Kokkos::MemoryTraits<Kokkos::Unmanaged>>;
  using ConstUnmanaged =
      Kokkos::View<const float**, Kokkos::LayoutRight, memory_space, Kokkos::MemoryTraits<Kokkos::Unmanaged>>;
  KokkosBlas::gemm("N", "N", 1.0f, Unmanaged(slot.xq + xoff, n, rows), ConstUnmanaged(g, rows, np), 0.0f,
                   Unmanaged(slot.p, n, np));
  if (second)
    KokkosBlas::gemm("N", "N", 1.0f, Unmanaged(slot.xq2 + xoff, n, rows), ConstUnmanaged(g2, rows, np), 0.0f,
                     Unmanaged(slot.p2, n, np));
}

template <class ExecSpace>
void ProgrammedLayer<ExecSpace>::set_theoretical_adc_ranges() {
  const float fs = plane_full_scale();
  const float top = config_.adc_bits > 0 ? float((std::int64_t(1) << config_.adc_bits) - 1) : 1.0f;
  const auto lo = adc_lo_;
  const auto step = adc_step_;
  const auto inv = adc_inv_step_;
  const auto col_abs = col_abs_;
  Kokkos::parallel_for(
      "xbarsweep::crossbar::adc_theoretical_range",
      Kokkos::RangePolicy<ExecSpace, Kokkos::IndexType<std::int64_t>>(0, total_phys_),
      KOKKOS_LAMBDA(const std::int64_t p) {
        const float m = fs * col_abs(p);
        lo(p) = -m;
        step(p) = 2.0f * m / top;
        inv(p) = m > 0.0f ? top / (2.0f * m) : 0.0f;
      });
}

template <class ExecSpace>
void ProgrammedLayer<ExecSpace>::calibrate(ConstMatrix x) {
  Impl::ProfilingRegion region("xbarsweep::crossbar::calibrate");
  XBARSWEEP_THROW_IF(static_cast<int>(x.extent(1)) != in_, CrossbarError,
                     "calibrate: inputs have " << x.extent(1) << " features, the layer " << in_);
  const int batch = static_cast<int>(x.extent(0));
  XBARSWEEP_THROW_IF(batch == 0, CrossbarError, "calibrate: empty calibration batch");
  float m = 0.0f;
  const int in = in_;
  if constexpr (std::is_same<memory_space, Kokkos::HostSpace>::value) {
    // max |x| in 16 lanes, elementwise, so that it vectorises (a maximum does not depend on the
    // order; NaNs are passed over as the reduction below passes them over).
    constexpr int kLanes = 16;
    float lane[kLanes] = {};
    for (int b = 0; b < batch; ++b) {
      const float* row = x.data() + static_cast<std::int64_t>(b) * static_cast<std::int64_t>(x.stride(0));
      int i = 0;
      for (; i + kLanes <= in; i += kLanes)
        for (int l = 0; l < kLanes; ++l) {
          const float a = std::fabs(row[i + l]);
          lane[l] = a > lane[l] ? a : lane[l];
        }
      for (; i < in; ++i) {
        const float a = std::fabs(row[i]);
        lane[0] = a > lane[0] ? a : lane[0];
      }
    }
    for (const float a : lane) m = a > m ? a : m;
  } else {
    Kokkos::parallel_reduce(
        "xbarsweep::crossbar::dac_full_scale",
        Kokkos::MDRangePolicy<ExecSpace, Kokkos::Rank<2>>({0, 0}, {batch, in}),
        KOKKOS_LAMBDA(const int b, const int i, float& acc) {
          const float a = Kokkos::Experimental::fabs(x(b, i));
          acc = a > acc ? a : acc;
        },
        Kokkos::Max<float>(m));
  }
  x_fs_ = m > 0.0f ? m : 1.0f;
  calibrated_ = true;
  if (config_.adc_bits == 0 || total_phys_ == 0) return;
  if (config_.adc_range == AdcRange::Theoretical) {
    set_theoretical_adc_ranges();
    Kokkos::fence();
    return;
  }
  const bool host = std::is_same<memory_space, Kokkos::HostSpace>::value;
  const int block = host ? host_block(batch) : batch;  // one block at a time
  reserve_scratch(block, 1);
  const Impl::ScratchSlot slot = scratch_slot(0);
  const auto lo = adc_lo_;
  const auto hi = adc_step_;  // holds the maximum until the ranges are final
  const bool pooled = config_.adc_range == AdcRange::Percentile;
  // Pooled: the percentile of |current| over every used column, input plane and calibration
  // input, kept exactly with only the values at or above it: a min-heap of the largest `keep`.
  std::vector<std::vector<char>> used(nr_);  // per row tile: which physical columns hold outputs
  std::int64_t pool = 0;
  for (int r = 0; r < nr_ && pooled; ++r) {
    used[r].assign(nphys_host_[r], 0);
    for (int c = 0; c < nc_; ++c) {
      const int k = tile_k_host_[static_cast<std::size_t>(r) * nc_ + c];
      if (k < 0) continue;
      const int ncv = std::min(config_.cols, out_ - c * config_.cols);
      for (int sl = 0; sl < slices_; ++sl)
        for (int j = 0; j < ncv; ++j)
          used[r][static_cast<std::size_t>((k * slices_ + sl) * config_.cols + j)] = 1;
    }
    pool += static_cast<std::int64_t>(std::count(used[r].begin(), used[r].end(), 1)) * batch * planes_;
  }
  const std::int64_t at_least = std::max<std::int64_t>(
      1, static_cast<std::int64_t>(std::ceil(config_.adc_percentile / 100.0 * static_cast<double>(pool))));
  const std::int64_t rank = std::min(pool - 1, at_least - 1);  // 0-based, ascending, as nth_element's
  const std::size_t keep = static_cast<std::size_t>(std::max<std::int64_t>(1, pool - rank));
  std::priority_queue<float, std::vector<float>, std::greater<float>> largest;
  Kokkos::deep_copy(lo, 3.402823466e+38f);
  Kokkos::deep_copy(hi, -3.402823466e+38f);
  Impl::InputRows rows_of_x;
  rows_of_x.x = x.data();
  rows_of_x.ld = static_cast<std::int64_t>(x.stride(0));
  for (int b0 = 0; b0 < batch; b0 += block) {  // min, max and the pooled values: no order matters
    const int n = std::min(block, batch - b0);
    for (int plane = 0; plane < planes_; ++plane) {
      encode_block(rows_of_x, plane, slot, b0, b0 + n);
      for (int r = 0; r < nr_; ++r) {
        const int np = nphys_host_[r];
        if (np == 0) continue;
        tile_product(r, slot, n, false);  // every column: calibration reads them all
        if (pooled) {
          const Kokkos::View<const float*, memory_space, Kokkos::MemoryUnmanaged> currents(
              slot.p, std::int64_t(n) * np);
          const auto host_currents = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), currents);
          for (int b = 0; b < n; ++b)
            for (int j = 0; j < np; ++j) {
              if (!used[r][static_cast<std::size_t>(j)]) continue;
              const float v = std::fabs(host_currents(static_cast<std::int64_t>(b) * np + j));
              if (largest.size() < keep) {
                largest.push(v);
              } else if (v > largest.top()) {
                largest.pop();
                largest.push(v);
              }
            }
          continue;
        }
        const std::int64_t coff = pcoff_host_[r];
        const float* pr = slot.p;
        if constexpr (std::is_same<memory_space, Kokkos::HostSpace>::value) {  // rows outer: vectorises
          float* KOKKOS_RESTRICT const mn = lo.data() + coff;
          float* KOKKOS_RESTRICT const mx = hi.data() + coff;
          for (int b = 0; b < n; ++b) {
            const float* KOKKOS_RESTRICT const row = pr + static_cast<std::int64_t>(b) * np;
            for (int p = 0; p < np; ++p) {
              const float v = row[p];
              mn[p] = v < mn[p] ? v : mn[p];
              mx[p] = v > mx[p] ? v : mx[p];
            }
          }
          continue;
        }
        Kokkos::parallel_for(
            "xbarsweep::crossbar::adc_calibration", Kokkos::RangePolicy<ExecSpace>(0, np),
            KOKKOS_LAMBDA(const int p) {
              float mn = lo(coff + p), mx = hi(coff + p);
              for (int b = 0; b < n; ++b) {
                const float v = pr[std::int64_t(b) * np + p];
                mn = v < mn ? v : mn;
                mx = v > mx ? v : mx;
              }
              lo(coff + p) = mn;
              hi(coff + p) = mx;
            });
      }
    }
  }
  if (pooled) {  // one symmetric range for the layer: the percentile of |current|
    const float q = largest.empty() ? 0.0f : largest.top();
    Kokkos::deep_copy(lo, -q);
    Kokkos::deep_copy(hi, q);
  }
  const float top = float((std::int64_t(1) << config_.adc_bits) - 1);
  const float headroom = static_cast<float>(config_.adc_headroom);
  const auto inv = adc_inv_step_;
  Kokkos::parallel_for(
      "xbarsweep::crossbar::adc_finalize_range",
      Kokkos::RangePolicy<ExecSpace, Kokkos::IndexType<std::int64_t>>(0, total_phys_),
      KOKKOS_LAMBDA(const std::int64_t p) {
        const float span = (hi(p) - lo(p)) * headroom;
        if (headroom != 1.0f) lo(p) = 0.5f * (hi(p) + lo(p)) - 0.5f * span;  // else bit for bit as before
        hi(p) = span / top;                                                  // now the step
        inv(p) = span > 0.0f ? top / span : 0.0f;
      });
  Kokkos::fence();
}

template <class ExecSpace>
void ProgrammedLayer<ExecSpace>::mvm(ConstMatrix x, Matrix y) {
  Impl::ProfilingRegion region("xbarsweep::crossbar::mvm");
  const int batch = static_cast<int>(x.extent(0));
  XBARSWEEP_THROW_IF(
      static_cast<int>(x.extent(1)) != in_, CrossbarError,
      "mvm: x is " << x.extent(0) << " x " << x.extent(1) << ", the layer takes " << in_ << " inputs");
  check_output(y, batch);
  if (batch == 0) return;
  if (needs_calibration()) calibrate(x);
  Impl::InputRows input;
  input.x = x.data();
  input.ld = static_cast<std::int64_t>(x.stride(0));
  simulate(input, batch, Impl::matrix_rows(y));
}

template <class ExecSpace>
Impl::InputRows ProgrammedLayer<ExecSpace>::patch_rows(const ConvPatches& x) {
  XBARSWEEP_THROW_IF(x.rows < 0 || x.first_row < 0, CrossbarError,
                     "mvm: patches from row " << x.first_row << ", " << x.rows << " rows");
  XBARSWEEP_THROW_IF(x.channels * x.kernel_h * x.kernel_w != in_, CrossbarError,
                     "mvm: patches of " << x.channels << " x " << x.kernel_h << " x " << x.kernel_w
                                        << " inputs, the layer takes " << in_);
  XBARSWEEP_THROW_IF(x.stride_h < 1 || x.stride_w < 1 || x.dilation_h < 1 || x.dilation_w < 1, CrossbarError,
                     "mvm: stride and dilation must be >= 1");
  const int out_h = x.out_height(), out_w = x.out_width();
  XBARSWEEP_THROW_IF(x.images < 0 || out_h < 1 || out_w < 1, CrossbarError,
                     "mvm: a " << x.kernel_h << " x " << x.kernel_w << " kernel does not fit a " << x.height
                               << " x " << x.width << " input");
  XBARSWEEP_THROW_IF(needs_calibration(), CrossbarError,
                     "mvm: calibrate the layer before passing it convolution patches");
  // Offsets of each feature (channel, kernel row, kernel column) from a patch's first element,
  // built once per input shape.
  const std::array<int, 5> shape = {x.channels, x.height, x.width, x.kernel_h * 65536 + x.kernel_w,
                                    x.dilation_h * 65536 + x.dilation_w};
  if (shape != patch_shape_) {
    patch_offset_ = Kokkos::View<int*, memory_space>("xbarsweep::crossbar::patch_offset", in_);
    auto h = Kokkos::create_mirror_view(patch_offset_);
    for (int c = 0, f = 0; c < x.channels; ++c)
      for (int i = 0; i < x.kernel_h; ++i)
        for (int j = 0; j < x.kernel_w; ++j, ++f)
          h(f) = (c * x.height + i * x.dilation_h) * x.width + j * x.dilation_w;
    Kokkos::deep_copy(patch_offset_, h);
    patch_shape_ = shape;
  }
  Impl::InputRows input;
  input.x = x.x;
  input.feature_offset = patch_offset_.data();
  input.first = x.first_row;
  const std::int64_t positions = static_cast<std::int64_t>(out_h) * out_w;
  input.valid = std::max<std::int64_t>(0, std::min<std::int64_t>(x.rows, x.images * positions - x.first_row));
  input.image_stride = static_cast<std::int64_t>(x.channels) * x.height * x.width;
  input.out_w = out_w;
  input.positions = static_cast<int>(positions);
  input.row_step = x.stride_h * x.width;
  input.col_step = x.stride_w;
  return input;
}

template <class ExecSpace>
void ProgrammedLayer<ExecSpace>::mvm(const ConvPatches& x, Matrix y) {
  Impl::ProfilingRegion region("xbarsweep::crossbar::mvm");
  const Impl::InputRows input = patch_rows(x);
  check_output(y, x.rows);
  if (x.rows > 0) simulate(input, x.rows, Impl::matrix_rows(y));
}

template <class ExecSpace>
void ProgrammedLayer<ExecSpace>::mvm(const ConvPatches& x, float* y) {
  Impl::ProfilingRegion region("xbarsweep::crossbar::mvm");
  const Impl::InputRows input = patch_rows(x);
  XBARSWEEP_THROW_IF(y == nullptr && input.valid > 0, CrossbarError, "mvm: null output");
  Impl::OutputRows output;
  output.y = y;
  output.nchw = true;
  output.first = input.first;
  output.valid = input.valid;
  output.positions = input.positions;
  output.out = out_;
  if (x.rows > 0) simulate(input, x.rows, output);
}

template <class ExecSpace>
bool ProgrammedLayer<ExecSpace>::needs_calibration() const {
  const bool needs_range = config_.dac_bits > 0 || config_.adc_bits > 0 ||
                           (config_.read_noise > 0.0 && config_.read_noise_mode == ReadNoiseMode::Additive);
  return total_phys_ > 0 && needs_range && !calibrated_;
}

template <class ExecSpace>
void ProgrammedLayer<ExecSpace>::check_output(const Matrix& y, int batch) const {
  XBARSWEEP_THROW_IF(
      static_cast<int>(y.extent(0)) != batch || static_cast<int>(y.extent(1)) != out_, CrossbarError,
      "mvm: y is " << y.extent(0) << " x " << y.extent(1) << ", expected " << batch << " x " << out_);
}

// A convolution's patches on the host with one input plane: the DAC is elementwise, so the images
// this call's rows read are driven once into driven_ (3 x 3 kernels read each input 9 times,
// LeNet-5's 5 x 5 ones 25 times), and the patches are read from there with the DAC off. The
// same codes as driving each patch's inputs (drive(0) = 0 keeps the padding zero). \p x as it
// is otherwise.
template <class ExecSpace>
Impl::InputRows ProgrammedLayer<ExecSpace>::drive_patch_input(const Impl::InputRows& x, int batch) {
  if (x.feature_offset == nullptr || planes_ != 1 || config_.dac_bits == 0 || x.valid <= 0) return x;
  const std::int64_t image0 = x.first / x.positions;
  const std::int64_t image1 = (x.first + std::min<std::int64_t>(batch, x.valid) - 1) / x.positions + 1;
  const std::int64_t n = (image1 - image0) * x.image_stride;
  if (static_cast<std::int64_t>(driven_.size()) < n) driven_.resize(static_cast<std::size_t>(n));
  const Impl::DacPlane dac = dac_plane(x, 0, Impl::ScratchSlot{}, 0);
  const float* const src = x.x + image0 * x.image_stride;
  float* const dst = driven_.data();
  constexpr std::int64_t kPiece = 16384;
  Kokkos::parallel_for("xbarsweep::crossbar::drive_patch_input",
                       Kokkos::RangePolicy<ExecSpace>(0, (n + kPiece - 1) / kPiece),
                       [&](const std::int64_t k) {
                         const std::int64_t i0 = k * kPiece;
                         Impl::host_drive(dac, src + i0, dst + i0, std::min(kPiece, n - i0));
                       });
  Impl::InputRows rows = x;
  rows.x = dst;
  rows.first = x.first - image0 * x.positions;  // the same positions, images counted from image0
  rows.driven = true;
  return rows;
}

template <class ExecSpace>
void ProgrammedLayer<ExecSpace>::simulate(const Impl::InputRows& x_in, int batch, const Impl::OutputRows& y) {
  if (total_phys_ == 0) {  // nothing programmed: every output is 0
    const int out = out_;
    Kokkos::parallel_for(
        "xbarsweep::crossbar::zero_output", Kokkos::RangePolicy<ExecSpace>(0, batch),
        KOKKOS_LAMBDA(const int b) {
          float* row = y.base(b);
          if (row == nullptr) return;
          for (int j = 0; j < out; ++j) row[j * y.stride()] = 0.0f;
        });
    return;
  }
  const std::uint64_t call = reads_++;
  const bool additive = config_.read_noise > 0.0 && config_.read_noise_mode == ReadNoiseMode::Additive;
  const bool prop = config_.read_noise > 0.0 && config_.read_noise_mode == ReadNoiseMode::Proportional;
  const bool adc = config_.adc_bits > 0;
  const bool offset = config_.mapping == Mapping::Offset;
  // Compile-time branches: the hot loop carries only the effects that are on.
  const int mode = Impl::readout_mode(additive, prop, adc);
  XBARSWEEP_THROW_IF(additive && prop, CrossbarError, "mvm: unsupported readout mode " << mode);
  constexpr bool host = std::is_same<memory_space, Kokkos::HostSpace>::value;
  const int threads = host ? ExecSpace().concurrency() : 1;
  const int block = host ? host_block(batch) : batch;
  reserve_scratch(block, threads);
  const std::int64_t acc_width = static_cast<std::int64_t>(nc_) * config_.cols;
  // The readout of row tile r of one plane, for the rows of a block from b0 on.
  const auto tile_args = [&](int plane, int r, const Impl::ScratchSlot& slot, int b0) {
    Impl::ReadoutArgs a;
    a.p = slot.p;
    a.p2 = prop ? slot.p2 : nullptr;
    a.lo = adc_lo_.data();
    a.step = adc_step_.data();
    a.inv_step = adc_inv_step_.data();
    a.slice_factor = slice_factor_.data();
    a.acc = slot.acc;
    a.acc_stride = acc_width;
    a.first = b0;
    a.out = out_;
    a.nc = nc_;
    a.cols = config_.cols;
    a.slices = slices_;
    const double read_noise = config_.read_noise * config_.read_noise_gain(time_);
    a.additive_sigma = static_cast<float>(read_noise * config_.g_max_us) * plane_full_scale();
    a.prop_sigma = static_cast<float>(read_noise);
    a.adc_top = adc ? float((std::int64_t(1) << config_.adc_bits) - 1) : 0.0f;
    a.tile_k = tile_k_.data() + static_cast<std::int64_t>(r) * nc_;
    a.pcoff = pcoff_host_[r];
    a.np = nphys_host_[r];
    a.r = r;
    a.stream_key =
        hash_extend(hash_extend(hash_extend(splitmix64(seed_.seed + config_.seed_offset), seed_.layer),
                                0x5EAD0000ULL + call),
                    plane);
    return a;
  };
  const auto plane_sum = [&](int plane, const Impl::ScratchSlot& slot, int b0) {
    Impl::PlaneSum sum;
    sum.acc = slot.acc;
    sum.acc_stride = acc_width;
    sum.xsum = offset ? slot.xsum : nullptr;
    sum.tile_k = tile_k_.data();
    sum.y = y;
    // Drift compensation rescales the column reads, before the offset mapping's reference is
    // removed: scale c (a - offset / c xs) = scale (c a - offset xs).
    sum.scale = (config_.dac_bits > 0 ? float(std::int64_t(1) << (plane * config_.dac_bits)) : 1.0f) *
                out_scale_ * compensation_;
    sum.offset_per_x = offset_per_x_ / compensation_;
    sum.accumulate = plane > 0;
    sum.batch = block_;
    sum.first = b0;
    sum.nr = nr_;
    sum.nc = nc_;
    sum.cols = config_.cols;
    sum.out = out_;
    return sum;
  };
  if constexpr (host) {
    const Impl::InputRows x = drive_patch_input(x_in, batch);
    const bool transposed = transposed_patches(x);
    // Each block of rows goes through every plane and row tile on one thread, in that thread's
    // scratch: its DAC codes, tile products and sums stay in cache, and on a threaded space the
    // blocks' tile GEMMs run single-threaded side by side.
    const bool narrow = narrow_tiles_;
    Kokkos::Experimental::UniqueToken<ExecSpace> token;
    Kokkos::parallel_for(
        "xbarsweep::crossbar::mvm_rows", Kokkos::RangePolicy<ExecSpace>(0, (batch + block - 1) / block),
        [&](const int k) {
          const int b0 = k * block, b1 = std::min(batch, (k + 1) * block), id = token.acquire();
          const Impl::ScratchSlot slot = scratch_slot(id);
          for (int plane = 0; plane < planes_; ++plane) {
            encode_block(x, plane, slot, b0, b1);
            std::fill(slot.acc, slot.acc + static_cast<std::int64_t>(b1 - b0) * acc_width, 0.0f);
            for (int r = 0; r < nr_; ++r) {
              if (nphys_host_[r] == 0) continue;
              tile_product(r, slot, b1 - b0, true, transposed);
              Impl::host_readout(tile_args(plane, r, slot, b0), mode, narrow, b0, b1);
            }
            const Impl::PlaneSum sum = plane_sum(plane, slot, b0);
            for (int b = b0; b < b1; ++b) sum(b);
          }
          token.release(id);
        });
    return;
  }
  const Impl::ScratchSlot slot = scratch_slot(0);
  for (int plane = 0; plane < planes_; ++plane) {
    encode_block(x_in, plane, slot, 0, batch);
    Kokkos::deep_copy(
        Kokkos::View<float*, memory_space, Kokkos::MemoryUnmanaged>(slot.acc, batch * acc_width), 0.0f);
    for (int r = 0; r < nr_; ++r) {
      if (nphys_host_[r] == 0) continue;
      tile_product(r, slot, batch, false);
      const Impl::ReadoutArgs a = tile_args(plane, r, slot, 0);
      const auto policy =
          Kokkos::TeamPolicy<ExecSpace>(batch, 1, Kokkos::TeamPolicy<ExecSpace>::vector_length_max());
      switch (mode) {
#define XBARSWEEP_CROSSBAR_READOUT_CASE(m)                                            \
  case m:                                                                             \
    Kokkos::parallel_for("xbarsweep::crossbar::readout", policy,                      \
                         Impl::Readout<(m & 1) != 0, (m & 2) != 0, (m & 4) != 0>(a)); \
    break;
        XBARSWEEP_CROSSBAR_READOUT_CASE(0)
        XBARSWEEP_CROSSBAR_READOUT_CASE(1)
        XBARSWEEP_CROSSBAR_READOUT_CASE(2)
        XBARSWEEP_CROSSBAR_READOUT_CASE(4)
        XBARSWEEP_CROSSBAR_READOUT_CASE(5)
        XBARSWEEP_CROSSBAR_READOUT_CASE(6)
#undef XBARSWEEP_CROSSBAR_READOUT_CASE
        default:
          break;
      }
    }
    const Impl::PlaneSum sum = plane_sum(plane, slot, 0);
    Kokkos::parallel_for(
        "xbarsweep::crossbar::plane_sum", Kokkos::RangePolicy<ExecSpace>(0, batch),
        KOKKOS_LAMBDA(const int b) { sum(b); });
  }
}

template <class ExecSpace>
std::vector<float> ProgrammedLayer<ExecSpace>::tile_conductance(int r, int c) const {
  XBARSWEEP_THROW_IF(r < 0 || r >= nr_ || c < 0 || c >= nc_, CrossbarError,
                     "tile_conductance: tile (" << r << ", " << c << ") outside the grid");
  const int k = tile_k_host_[static_cast<std::size_t>(r) * nc_ + c];
  if (k < 0) return {};
  const int rows = config_.rows, width = slices_ * config_.cols, np = nphys_host_[r];
  auto h = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), g_);
  std::vector<float> outv(static_cast<std::size_t>(rows) * width);
  for (int i = 0; i < rows; ++i)
    for (int p = 0; p < width; ++p)
      outv[static_cast<std::size_t>(i) * width + p] =
          h(static_cast<std::int64_t>(rows) * pcoff_host_[r] + static_cast<std::int64_t>(i) * np +
            static_cast<std::int64_t>(k) * width + p);
  return outv;
}

template <class ExecSpace>
void ProgrammedLayer<ExecSpace>::adc_ranges(int r, int c, std::vector<float>& lo,
                                            std::vector<float>& hi) const {
  lo.clear();
  hi.clear();
  const int k = tile_k_host_[static_cast<std::size_t>(r) * nc_ + c];
  if (k < 0) return;
  const int width = slices_ * config_.cols;
  auto hl = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), adc_lo_);
  auto hs = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), adc_step_);
  const float top = config_.adc_bits > 0 ? float((std::int64_t(1) << config_.adc_bits) - 1) : 1.0f;
  for (int p = 0; p < width; ++p) {
    const std::int64_t at = pcoff_host_[r] + static_cast<std::int64_t>(k) * width + p;
    lo.push_back(hl(at));
    hi.push_back(hl(at) + hs(at) * top);
  }
}

}  // namespace xbarsweep::crossbar
