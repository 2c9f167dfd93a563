#pragma once
/// \file
/// \brief What an experiment kind is: the only interface the sweep engine knows.

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "xbarsweep/config/checks.hpp"
#include "xbarsweep/config/schema.hpp"
#include "xbarsweep/config/value.hpp"
#include "xbarsweep/error.hpp"
#include "xbarsweep/kinds/checkpoint.hpp"

namespace xbarsweep::kinds {

/// \brief Thrown by a kind that noticed PointContext::cancelled(): the point is abandoned,
/// not recorded, and runs again on resume.
class Cancelled : public Error {
 public:
  Cancelled() : Error("point cancelled by a stop signal") {}
};

/// \brief What a point may know about where it runs. Nothing here may change its result.
struct PointContext {
  int threads = 1;                          ///< intra-op threads this point may use
  std::string cache_dir;                    ///< for artefacts shared between points (pretrained models)
  const std::atomic<bool>* stop = nullptr;  ///< set when the sweep is being stopped
  std::string checkpoint_path;              ///< this point's checkpoint; empty = no checkpoints
  double checkpoint_s = 60.0;               ///< save at most this often (the experiment's checkpoint_s)
  /// Where a point says what it did out of the ordinary ("resumed at epoch 3"); may be empty.
  std::function<void(const std::string&)> note;

  bool cancelled() const { return stop != nullptr && stop->load(std::memory_order_relaxed); }
  /// \brief This point's checkpoint (disabled when checkpoint_path is empty).
  PointCheckpoint checkpoint() const { return {checkpoint_path, checkpoint_s, stop}; }
  /// \brief A checkpoint of something shared between points (a pretrained baseline), at
  /// \p path, with this point's interval and stop flag; disabled when this point has none.
  PointCheckpoint checkpoint_at(const std::string& path) const {
    return checkpoint_path.empty() ? PointCheckpoint() : PointCheckpoint(path, checkpoint_s, stop);
  }
  void say(const std::string& what) const {
    if (note) note(what);
  }
  /// \brief Throws Cancelled when cancelled(); call it between batches or epochs.
  void check_cancelled() const {
    if (cancelled()) throw Cancelled();
  }
};

/// \brief What a point produces. Metric names are snake_case with their unit
/// (`accuracy` as a fraction, `power_mw`, `area_mm2`, `energy_nj`, `wall_s`).
struct Outcome {
  std::map<std::string, double> metrics;
  std::map<std::string, std::vector<double>> arrays;
};

/// \brief An experiment kind: the computation run at each point of a sweep.
class Kind {
 public:
  virtual ~Kind() = default;
  /// \brief The value of `kind:` in a config.
  virtual std::string name() const = 0;
  /// \brief One line for `xbarsweep kinds`.
  virtual std::string summary() const = 0;
  /// \brief Every parameter it accepts, with defaults.
  virtual config::Schema schema() const = 0;
  /// \brief Its semantic checks: constraints across parameters, against the model and against
  /// the file system. `plan` and `run` run them on every point (config::check_plan) before any
  /// point starts, so that run() never fails for a value these could have caught.
  virtual std::vector<config::Check> checks() const { return {}; }
  /// \brief Computes one point. Must depend only on \p params (which include "seed").
  /// Throws to report a failure; the sweep records it and goes on.
  virtual Outcome run(const config::Params& params, const PointContext& context) const = 0;
  /// \brief Relative cost, for most-expensive-first scheduling; 0 = unknown.
  virtual double cost_hint(const config::Params& params) const { return 0.0; }
};

/// \brief The kinds a build knows, by name.
class KindRegistry {
 public:
  void add(std::unique_ptr<Kind> kind);
  /// \brief nullptr when absent.
  const Kind* find(const std::string& name) const;
  std::vector<std::string> names() const;
  /// \brief Every kind's schema by name (what config::load_experiment needs).
  std::map<std::string, config::Schema> schemas() const;

 private:
  std::map<std::string, std::unique_ptr<Kind>> kinds_;
};

}  // namespace xbarsweep::kinds
