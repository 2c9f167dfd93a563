// The host loops of the simulated MVM (DAC and readout), compiled for several instruction sets.
//
// GCC's function multiversioning (target_clones) compiles each entry point for x86-64-v4
// (AVX-512), x86-64-v3 (AVX2, FMA) and the baseline, and an ifunc resolver picks one when the
// program loads, from the CPU it runs on. `flatten` inlines everything the loops call into each
// clone, so that the per-element code (kernels.hpp, random.hpp) is compiled for that clone's
// instruction set: nothing compiled for a wider set is reachable from a narrower one. With
// XBARSWEEP_CROSSBAR_NATIVE (-march=native) there is one version, for the build machine.
//
// Vector width changes no result: the loops are elementwise (each output's sum runs over
// slices and row tiles in the same order whatever the width), but contraction into FMA does
// round differently, so results agree between instruction sets to float rounding, not bit for bit.
#include "xbarsweep/crossbar/impl/kernels.hpp"

#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && !defined(XBARSWEEP_CROSSBAR_NATIVE) && \
    defined(__ELF__)
#define XBARSWEEP_HOST_KERNEL \
  __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default"), flatten))
#define XBARSWEEP_HOST_KERNEL_DISPATCH 1
#else
#define XBARSWEEP_HOST_KERNEL __attribute__((flatten))
#define XBARSWEEP_HOST_KERNEL_DISPATCH 0
#endif

namespace xbarsweep::crossbar::Impl {

XBARSWEEP_HOST_KERNEL void host_dac(const DacPlane& dac, const int b0, const int b1) {
  dac.encode_rows(b0, b1);
}

namespace {
template <bool A, bool P, bool Adc>
inline void read(const ReadoutArgs& args, const bool rows_innermost, const int b0, const int b1) {
  const Readout<A, P, Adc> f(args);
  if (rows_innermost) {
    f.read_rows_innermost(b0, b1);
  } else {
    for (int b = b0; b < b1; ++b) f.read_row(b);
  }
}
}  // namespace

XBARSWEEP_HOST_KERNEL void host_readout(const ReadoutArgs& args, const int mode, const bool rows_innermost,
                                        const int b0, const int b1) {
  switch (mode) {
    case readout_mode(false, false, false): return read<false, false, false>(args, rows_innermost, b0, b1);
    case readout_mode(true, false, false): return read<true, false, false>(args, rows_innermost, b0, b1);
    case readout_mode(false, true, false): return read<false, true, false>(args, rows_innermost, b0, b1);
    case readout_mode(false, false, true): return read<false, false, true>(args, rows_innermost, b0, b1);
    case readout_mode(true, false, true): return read<true, false, true>(args, rows_innermost, b0, b1);
    case readout_mode(false, true, true): return read<false, true, true>(args, rows_innermost, b0, b1);
    default: return;  // additive and proportional together: refused by CrossbarConfig
  }
}

const char* host_kernel_isa() {
#if XBARSWEEP_HOST_KERNEL_DISPATCH
  __builtin_cpu_init();
  if (__builtin_cpu_supports("x86-64-v4")) return "avx512";
  if (__builtin_cpu_supports("x86-64-v3")) return "avx2";
  return "baseline";
#elif defined(__AVX512F__)
  return "avx512";
#elif defined(__AVX2__)
  return "avx2";
#else
  return "baseline";
#endif
}

}  // namespace xbarsweep::crossbar::Impl
