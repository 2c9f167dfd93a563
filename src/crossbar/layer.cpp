// The simulated crossbar layer, instantiated for the default execution space.
#include "xbarsweep/crossbar/impl/layer_impl.hpp"

namespace xbarsweep::crossbar {
template class ProgrammedLayer<Kokkos::DefaultExecutionSpace>;
}  // namespace xbarsweep::crossbar
