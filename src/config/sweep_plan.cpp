#include "xbarsweep/config/sweep_plan.hpp"

#include <algorithm>
#include <cmath>

#include "xbarsweep/config/hashing.hpp"
#include "xbarsweep/error.hpp"

namespace xbarsweep::config {

namespace {

// The random word of (axis seed, sample, path): a pure function of its counters, so any sample
// of any point can be drawn alone, on any rank, in any order.
std::uint64_t counter_word(std::uint64_t seed, std::uint64_t sample, const std::string& path) {
  return splitmix64(splitmix64(seed ^ splitmix64(fnv1a64(path))) + sample);
}

// An index in [0, n) from a 64-bit word: the high half of word * n (Lemire's multiply-shift).
std::uint64_t index_below(std::uint64_t word, std::uint64_t n) {
  return static_cast<std::uint64_t>((static_cast<unsigned __int128>(word) * n) >> 64);
}

Value draw(const Distribution& d, std::uint64_t word) {
  const double u = static_cast<double>(word >> 11) * 0x1.0p-53;  // [0, 1), 53 random bits
  switch (d.kind) {
    case Distribution::Kind::Uniform:
      return std::clamp(d.low + u * (d.high - d.low), d.low, d.high);
    case Distribution::Kind::LogUniform: {
      const double logged = std::log(d.low) + u * (std::log(d.high) - std::log(d.low));
      return std::clamp(std::exp(logged), d.low, d.high);
    }
    case Distribution::Kind::IntUniform: {
      const auto low = static_cast<std::int64_t>(d.low);
      const auto count = static_cast<std::uint64_t>(static_cast<std::int64_t>(d.high) - low) + 1;
      return low + static_cast<std::int64_t>(index_below(word, count));
    }
    case Distribution::Kind::Choice:
      return d.choices.at(index_below(word, d.choices.size()));
  }
  return Value{};
}

}  // namespace

Setting Axis::at(std::uint64_t i) const {
  if (i >= size())
    throw InternalError("axis position " + std::to_string(i) + " of " + std::to_string(size()));
  if (kind != Kind::Random) return settings[i];
  Setting setting;
  setting.reserve(distributions.size());
  for (const auto& [path, distribution] : distributions)
    setting.emplace_back(path, draw(distribution, counter_word(seed, i, path)));
  return setting;
}

SweepPlan::SweepPlan(const Experiment& experiment) : experiment_(&experiment) {
  size_ = experiment.repeats;
  for (const Axis& axis : experiment.axes) {
    if (__builtin_mul_overflow(size_, axis.size(), &size_))
      throw InternalError("sweep of '" + experiment.name + "' has more than 2^64 points");
    for (const std::string& path : axis.paths)
      if (std::find(swept_.begin(), swept_.end(), path) == swept_.end()) swept_.push_back(path);
  }
  if (experiment.repeats > 1 && std::find(swept_.begin(), swept_.end(), "seed") == swept_.end())
    swept_.push_back("seed");
}

Params SweepPlan::point(std::uint64_t index) const {
  if (index >= size_)
    throw InternalError("point " + std::to_string(index) + " of a sweep of " + std::to_string(size_));
  const std::vector<Axis>& axes = experiment_->axes;
  // Mixed radix, last axis fastest; what is left after the axes is the repeat (slowest).
  std::vector<std::uint64_t> position(axes.size());
  std::uint64_t rest = index;
  for (std::size_t a = axes.size(); a-- > 0;) {
    position[a] = rest % axes[a].size();
    rest /= axes[a].size();
  }
  Params params = experiment_->base;
  bool seed_swept = false;
  for (std::size_t a = 0; a < axes.size(); ++a) {
    for (auto& [path, value] : axes[a].at(position[a])) {
      seed_swept = seed_swept || path == "seed";
      params.set(path, std::move(value));
    }
  }
  if (!seed_swept) params.set("seed", experiment_->seed + static_cast<std::int64_t>(rest));
  return params;
}

}  // namespace xbarsweep::config
