// The MVM's host loops: every instruction-set version, both readout loop orders, the device
// form (Kokkos team kernel) and convolution patches read in place all give the same values.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <string>
#include <tuple>
#include <vector>

#include "test_helpers.hpp"
#include "xbarsweep/crossbar/impl/kernels.hpp"
#include "xbarsweep/crossbar/layer.hpp"

namespace xbarsweep::crossbar {
namespace {

using test::Matrix;

// Bit-for-bit equality, with the first differing element named.
std::string first_difference(const std::vector<float>& a, const std::vector<float>& b) {
  if (a.size() != b.size()) return "sizes " + std::to_string(a.size()) + " and " + std::to_string(b.size());
  for (std::size_t i = 0; i < a.size(); ++i)
    if (std::memcmp(&a[i], &b[i], sizeof(float)) != 0)
      return "element " + std::to_string(i) + ": " + std::to_string(a[i]) + " vs " + std::to_string(b[i]);
  return {};
}

// Configs that switch on each readout mode, with DAC planes, and a narrow (<= 16 columns used)
// and a wide layer for each.
std::vector<std::tuple<std::string, CrossbarConfig>> readout_configs() {
  std::vector<std::tuple<std::string, CrossbarConfig>> out;
  CrossbarConfig base;
  base.rows = base.cols = 32;
  base.levels = 16;
  base.sigma = 0.1;
  out.emplace_back("ideal readout", base);
  CrossbarConfig c = base;
  c.dac_bits = 4;
  c.input_bits = 8;
  c.adc_bits = 6;
  out.emplace_back("DAC planes, ADC", c);
  c.read_noise = 0.02;
  out.emplace_back("DAC planes, ADC, additive noise", c);
  c.read_noise_mode = ReadNoiseMode::Proportional;
  c.mapping = Mapping::Offset;
  c.g_min_us = 0.1;
  out.emplace_back("offset, ADC, proportional noise", c);
  c.adc_bits = 0;
  out.emplace_back("offset, proportional noise", c);
  CrossbarConfig a = base;
  a.read_noise = 0.03;
  a.dac_bits = 8;
  out.emplace_back("additive noise", a);
  return out;
}

std::vector<float> run(const CrossbarConfig& cfg, int out, int in, int batch) {
  const auto w = test::random_matrix(out, in, 21);
  const auto x = test::random_matrix(batch, in, 22);
  auto layer = program_layer(w.data(), out, in, cfg, {5, 2});
  const auto xv = test::to_view(x, batch, in);
  layer.calibrate(xv);
  Matrix y("y", batch, out);
  layer.mvm(xv, y);
  std::vector<float> all = test::to_host(y);
  layer.mvm(xv, y);  // a second call: fresh read noise
  const auto again = test::to_host(y);
  all.insert(all.end(), again.begin(), again.end());
  return all;
}

struct IsaGuard {  // restores the version the CPU chose
  std::string saved = Impl::host_kernel_isa();
  ~IsaGuard() { Impl::set_host_kernel_isa(saved); }
};

// The versions with FMA (AVX-512, AVX2) compute the same values bit for bit: the loops are
// elementwise and both contract the same products. The baseline version has no FMA: its values
// agree to float rounding, and where a value sits on an ADC rounding boundary that rounding can
// move it by one ADC step, rarely.
TEST(HostKernels, InstructionSetVersionsAgree) {
  const IsaGuard guard;
  const std::vector<std::string> isas = Impl::host_kernel_isas();
  ASSERT_FALSE(isas.empty());
  std::printf("host kernel versions this CPU runs:");
  for (const auto& isa : isas) std::printf(" %s", isa.c_str());
  std::printf(" (chosen: %s)\n", guard.saved.c_str());
  for (const auto& [name, cfg] : readout_configs())
    for (const auto& [out, in] : {std::pair{6, 75}, std::pair{70, 45}}) {
      Impl::set_host_kernel_isa(isas.front());
      const auto reference = run(cfg, out, in, 37);
      double scale = 0.0;
      for (const float v : reference) scale = std::max(scale, std::fabs(double(v)));
      for (const auto& isa : isas) {
        Impl::set_host_kernel_isa(isa);
        const auto values = run(cfg, out, in, 37);
        const std::string where = name + ", " + std::to_string(out) + " x " + std::to_string(in) + ": " +
                                  isa + " against " + isas.front();
        if (isa != "baseline") {
          EXPECT_EQ(first_difference(values, reference), "") << where;
          continue;
        }
        ASSERT_EQ(values.size(), reference.size());
        std::size_t off = 0;
        double worst = 0.0;
        for (std::size_t i = 0; i < values.size(); ++i) {
          const double d = std::fabs(double(values[i]) - double(reference[i]));
          if (d > 1e-5 * scale) ++off;
          worst = std::max(worst, d);
        }
        if (cfg.adc_bits == 0) {
          EXPECT_LE(worst, 1e-5 * scale) << where;
        } else {  // one ADC step at most, rarely
          EXPECT_LE(off, values.size() / 100) << where << ": " << off << " values moved";
          EXPECT_LE(worst, 0.1 * scale) << where;
        }
      }
    }
}

TEST(HostKernels, UnknownOrMissingVersionIsAClearError) {
  const IsaGuard guard;
  try {
    Impl::set_host_kernel_isa("sse9");
    FAIL() << "expected a CrossbarError";
  } catch (const CrossbarError& e) {
    EXPECT_NE(std::string(e.what()).find("XBARSWEEP_CROSSBAR_ISA=sse9: expected one of"), std::string::npos)
        << e.what();
  }
}

// The readout's three forms: tile by tile, rows in order (columns innermost), rows innermost (narrow tiles)
// and the device form (one team per row, a lane per column drawing its own noise), run here
// through a host TeamPolicy. Same draws, reads and sums: equal bit for bit (FMA versions: the
// rows-innermost and columns-innermost forms, also bit for bit).
template <bool A, bool P, bool Adc>
void expect_readout_forms_agree(const char* name) {
  const int batch = 23, cols = 16, nc = 3, slices = 2, out = 2 * cols + 5;  // a partial last column tile
  const int np = nc * slices * cols;
  std::vector<float> p(std::size_t(batch) * np), p2(p.size()), lo(np), step(np), inv(np);
  const auto noise = test::random_matrix(batch, np, 31);
  for (std::size_t i = 0; i < p.size(); ++i) {
    p[i] = 3.0f * noise[i];
    p2[i] = 1.0f + noise[i] * noise[i];
  }
  for (int j = 0; j < np; ++j) {
    lo[j] = -2.5f;
    step[j] = 5.0f / 63.0f;
    inv[j] = 63.0f / 5.0f;
  }
  const std::vector<float> factors = {1.0f, 4.0f};
  const std::vector<int> tile_k = {0, 1, 2};
  Impl::ReadoutArgs args;
  args.p = p.data();
  args.p2 = P ? p2.data() : nullptr;
  args.lo = lo.data();
  args.step = step.data();
  args.inv_step = inv.data();
  args.slice_factor = factors.data();
  args.tile_k = tile_k.data();
  args.np = np;
  args.out = out;
  args.nc = nc;
  args.cols = cols;
  args.slices = slices;
  args.r = 1;
  args.additive_sigma = 0.2f;
  args.prop_sigma = 0.1f;
  args.adc_top = Adc ? 63.0f : 0.0f;
  args.stream_key = 0x1234567ULL;
  args.acc_stride = nc * cols;
  const int mode = Impl::readout_mode(A, P, Adc);
  const auto host_forms = [&](std::vector<float>& by_row, std::vector<float>& by_column) {
    args.acc = by_row.data();
    Impl::host_readout(args, mode, false, 0, batch);
    args.acc = by_column.data();
    Impl::host_readout(args, mode, true, 0, 10);  // two blocks of rows
    Impl::host_readout(args, mode, true, 10, batch);
  };
  const IsaGuard guard;
  for (const auto& isa : Impl::host_kernel_isas()) {
    Impl::set_host_kernel_isa(isa);
    std::vector<float> by_row(std::size_t(batch) * nc * cols, 0.5f), by_column = by_row;
    host_forms(by_row, by_column);
    EXPECT_EQ(first_difference(by_column, by_row), "")
        << name << ", " << isa << ": rows innermost against a row at a time";
    if (isa != "baseline") continue;
    // The team kernel is compiled here, for the baseline: compare it with the baseline version.
    std::vector<float> team(by_row.size(), 0.5f);
    args.acc = team.data();
    Kokkos::parallel_for(Kokkos::TeamPolicy<Kokkos::DefaultHostExecutionSpace>(batch, 1, 1),
                         Impl::Readout<A, P, Adc>(args));
    Kokkos::fence();
    EXPECT_EQ(first_difference(team, by_row), "") << name << ": device form against a row at a time";
  }
}

TEST(HostKernels, ReadoutFormsAgree) {
  expect_readout_forms_agree<false, false, false>("no noise, no ADC");
  expect_readout_forms_agree<true, false, false>("additive");
  expect_readout_forms_agree<false, true, false>("proportional");
  expect_readout_forms_agree<false, false, true>("ADC");
  expect_readout_forms_agree<true, false, true>("additive, ADC");
  expect_readout_forms_agree<false, true, true>("proportional, ADC");
}

// The unfolded matrix of a convolution, (N Ho Wo) x (C kh kw), from an unpadded NCHW input.
std::vector<float> unfold(const std::vector<float>& x, const ConvPatches& g, int pad_h, int pad_w) {
  const int ho = g.out_height(), wo = g.out_width(), h = g.height - 2 * pad_h, w = g.width - 2 * pad_w;
  std::vector<float> cols;
  for (int n = 0; n < g.images; ++n)
    for (int oh = 0; oh < ho; ++oh)
      for (int ow = 0; ow < wo; ++ow)
        for (int c = 0; c < g.channels; ++c)
          for (int i = 0; i < g.kernel_h; ++i)
            for (int j = 0; j < g.kernel_w; ++j) {
              const int ih = oh * g.stride_h + i * g.dilation_h - pad_h;
              const int iw = ow * g.stride_w + j * g.dilation_w - pad_w;
              const bool inside = ih >= 0 && ih < h && iw >= 0 && iw < w;
              cols.push_back(inside ? x[((std::size_t(n) * g.channels + c) * h + ih) * w + iw] : 0.0f);
            }
  return cols;
}

std::vector<float> pad_input(const std::vector<float>& x, int n, int c, int h, int w, int ph, int pw) {
  std::vector<float> out(std::size_t(n) * c * (h + 2 * ph) * (w + 2 * pw), 0.0f);
  for (int a = 0; a < n * c; ++a)
    for (int i = 0; i < h; ++i)
      for (int j = 0; j < w; ++j)
        out[(std::size_t(a) * (h + 2 * ph) + i + ph) * (w + 2 * pw) + j + pw] =
            x[(std::size_t(a) * h + i) * w + j];
  return out;
}

// Patches read in place (matrix and NCHW output) equal the unfolded rows' MVM bit for bit,
// call by call: strides, dilation, padding, several channels, a chunk that ends mid-image and
// a last chunk past the end; a bit-serial DAC (2 planes, each patch's inputs driven) and a
// one-plane DAC (the call's images driven once, ProgrammedLayer::drive_patch_input); output rows
// narrower than DacPlane::kShortRow (gathered) and wider (copied run by run).
class ConvPatchesDac : public ::testing::TestWithParam<int> {};

TEST_P(ConvPatchesDac, EqualTheUnfoldedRowsBitForBit) {
  struct Geometry {
    int n, c, h, w, kh, kw, sh, sw, dh, dw, ph, pw, out, chunk;
  };
  CrossbarConfig cfg;
  cfg.rows = cfg.cols = 32;
  cfg.levels = 8;
  cfg.sigma = 0.1;
  // 4: a bit-serial DAC; 8: one plane; 9: one plane, proportional read noise (squared codes);
  // 10: one plane, the offset mapping (input sums).
  cfg.dac_bits = GetParam() == 4 ? 4 : 8;
  cfg.input_bits = 8;
  cfg.adc_bits = 6;
  cfg.read_noise = 0.02;
  if (GetParam() == 9) cfg.read_noise_mode = ReadNoiseMode::Proportional;
  if (GetParam() == 10) cfg.mapping = Mapping::Offset;
  for (const Geometry t : {Geometry{3, 2, 9, 8, 3, 2, 2, 1, 1, 2, 1, 0, 5, 50},
                           Geometry{2, 3, 7, 7, 3, 3, 1, 1, 1, 1, 1, 1, 40, 64},
                           Geometry{4, 1, 6, 6, 5, 5, 1, 1, 1, 1, 2, 2, 6, 1000},
                           Geometry{5, 2, 6, 5, 3, 3, 1, 2, 1, 1, 1, 1, 7, 17},
                           Geometry{2, 3, 18, 20, 3, 3, 1, 1, 1, 1, 1, 1, 9, 150}}) {
    ConvPatches g;
    g.images = t.n;
    g.channels = t.c;
    g.height = t.h + 2 * t.ph;
    g.width = t.w + 2 * t.pw;
    g.kernel_h = t.kh;
    g.kernel_w = t.kw;
    g.stride_h = t.sh;
    g.stride_w = t.sw;
    g.dilation_h = t.dh;
    g.dilation_w = t.dw;
    const int in = t.c * t.kh * t.kw, ho = g.out_height(), wo = g.out_width(), rows = t.n * ho * wo;
    const auto x = test::random_matrix(t.n * t.c * t.h, t.w, 41);
    const auto padded = pad_input(x, t.n, t.c, t.h, t.w, t.ph, t.pw);
    const auto cols = unfold(x, g, t.ph, t.pw);
    ASSERT_EQ(cols.size(), std::size_t(rows) * in);
    const auto w = test::random_matrix(t.out, in, 42);
    auto a = program_layer(w.data(), t.out, in, cfg, {9, 1});
    auto b = program_layer(w.data(), t.out, in, cfg, {9, 1});
    auto c = program_layer(w.data(), t.out, in, cfg, {9, 1});
    const auto all = test::to_view(cols, rows, in);
    a.calibrate(all);
    b.calibrate(all);
    c.calibrate(all);
    Matrix padded_view("padded", 1, padded.size());
    {
      auto h = Kokkos::create_mirror_view(padded_view);
      for (std::size_t i = 0; i < padded.size(); ++i) h(0, i) = padded[i];
      Kokkos::deep_copy(padded_view, h);
    }
    g.x = padded_view.data();
    Matrix nchw("nchw", 1, std::size_t(rows) * t.out);
    std::vector<float> expected(std::size_t(rows) * t.out), as_matrix(expected.size());
    for (int begin = 0; begin < rows; begin += t.chunk) {
      const int n = std::min(t.chunk, rows - begin);
      std::vector<float> chunk(std::size_t(t.chunk) * in, 0.0f);  // zero rows past the end
      std::copy(cols.begin() + std::size_t(begin) * in, cols.begin() + std::size_t(begin + n) * in,
                chunk.begin());
      Matrix ya("ya", t.chunk, t.out), yb("yb", t.chunk, t.out);
      a.mvm(test::to_view(chunk, t.chunk, in), ya);
      g.first_row = begin;
      g.rows = t.chunk;
      b.mvm(g, yb);
      c.mvm(g, nchw.data());
      const auto ha = test::to_host(ya), hb = test::to_host(yb);
      std::copy(ha.begin(), ha.begin() + std::size_t(n) * t.out,
                expected.begin() + std::size_t(begin) * t.out);
      std::copy(hb.begin(), hb.begin() + std::size_t(n) * t.out,
                as_matrix.begin() + std::size_t(begin) * t.out);
    }
    EXPECT_EQ(first_difference(as_matrix, expected), "") << "patches, matrix output, " << t.out << " outputs";
    // NCHW: output j of row (image, position) at (image * out + j) * positions + position.
    const auto hn = test::to_host(nchw);
    std::vector<float> permuted(expected.size());
    for (int r = 0; r < rows; ++r)
      for (int j = 0; j < t.out; ++j)
        permuted[(std::size_t(r / (ho * wo)) * t.out + j) * (ho * wo) + r % (ho * wo)] =
            expected[std::size_t(r) * t.out + j];
    EXPECT_EQ(first_difference(hn, permuted), "") << "patches, NCHW output, " << t.out << " outputs";
  }
}

INSTANTIATE_TEST_SUITE_P(DacBits, ConvPatchesDac, ::testing::Values(4, 8, 9, 10));

TEST(ConvPatches, MismatchesAreClearErrors) {
  CrossbarConfig cfg;
  cfg.dac_bits = 8;
  const auto w = test::random_matrix(4, 18, 1);
  auto layer = program_layer(w.data(), 4, 18, cfg, {});
  std::vector<float> x(2 * 2 * 5 * 5, 0.5f);
  ConvPatches g;
  g.x = x.data();
  g.images = 2;
  g.channels = 2;
  g.height = g.width = 5;
  g.kernel_h = g.kernel_w = 3;
  g.rows = 4;
  Matrix y("y", 4, 4);
  EXPECT_THROW(layer.mvm(g, y), CrossbarError) << "not calibrated";
  layer.calibrate(test::to_view(std::vector<float>(18, 0.5f), 1, 18));
  g.channels = 3;
  EXPECT_THROW(layer.mvm(g, y), CrossbarError) << "27 inputs, the layer takes 18";
  g.channels = 1;
  g.kernel_h = 9;
  g.kernel_w = 2;
  EXPECT_THROW(layer.mvm(g, y), CrossbarError) << "kernel larger than the input";
}

}  // namespace
}  // namespace xbarsweep::crossbar
