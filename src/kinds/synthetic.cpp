// Kind `synthetic`: a point of known cost and known result, for testing the engine and clusters.
//
// value = scale * (sin(x) + cos(y)) + 1e-3 * u(seed)   where u(seed) in [0, 1) is
//   splitmix64(seed) / 2^64. A point fails (throws) when h(id, "fail") < fail_rate and returns
//   value = NaN when h(id, "nan") < nan_rate, with h(id, salt) = fnv1a64(id + salt) / 2^64: the
//   failing fraction is deterministic and chosen by point id.
#include <chrono>
#include <cmath>
#include <cstdint>
#include <limits>
#include <stdexcept>
#include <thread>

#include "xbarsweep/config/hashing.hpp"
#include "xbarsweep/error.hpp"
#include "xbarsweep/kinds/builtin.hpp"

namespace xbarsweep::kinds {
namespace {

using config::fnv1a64;
using config::splitmix64;
using config::unit_interval;

class SyntheticKind final : public Kind {
 public:
  std::string name() const override { return "synthetic"; }
  std::string summary() const override {
    return "sleeps synthetic.work_ms and returns a known function of its parameters (engine tests)";
  }
  config::Schema schema() const override {
    using config::ParamSpec;
    using config::ValueType;
    config::Schema s;
    s.add({"synthetic.work_ms", ValueType::Real, 0.0, 0.0, 3.6e6, {}, "time each point sleeps, ms"});
    s.add({"synthetic.fail_rate",
           ValueType::Real,
           0.0,
           0.0,
           1.0,
           {},
           "fraction of points (chosen by id) that throw"});
    s.add({"synthetic.nan_rate",
           ValueType::Real,
           0.0,
           0.0,
           1.0,
           {},
           "fraction of points (chosen by id) whose value is NaN"});
    s.add({"synthetic.scale", ValueType::Real, 1.0, {}, {}, {}, "multiplies the value"});
    s.add({"synthetic.x", ValueType::Real, 0.0, {}, {}, {}, "first coordinate"});
    s.add({"synthetic.y", ValueType::Real, 0.0, {}, {}, {}, "second coordinate"});
    s.add(
        {"synthetic.steps", ValueType::Int, std::int64_t{1}, 1.0, 1.0e6, {}, "length of the `curve` array"});
    s.add({"synthetic.label",
           ValueType::String,
           std::string("a"),
           {},
           {},
           {"a", "b", "c"},
           "a string parameter, carried through untouched"});
    return s;
  }

  double cost_hint(const config::Params& p) const override { return p.real("synthetic.work_ms"); }

  Outcome run(const config::Params& p, const PointContext& context) const override {
    const std::string id = config::point_id(p);
    if (unit_interval(fnv1a64(id + "fail")) < p.real("synthetic.fail_rate")) {
      throw Error("synthetic failure injected for point " + id);
    }
    sleep_cancellable(p.real("synthetic.work_ms"), context);

    const auto seed = static_cast<std::uint64_t>(p.integer("seed"));
    const double scale = p.real("synthetic.scale");
    double value = scale * (std::sin(p.real("synthetic.x")) + std::cos(p.real("synthetic.y"))) +
                   1e-3 * unit_interval(splitmix64(seed));
    if (unit_interval(fnv1a64(id + "nan")) < p.real("synthetic.nan_rate")) {
      value = std::numeric_limits<double>::quiet_NaN();
    }
    Outcome out;
    out.metrics["value"] = value;
    out.metrics["work_ms"] = p.real("synthetic.work_ms");
    auto& curve = out.arrays["curve"];
    const auto steps = p.integer("synthetic.steps");
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
