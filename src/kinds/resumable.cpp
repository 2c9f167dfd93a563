#include "resumable.hpp"

#include <cstdio>

namespace xbarsweep::kinds {

Resumable::Resumable(PointCheckpoint checkpoint) : checkpoint_(std::move(checkpoint)) {
  if (auto bytes = checkpoint_.load()) saved_ = nn::decode_state(*bytes, checkpoint_.path());
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
  checkpoint_.save(nn::encode_state(state));
}

}  // namespace xbarsweep::kinds
