#pragma once
/// \file
/// \brief The points of a sweep, computed on demand by index: a 10^7-point grid costs no memory.

#include <cstdint>
#include <string>
#include <vector>

#include "xbarsweep/config/experiment.hpp"

namespace xbarsweep::config {

/// \brief Maps a point index in [0, size()) to its resolved parameters.
class SweepPlan {
 public:
  explicit SweepPlan(const Experiment& experiment);

  /// \brief Number of points: product of the axis sizes times the repeats.
  std::uint64_t size() const { return size_; }

  /// \brief The resolved parameters of point \p index: base values, then each axis' setting,
  /// then "seed" = experiment seed + repeat (unless an axis sets "seed" itself).
  Params point(std::uint64_t index) const;

  /// \brief The dotted paths that vary across points, in axis order ("seed" last if repeated).
  const std::vector<std::string>& swept_paths() const { return swept_; }

  const Experiment& experiment() const { return *experiment_; }

 private:
  const Experiment* experiment_;
  std::uint64_t size_ = 1;
  std::vector<std::string> swept_;
};

}  // namespace xbarsweep::config
