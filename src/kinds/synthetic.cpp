// Kind `synthetic`: a point of known cost and known result, for testing the engine and clusters.
//
// value = scale * (sin(x) + cos(y)) + 1e-3 * u(seed)   where u(seed) in [0, 1) is
//   splitmix64(seed) / 2^64. A point fails (throws) when h(id, "fail") < fail_rate and returns
//   value = NaN when h(id, "nan") < nan_rate, with h(id, salt) = fnv1a64(id + salt) / 2^64: the
//   failing fraction is deterministic and chosen by point id.
// The work is done in `steps` equal slices, one entry of `curve` each; between slices the point
// checkpoints (PointContext::checkpoint) the slices done, so an interrupted point resumes at its
// next slice: the engine's checkpoint tests run on this kind.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <limits>
#include <thread>

#include "xbarsweep/config/hashing.hpp"
#include "xbarsweep/config/section.hpp"
#include "xbarsweep/error.hpp"
#include "xbarsweep/kinds/builtin.hpp"

namespace xbarsweep::kinds {
namespace {

using config::fnv1a64;
using config::splitmix64;
using config::unit_interval;

// The `synthetic.` parameters of a point.
struct SyntheticParams {
  double work_ms = 0.0;
  double fail_rate = 0.0;
  double nan_rate = 0.0;
  double scale = 1.0;
  double x = 0.0;
  double y = 0.0;
  std::int64_t steps = 1;
  std::string label = "a";
};

// The one declaration of the `synthetic.` section.
const config::Section<SyntheticParams>& synthetic_section() {
  using S = SyntheticParams;
  static const config::Section<S> section =
      config::Section<S>("synthetic")
          .add("work_ms", &S::work_ms, "time each point sleeps, ms", {0.0, 3.6e6})
          .unit("ms")
          .add("fail_rate", &S::fail_rate, "fraction of points (chosen by id) that throw", {0.0, 1.0})
          .add("nan_rate", &S::nan_rate, "fraction of points (chosen by id) whose value is NaN", {0.0, 1.0})
          .add("scale", &S::scale, "multiplies the value")
          .add("x", &S::x, "first coordinate")
          .add("y", &S::y, "second coordinate")
          .add("steps", &S::steps,
               "slices of the work (one checkpoint boundary each) and length of the `curve` array",
               {1.0, 1.0e6})
          .add("label", &S::label, "a string parameter, carried through untouched")
          .choices({"a", "b", "c"});
  return section;
}

class SyntheticKind final : public Kind {
 public:
  std::string name() const override { return "synthetic"; }
  std::string summary() const override {
    return "sleeps synthetic.work_ms and returns a known function of its parameters (engine tests)";
  }
  config::Schema schema() const override { return synthetic_section().schema(); }

  double cost_hint(const config::Params& p) const override { return synthetic_section().read(p).work_ms; }

  Outcome run(const config::Params& p, const PointContext& context) const override {
    const SyntheticParams cfg = synthetic_section().read(p);
    const std::string id = config::point_id(p);
    if (unit_interval(fnv1a64(id + "fail")) < cfg.fail_rate) {
      throw Error("synthetic failure injected for point " + id);
    }
    const auto seed = static_cast<std::uint64_t>(p.integer("seed"));
    const double scale = cfg.scale;
    double value = scale * (std::sin(cfg.x) + std::cos(cfg.y)) + 1e-3 * unit_interval(splitmix64(seed));
    if (unit_interval(fnv1a64(id + "nan")) < cfg.nan_rate) {
      value = std::numeric_limits<double>::quiet_NaN();
    }
    // The checkpoint holds the number of slices done, as decimal text.
    PointCheckpoint checkpoint = context.checkpoint();
    const auto steps = cfg.steps;
    std::int64_t done = 0;
    if (const auto saved = checkpoint.load()) {
      done = std::clamp<std::int64_t>(std::atoll(saved->c_str()), 0, steps);
      context.say("resumed from its checkpoint at step " + std::to_string(done) + " of " +
                  std::to_string(steps));
    }
    // A checkpoint that cannot be written (a full disk) costs only the time it would save.
    const auto keep = [&](std::int64_t slices) {
      try {
        checkpoint.save(std::to_string(slices));
      } catch (const CheckpointError& e) {
        context.say(std::string("could not save its checkpoint, continuing without it: ") + e.what());
      }
    };
    for (; done < steps; ++done) {
      if (checkpoint.due()) keep(done);
      try {
        sleep_cancellable(cfg.work_ms / static_cast<double>(steps), context);
      } catch (const Cancelled&) {
        keep(done);  // the slices done so far are kept
        throw;
      }
    }
    Outcome out;
    out.metrics["value"] = value;
    out.metrics["work_ms"] = cfg.work_ms;
    auto& curve = out.arrays["curve"];
    for (std::int64_t i = 0; i < steps; ++i) curve.push_back(value / static_cast<double>(i + 1));
    return out;
  }

 private:
  static void sleep_cancellable(double ms, const PointContext& context) {
    using clock = std::chrono::steady_clock;
    const auto until = clock::now() + std::chrono::duration_cast<clock::duration>(
                                          std::chrono::duration<double, std::milli>(ms));
    while (clock::now() < until) {
      context.check_cancelled();
      const clock::duration left = until - clock::now();
      std::this_thread::sleep_for(std::min<clock::duration>(left, std::chrono::milliseconds(20)));
    }
  }
};

}  // namespace

std::unique_ptr<Kind> make_synthetic_kind() { return std::make_unique<SyntheticKind>(); }

}  // namespace xbarsweep::kinds
