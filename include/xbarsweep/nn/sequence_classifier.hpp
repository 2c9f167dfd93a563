#pragma once
/// \file
/// \brief A sequence classifier: a (block-circulant) LSTM and a linear head on its final states,
/// the model of the clstm kind (rows of an image as time steps).

#include <torch/nn/module.h>
#include <torch/nn/modules/linear.h>

#include <cstdint>

#include "xbarsweep/circulant/circulant_lstm.hpp"
#include "xbarsweep/circulant/fixed_point.hpp"
#include "xbarsweep/nn/models.hpp"

namespace xbarsweep::nn {

/// \brief The LSTM and a linear head on the final state of each direction of the top layer (forward:
/// the output at the last step; backward: its output at step 0, which has read every row).
struct SequenceClassifierImpl : Classifier {
  SequenceClassifierImpl(const circulant::CirculantLSTMOptions& options, std::int64_t classes)
      : lstm(register_module("lstm", circulant::CirculantLSTM(options))),
        head(register_module("head", torch::nn::Linear(directions() * options.output_size(), classes))) {}

  std::int64_t directions() const { return lstm->options.bidirectional() ? 2 : 1; }

  /// (N, T, D*out) -> (N, D*out): the final state of each direction.
  torch::Tensor final_states(const torch::Tensor& out) const {
    const auto O = lstm->options.output_size(), T = out.size(1);
    auto forward = out.select(1, T - 1).narrow(1, 0, O);
    if (directions() == 1) return forward;
    return torch::cat({forward, out.select(1, 0).narrow(1, O, O)}, 1);
  }

  torch::Tensor forward(torch::Tensor x) override {
    return head->forward(final_states(std::get<0>(lstm->forward(x))));
  }

  /// Logits of the fixed-point datapath: the LSTM by forward_fixed, the head as one product of
  /// quantized operands rounded once (a wide accumulator), like the gate matrices.
  torch::Tensor forward_fixed(const torch::Tensor& x, const circulant::FixedPointEvaluation& fx) const {
    torch::NoGradGuard no_grad;
    const auto Q = [&](const torch::Tensor& t) {
      return circulant::quantize(t.to(torch::kDouble), fx.format);
    };
    const auto h = Q(final_states(lstm->forward_fixed(x, fx)));
    return Q(torch::matmul(h, Q(head->weight).t()) + Q(head->bias));
  }

  circulant::CirculantLSTM lstm;
  torch::nn::Linear head;
};
TORCH_MODULE(SequenceClassifier);

/// \brief Draws every parameter from one generator seeded by \p seed, in registration order, so
/// that a model's initial weights depend only on its seed: the LSTM U(+-1/sqrt(H)) as
/// torch::nn::LSTM (for a circulant matrix its defining vectors, hence every dense entry), the head
/// U(+-1/sqrt(fan_in)) as torch::nn::Linear.
void initialise(SequenceClassifierImpl& model, std::uint64_t seed);

}  // namespace xbarsweep::nn
