#include "resumable.hpp"

#include <cstdio>

namespace xbarsweep::kinds {

namespace {
constexpr const char* kFormatKey = "state.format";

}  // namespace

Resumable::Resumable(PointCheckpoint checkpoint, std::string format, const PointContext& context)
    : checkpoint_(std::move(checkpoint)), format_(std::move(format)), context_(context) {
  const auto bytes = checkpoint_.load();
  if (!bytes) return;
  try {
    nn::TensorState state = nn::decode_state(*bytes, "its payload");
    const auto found = state.find(kFormatKey);
    const std::string format = found == state.end() ? "(none)" : nn::bytes_of(found->second);
    if (format != format_) {
      checkpoint_.set_aside("a state of format " + format + ", not " + format_);
      return;
    }
    saved_ = std::move(state);
  } catch (const CheckpointError& e) {
    checkpoint_.set_aside(e.message());
  }
}

std::function<void(const nn::StateSaver&, bool)> Resumable::boundary(
    std::function<void(nn::TensorState&)> extra) {
  if (!checkpoint_.enabled()) return {};
  return [this, extra = std::move(extra)](const nn::StateSaver& save, bool epoch_end) {
    save_if_due(
        [&](nn::TensorState& out) {
          save(out);
          if (extra) extra(out);
        },
        epoch_end);
  };
}

void Resumable::save_if_due(const std::function<void(nn::TensorState&)>& write, bool epoch_end) {
  if (checkpoint_.due(epoch_end)) save(write);
}

void Resumable::save(const std::function<void(nn::TensorState&)>& write) {
  if (!checkpoint_.enabled()) return;
  nn::TensorState state;
  write(state);
  state[kFormatKey] = nn::state_bytes(format_);
  try {
    checkpoint_.save(nn::encode_state(state));
  } catch (const CheckpointError& e) {
    context_.say(std::string("could not save its checkpoint, continuing without it: ") + e.what());
  }
}

}  // namespace xbarsweep::kinds
