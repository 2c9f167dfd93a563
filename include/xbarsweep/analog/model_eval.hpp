#pragma once
/// \file
/// \brief A LibTorch classifier evaluated through the crossbar simulator: every Linear and Conv2d
/// layer is programmed onto crossbars (a convolution as its GEMM matrix out x in*kh*kw, fed by
/// im2col), everything else (activations, pooling, batch norm, biases) stays in torch.
/// Monte Carlo over device samples gives the hardware accuracy's mean, std and min.

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "xbarsweep/crossbar/config.hpp"
#include "xbarsweep/crossbar/cost.hpp"
#include "xbarsweep/data/dataset.hpp"

namespace xbarsweep::nn {
struct Classifier;
}

namespace xbarsweep::analog {

// The simulator's own types, under the names this concept's interface uses.
using crossbar::CrossbarConfig;
using crossbar::LayerMapping;

/// \brief Where a device sample's time went in one mapped layer (HardwareModel::profile).
struct LayerProfile {
  std::string name;
  double program_s = 0;    ///< programming the layer (construction)
  double unfold_s = 0;     ///< convolutions: im2col and the output's reshape, in torch
  double simulate_s = 0;   ///< the simulated MVMs: DAC, tile GEMMs, noise, readout, ADC
  std::int64_t rows = 0;   ///< input vectors simulated (images x output positions)
  std::int64_t tiles = 0;  ///< tiles allocated
};

/// \brief A classifier whose Linear and Conv2d layers are programmed onto crossbars for one device
/// sample. Supports the built-in models of nn::make_model (mlp, lenet5, vgg16, resnet18) and
/// TorchScript models (nn::TorchScriptClassifierImpl: every Linear and Conv2d call of the forward
/// graph, a grouped convolution as one weight matrix per group); the model must outlive this
/// object and is put in evaluation mode. Not thread-safe.
class HardwareModel {
 public:
  /// \brief Programs every mapped layer (static non-idealities applied here, once). Layer k (in
  /// module registration order) gets devices DeviceSeed{device_seed, k}.
  /// \param max_rows_per_mvm rows (images x conv positions) per simulated MVM call: bounds the
  ///   simulator's scratch memory.
  /// \throws CrossbarError for an unsupported built-in layer (grouped conv, non-zero padding mode);
  ///   ModelError for a TorchScript model with a weight it cannot map (see require_mappable).
  HardwareModel(nn::Classifier& model, const CrossbarConfig& config, std::uint64_t device_seed,
                std::int64_t max_rows_per_mvm = 16384);
  ~HardwareModel();
  HardwareModel(HardwareModel&&) noexcept;
  HardwareModel& operator=(HardwareModel&&) noexcept;

  /// \brief Runs \p images (N x C x H x W) through the hardware model, calibrating each mapped
  /// layer (DAC full scale, ADC ranges) on the inputs it receives from the layers before it.
  void calibrate(const at::Tensor& images);
  /// \brief Reads every mapped layer's devices \p t seconds after programming (crossbar.drift;
  /// ProgrammedLayer::drift_to): call it after calibrate(), whose ranges stay. No effect without drift.
  void drift_to(double t);
  /// \brief Logits of \p images through the hardware model. Layers with a DAC or ADC that were
  /// never calibrated calibrate on their first batch.
  at::Tensor forward(const at::Tensor& images);

  /// \brief How each mapped layer sits on crossbars; mvms (conv output positions per image) are
  /// known once a batch has passed (calibrate or forward), else 1.
  std::vector<LayerMapping> mappings() const;
  /// \brief Physical crossbars of every mapped layer together.
  std::int64_t crossbars() const;

  /// \brief Time per mapped layer since construction (programming) and since the last
  /// reset_profile() (the rest): where an evaluation spends its time.
  std::vector<LayerProfile> profile() const;
  /// \brief Zeroes the profile's unfold and simulate times and rows (after calibration, say).
  void reset_profile();

 private:
  struct State;
  std::unique_ptr<State> state_;
};

/// \brief What evaluate_on_crossbars does.
struct HardwareEvalOptions {
  int samples = 5;                       ///< Monte Carlo device samples
  std::uint64_t seed = 0;                ///< sample s uses device seed derive(seed, s)
  std::int64_t batch_size = 250;         ///< test images per forward pass
  std::int64_t calibration_items = 200;  ///< images of the calibration split used to calibrate
  std::int64_t max_rows_per_mvm = 16384;
  std::function<void()> check_cancelled;  ///< between batches and samples; may throw
};

/// \brief Software accuracy and hardware accuracy over device samples.
struct HardwareEvaluation {
  double accuracy = 0.0;            ///< software (torch forward), fraction
  std::vector<double> hw_accuracy;  ///< one per device sample, fractions
  double hw_accuracy_mean = 0.0;
  double hw_accuracy_std = 0.0;  ///< sample standard deviation (n - 1); 0 for one sample
  double hw_accuracy_min = 0.0;
  std::vector<double> times;                           ///< crossbar.drift_times, s after programming
  std::vector<std::vector<double>> accuracy_at_times;  ///< [time][sample]: the same devices read at each
  std::vector<LayerMapping> mappings;  ///< of the first sample (the tile grid does not depend on it)
  double wall_s = 0.0;
};

/// \brief The mean over device samples of each of \p r.accuracy_at_times (one per time).
std::vector<double> mean_accuracy_at_times(const HardwareEvaluation& r);

/// \brief Fills hw_accuracy_mean, _std (n - 1) and _min from \p r.hw_accuracy (not empty).
/// Identical samples (no random effect) give std exactly 0 and the mean exactly their value.
void summarize_samples(HardwareEvaluation& r);

/// \brief Evaluates \p model on \p test in software and through the crossbar simulator, once per
/// device sample: each sample programs every layer with its own seed, calibrates on the first
/// calibration_items of \p calibration, reads the devices at config.t_inference (drift), then
/// classifies \p test; then again at each of config.drift_times (accuracy_at_times).
HardwareEvaluation evaluate_on_crossbars(nn::Classifier& model, const data::Split& test,
                                         const data::Split& calibration, const CrossbarConfig& config,
                                         const HardwareEvalOptions& options);

/// \brief Device seed of Monte Carlo sample \p sample of a point seeded \p seed (splitmix64).
std::uint64_t device_sample_seed(std::uint64_t seed, int sample);

}  // namespace xbarsweep::analog
