#include "xbarsweep/nn/sequence_classifier.hpp"

#include <ATen/CPUGeneratorImpl.h>
#include <torch/utils.h>

#include <cmath>

namespace xbarsweep::nn {

void initialise(SequenceClassifierImpl& model, std::uint64_t seed) {
  torch::NoGradGuard no_grad;
  auto gen = at::make_generator<at::CPUGeneratorImpl>(seed);
  const double lstm_bound = 1.0 / std::sqrt(static_cast<double>(model.lstm->options.hidden_size()));
  for (auto& p : model.lstm->parameters()) p.uniform_(-lstm_bound, lstm_bound, gen);
  const double head_bound = 1.0 / std::sqrt(static_cast<double>(model.head->weight.size(1)));
  for (auto& p : model.head->parameters()) p.uniform_(-head_bound, head_bound, gen);
}

}  // namespace xbarsweep::nn
