// The host loops of the simulated MVM (DAC and readout), compiled for several instruction sets.
//
// Each entry point is compiled three times, for x86-64-v4 (AVX-512), x86-64-v3 (AVX2, FMA) and
// the baseline, with GCC's target attribute, and the first call picks one from the CPU it runs
// on (or from XBARSWEEP_CROSSBAR_ISA, to measure or test another on the same machine).
// `flatten` inlines everything the loops call into each version, so that the per-element code
// (kernels.hpp, random.hpp) is compiled for that version's instruction set, and nothing compiled
// for a wider set is reachable from a narrower one. With XBARSWEEP_CROSSBAR_NATIVE
// (-march=native), or off x86-64 or GCC, there is one version, for the build machine.
//
// The AVX-512 and AVX2 versions compute the same values bit for bit: the loops are elementwise
// (each output's sum runs over slices and row tiles in the same order whatever the vector
// width), and both contract the same products into FMA. The baseline has no FMA: its values
// agree to float rounding (tests/crossbar/test_kernels.cpp). Without contraction the FMA
// versions would agree with it bit for bit, at 1.4x the time.
#include <cstdlib>
#include <string>

#include "xbarsweep/crossbar/impl/kernels.hpp"
#include "xbarsweep/error.hpp"

#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && !defined(XBARSWEEP_CROSSBAR_NATIVE)
#define XBARSWEEP_HOST_KERNEL_VERSIONS 1
#else
#define XBARSWEEP_HOST_KERNEL_VERSIONS 0
#endif

namespace xbarsweep::crossbar::Impl {
namespace {

template <bool A, bool P, bool Adc>
inline void read(const ReadoutArgs& args, const bool rows_innermost, const int b0, const int b1) {
  const Readout<A, P, Adc> f(args);
  if (rows_innermost) {
    f.read_rows_innermost(b0, b1);
  } else {
    f.read_rows(b0, b1);
  }
}

inline void readout_any(const ReadoutArgs& args, const int mode, const bool rows_innermost, const int b0,
                        const int b1) {
  switch (mode) {
    case readout_mode(false, false, false):
      return read<false, false, false>(args, rows_innermost, b0, b1);
    case readout_mode(true, false, false):
      return read<true, false, false>(args, rows_innermost, b0, b1);
    case readout_mode(false, true, false):
      return read<false, true, false>(args, rows_innermost, b0, b1);
    case readout_mode(false, false, true):
      return read<false, false, true>(args, rows_innermost, b0, b1);
    case readout_mode(true, false, true):
      return read<true, false, true>(args, rows_innermost, b0, b1);
    case readout_mode(false, true, true):
      return read<false, true, true>(args, rows_innermost, b0, b1);
    default:
      return;  // additive and proportional together: refused by ProgrammedLayer
  }
}

using DacFn = void (*)(const DacPlane&, int, int);
using DriveFn = void (*)(const DacPlane&, const float*, float*, std::int64_t);
using ReadoutFn = void (*)(const ReadoutArgs&, int, bool, int, int);
struct Version {
  const char* isa;
  DacFn dac;
  DriveFn drive;
  ReadoutFn readout;
};

#define XBARSWEEP_HOST_KERNEL_VERSION(name, attributes)                                                \
  attributes __attribute__((flatten)) void dac_##name(const DacPlane& d, int b0, int b1) {             \
    d.encode_rows(b0, b1);                                                                             \
  }                                                                                                    \
  attributes __attribute__((flatten)) void drive_##name(const DacPlane& d, const float* x, float* y,   \
                                                        std::int64_t n) {                              \
    d.drive_values(x, y, n);                                                                           \
  }                                                                                                    \
  attributes __attribute__((flatten)) void readout_##name(const ReadoutArgs& a, int mode, bool narrow, \
                                                          int b0, int b1) {                            \
    readout_any(a, mode, narrow, b0, b1);                                                              \
  }

XBARSWEEP_HOST_KERNEL_VERSION(build, )
#if XBARSWEEP_HOST_KERNEL_VERSIONS
XBARSWEEP_HOST_KERNEL_VERSION(avx512, __attribute__((target("arch=x86-64-v4"))))
XBARSWEEP_HOST_KERNEL_VERSION(avx2, __attribute__((target("arch=x86-64-v3"))))
#endif
#undef XBARSWEEP_HOST_KERNEL_VERSION

// The build's own instruction set, for the version compiled without a target attribute.
constexpr const char* build_isa() {
#if XBARSWEEP_HOST_KERNEL_VERSIONS
  return "baseline";
#elif defined(__AVX512F__)
  return "avx512";
#elif defined(__AVX2__)
  return "avx2";
#else
  return "baseline";
#endif
}

bool cpu_runs(const std::string& isa) {
#if XBARSWEEP_HOST_KERNEL_VERSIONS
  __builtin_cpu_init();
  if (isa == "avx512") return __builtin_cpu_supports("x86-64-v4");
  if (isa == "avx2") return __builtin_cpu_supports("x86-64-v3");
#endif
  return isa == build_isa();
}

std::vector<Version> versions() {
  std::vector<Version> v;
#if XBARSWEEP_HOST_KERNEL_VERSIONS
  v.push_back({"avx512", dac_avx512, drive_avx512, readout_avx512});
  v.push_back({"avx2", dac_avx2, drive_avx2, readout_avx2});
#endif
  v.push_back({build_isa(), dac_build, drive_build, readout_build});
  return v;
}

Version choose(const char* requested) {
  const std::vector<Version> all = versions();
  if (requested != nullptr && *requested != '\0') {
    std::string names;
    for (const Version& v : all) {
      if (v.isa == std::string(requested)) {
        XBARSWEEP_THROW_IF(!cpu_runs(v.isa), CrossbarError,
                           "XBARSWEEP_CROSSBAR_ISA=" << requested << ": this CPU does not run " << requested
                                                     << " instructions");
        return v;
      }
      names += std::string(names.empty() ? "" : ", ") + v.isa;
    }
    XBARSWEEP_THROW_IF(true, CrossbarError,
                       "XBARSWEEP_CROSSBAR_ISA=" << requested << ": expected one of " << names
                                                 << " (the versions this build has), or unset");
  }
  for (const Version& v : all)
    if (cpu_runs(v.isa)) return v;
  return all.back();
}

Version& current() {
  static Version v = choose(std::getenv("XBARSWEEP_CROSSBAR_ISA"));
  return v;
}

}  // namespace

void host_dac(const DacPlane& dac, const int b0, const int b1) { current().dac(dac, b0, b1); }

void host_drive(const DacPlane& dac, const float* x, float* y, const std::int64_t n) {
  current().drive(dac, x, y, n);
}

void host_readout(const ReadoutArgs& args, const int mode, const bool rows_innermost, const int b0,
                  const int b1) {
  current().readout(args, mode, rows_innermost, b0, b1);
}

const char* host_kernel_isa() { return current().isa; }

std::vector<std::string> host_kernel_isas() {
  std::vector<std::string> out;
  for (const Version& v : versions())
    if (cpu_runs(v.isa)) out.emplace_back(v.isa);
  return out;
}

void set_host_kernel_isa(const std::string& isa) { current() = choose(isa.c_str()); }

}  // namespace xbarsweep::crossbar::Impl
