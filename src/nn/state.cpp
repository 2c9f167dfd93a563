#include "xbarsweep/nn/state.hpp"

#include <ATen/CPUGeneratorImpl.h>
#include <torch/nn/module.h>
#include <torch/optim/optimizer.h>
#include <torch/serialize.h>
#include <torch/serialize/input-archive.h>
#include <torch/serialize/output-archive.h>

#include <cstring>
#include <mutex>
#include <sstream>

namespace xbarsweep::nn {

std::string encode_state(const TensorState& state) {
  c10::Dict<std::string, at::Tensor> dict;
  for (const auto& [key, value] : state) dict.insert(key, value.contiguous());
  const std::vector<char> bytes = torch::pickle_save(c10::IValue(dict));
  return std::string(bytes.begin(), bytes.end());
}

TensorState decode_state(std::string_view bytes, const std::string& origin) {
  TensorState state;
  try {
    const c10::IValue value = torch::pickle_load(std::vector<char>(bytes.begin(), bytes.end()));
    for (const auto& entry : value.toGenericDict()) {
      state.emplace(entry.key().toStringRef(), entry.value().toTensor());
    }
  } catch (const c10::Error& e) {
    throw CheckpointError(origin + ": not a saved training state: " + e.what_without_backtrace());
  }
  return state;
}

at::Tensor state_value(double value) { return at::scalar_tensor(value, at::kDouble); }

at::Tensor state_value(const std::vector<double>& values) {
  return at::tensor(c10::ArrayRef<double>(values), at::TensorOptions().dtype(at::kDouble)).clone();
}

const at::Tensor& state_tensor(const TensorState& state, const std::string& key, const std::string& origin) {
  const auto found = state.find(key);
  if (found == state.end()) {
    throw CheckpointError(origin + ": has no '" + key + "' (a checkpoint of another kind or version?)");
  }
  return found->second;
}

at::Tensor state_bytes(std::string_view bytes) {
  auto t = at::empty({static_cast<std::int64_t>(bytes.size())}, at::kByte);
  if (!bytes.empty()) std::memcpy(t.data_ptr<std::uint8_t>(), bytes.data(), bytes.size());
  return t;
}

std::string bytes_of(const at::Tensor& value) {
  const auto c = value.to(at::kByte).contiguous();
  return {reinterpret_cast<const char*>(c.data_ptr<std::uint8_t>()), static_cast<std::size_t>(c.numel())};
}

double state_double(const TensorState& state, const std::string& key, const std::string& origin) {
  const auto& t = state_tensor(state, key, origin);
  if (t.dim() != 0) throw CheckpointError(origin + ": '" + key + "' is not a scalar");
  return t.item<double>();
}

std::int64_t state_int(const TensorState& state, const std::string& key, const std::string& origin) {
  return static_cast<std::int64_t>(state_double(state, key, origin));
}

std::vector<double> state_vector(const TensorState& state, const std::string& key,
                                 const std::string& origin) {
  const auto& t = state_tensor(state, key, origin);
  if (t.dim() != 1) throw CheckpointError(origin + ": '" + key + "' is not a curve");
  const auto d = t.to(at::kDouble).contiguous();
  return {d.data_ptr<double>(), d.data_ptr<double>() + d.numel()};
}

void put_module(TensorState& state, const std::string& prefix, const torch::nn::Module& module) {
  // No copies: a state is encoded before training moves on.
  for (const auto& p : module.named_parameters()) state[prefix + p.key()] = p.value().detach();
  for (const auto& b : module.named_buffers()) state[prefix + b.key()] = b.value().detach();
}

void load_module(torch::nn::Module& module, const TensorState& state, const std::string& prefix,
                 const std::string& origin) {
  std::vector<std::pair<at::Tensor, at::Tensor>> pairs;
  const auto match = [&](const std::string& name, const at::Tensor& target) {
    const at::Tensor& value = state_tensor(state, prefix + name, origin);
    if (value.sizes() != target.sizes()) {
      throw CheckpointError(origin + ": '" + prefix + name + "' has shape " + c10::str(value.sizes()) +
                            ", this model's has " + c10::str(target.sizes()));
    }
    pairs.emplace_back(target, value);
  };
  for (const auto& p : module.named_parameters()) match(p.key(), p.value());
  for (const auto& b : module.named_buffers()) match(b.key(), b.value());
  torch::NoGradGuard no_grad;
  for (auto& [target, value] : pairs) target.copy_(value);
}

void put_optimizer(TensorState& state, const std::string& key, torch::optim::Optimizer& optimizer) {
  torch::serialize::OutputArchive archive;
  optimizer.save(archive);
  std::ostringstream out;
  archive.save_to(out);
  state[key] = state_bytes(out.str());
}

void load_optimizer(torch::optim::Optimizer& optimizer, const TensorState& state, const std::string& key,
                    const std::string& origin) {
  std::istringstream in(bytes_of(state_tensor(state, key, origin)));
  try {
    torch::serialize::InputArchive archive;
    archive.load_from(in);
    optimizer.load(archive);
  } catch (const c10::Error& e) {
    throw CheckpointError(origin + ": cannot restore the optimiser: " + e.what_without_backtrace());
  }
}

void put_global_generator(TensorState& state, const std::string& key) {
  auto generator = at::detail::getDefaultCPUGenerator();
  std::lock_guard<std::mutex> lock(generator.mutex());
  state[key] = generator.get_state();
}

void load_global_generator(const TensorState& state, const std::string& key, const std::string& origin) {
  auto generator = at::detail::getDefaultCPUGenerator();
  std::lock_guard<std::mutex> lock(generator.mutex());
  try {
    generator.set_state(state_tensor(state, key, origin));
  } catch (const c10::Error& e) {
    throw CheckpointError(origin + ": cannot restore torch's generator: " + e.what_without_backtrace());
  }
}

}  // namespace xbarsweep::nn
