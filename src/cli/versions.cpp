#include "versions.hpp"

#include <hdf5.h>
#include <mpi.h>
#include <torch/version.h>
#include <yaml-cpp/yaml.h>

#include <Kokkos_Core.hpp>

#include "xbarsweep/crossbar/impl/kernels.hpp"
#include "xbarsweep/sweep/mpi.hpp"

namespace xbarsweep::cli {

std::map<std::string, std::string> software_versions() {
  std::map<std::string, std::string> v;
  v["xbarsweep"] = XBARSWEEP_VERSION;
  v["xbarsweep_git_commit"] = XBARSWEEP_GIT_COMMIT;
  v["libtorch"] = TORCH_VERSION;
  v["kokkos"] = std::to_string(KOKKOS_VERSION / 10000) + "." + std::to_string(KOKKOS_VERSION / 100 % 100) +
                "." + std::to_string(KOKKOS_VERSION % 100);
  v["kokkos_backend"] = Kokkos::DefaultExecutionSpace::name();
  v["crossbar_host_kernels"] =
      crossbar::Impl::host_kernel_isa();  // this machine's, or XBARSWEEP_CROSSBAR_ISA
  unsigned major = 0, minor = 0, release = 0;
  H5get_libversion(&major, &minor, &release);
  v["hdf5"] = std::to_string(major) + "." + std::to_string(minor) + "." + std::to_string(release);
  char mpi[MPI_MAX_LIBRARY_VERSION_STRING] = {};
  int len = 0;
  XBARSWEEP_MPI(MPI_Get_library_version(mpi, &len));
  std::string text(mpi, static_cast<std::size_t>(len));
  v["mpi"] = text.substr(0, text.find_first_of(",\n"));
  return v;
}

}  // namespace xbarsweep::cli
