#pragma once
/// \file
/// \brief Resumable state as named tensors: the one form in which training loops, ADMM and masks
/// hand their state to a checkpoint, and its byte encoding (torch's pickle format).
///
/// Keys are dotted paths ("model.conv1.weight", "admm.0.z"); scalars are 0-d double tensors and
/// curves 1-d double tensors, so every value round-trips bit for bit.

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "xbarsweep/error.hpp"

namespace torch::nn {
class Module;
}
namespace torch::optim {
class Optimizer;
}

namespace xbarsweep::nn {

using TensorState = std::map<std::string, at::Tensor>;

/// \brief The bytes of \p state (torch::pickle_save of a dict).
std::string encode_state(const TensorState& state);
/// \brief Reads encode_state's bytes. \throws CheckpointError naming \p origin when they are
/// not such bytes.
TensorState decode_state(std::string_view bytes, const std::string& origin);

/// \brief A scalar or a curve as a state value, and back. The readers throw CheckpointError
/// naming \p origin and the key when it is missing or of another shape.
at::Tensor state_value(double value);
at::Tensor state_value(const std::vector<double>& values);
double state_double(const TensorState& state, const std::string& key, const std::string& origin);
std::int64_t state_int(const TensorState& state, const std::string& key, const std::string& origin);
std::vector<double> state_vector(const TensorState& state, const std::string& key, const std::string& origin);
const at::Tensor& state_tensor(const TensorState& state, const std::string& key, const std::string& origin);
/// \brief Bytes (text, a nested archive) as a state value (a 1-d uint8 tensor), and back.
at::Tensor state_bytes(std::string_view bytes);
std::string bytes_of(const at::Tensor& value);

/// \brief Every parameter and buffer of \p module under "prefix<name>" (the tensors themselves,
/// not copies: encode the state before the module changes).
void put_module(TensorState& state, const std::string& prefix, const torch::nn::Module& module);
/// \brief Copies them back, after checking that every name and shape matches (nothing is
/// changed when one does not). \throws CheckpointError naming \p origin.
void load_module(torch::nn::Module& module, const TensorState& state, const std::string& prefix,
                 const std::string& origin);

/// \brief The optimiser's state (momentum buffers, Adam moments, step counts) under \p key, as
/// torch's own archive of it, and back into an optimiser over the same parameters.
void put_optimizer(TensorState& state, const std::string& key, torch::optim::Optimizer& optimizer);
void load_optimizer(torch::optim::Optimizer& optimizer, const TensorState& state, const std::string& key,
                    const std::string& origin);

/// \brief torch's default CPU generator (dropout and any other draw from it), under \p key.
void put_global_generator(TensorState& state, const std::string& key);
void load_global_generator(const TensorState& state, const std::string& key, const std::string& origin);

}  // namespace xbarsweep::nn
