#pragma once
/// \file
/// \brief What to do to each compressible layer of a model: the constraint sets and the ADMM
/// penalty schedule, with per-layer overrides of a default.

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "xbarsweep/compress/constraints.hpp"

namespace xbarsweep::compress {

/// \brief rho of one ADMM pair: starts at `initial`, multiplied by `growth` after each ADMM
/// iteration, never above `cap` (paper A's public configs: 1e-4..7e-3, x1.1..x1.6, cap ~1).
struct RhoSchedule {
  double initial = 1e-3;
  double growth = 1.35;
  double cap = 1.0;
};

/// \brief The constraint on one layer.
///
/// - prune only: one ADMM pair onto the pruning set;
/// - levels only: one pair onto "every entry on a nonzero level" (or, with a fixed mask from an
///   earlier pruning stage, "zero off the mask, on a level on it": the sequential flow);
/// - both, `joint_exact` false (default, paper A): two pairs, Z1 onto the pruning set and Z2 onto
///   "quantized on Z1's support, zero elsewhere";
/// - both, `joint_exact` true: one pair onto the intersection set by project_pruned_levels.
struct LayerSpec {
  PruneSpec prune;
  std::optional<LevelSet> levels;
  bool joint_exact = false;
  RhoSchedule rho;

  bool compresses() const { return prune.kind != PruneKind::none || levels.has_value(); }
};

/// \brief Per-layer specs: `layers` overrides `defaults` by parameter name (e.g. "conv1.weight");
/// layers named in `skip` stay dense and unconstrained.
struct CompressionSpec {
  LayerSpec defaults;
  std::map<std::string, LayerSpec> layers;
  std::vector<std::string> skip;

  /// \brief The spec of layer \p name; a skipped layer gets a spec that compresses nothing.
  LayerSpec for_layer(const std::string& name) const;
};

}  // namespace xbarsweep::compress
