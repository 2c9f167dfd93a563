#pragma once
/// \file
/// \brief Factories of the kinds compiled into xbarsweep; src/kinds/builtin.cpp lists them.
/// Adding a kind = one file in src/kinds/ plus one line here and one in builtin.cpp.

#include <memory>

#include "xbarsweep/kinds/kind.hpp"

namespace xbarsweep::kinds {

std::unique_ptr<Kind> make_synthetic_kind();  ///< engine and cluster testing (synthetic.cpp)
std::unique_ptr<Kind> make_train_kind();      ///< LibTorch training on Fashion-MNIST (train.cpp)
std::unique_ptr<Kind>
make_crossbar_eval_kind();                ///< trained model on simulated crossbars (crossbar_eval.cpp)
std::unique_ptr<Kind> make_admm_kind();   ///< paper A: ADMM pruning + quantization for crossbars (admm.cpp)
std::unique_ptr<Kind> make_clstm_kind();  ///< block-circulant LSTMs, paper B (clstm.cpp)

/// \brief A registry holding every kind compiled into this build (see src/kinds/builtin.cpp).
const KindRegistry& builtin_kinds();

}  // namespace xbarsweep::kinds
