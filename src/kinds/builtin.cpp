// The list of kinds compiled into xbarsweep. A new kind adds its factory here; nothing in
// sweep/ or store/ changes.
#include "xbarsweep/kinds/builtin.hpp"

namespace xbarsweep::kinds {

const KindRegistry& builtin_kinds() {
  static const KindRegistry registry = [] {
    KindRegistry r;
    r.add(make_synthetic_kind());
    r.add(make_train_kind());
    r.add(make_crossbar_eval_kind());
    r.add(make_admm_kind());
    r.add(make_clstm_kind());
    return r;
  }();
  return registry;
}

}  // namespace xbarsweep::kinds
