#pragma once
/// \file
/// \brief Hardware-aware (noise-injection) training: during a training step the forward pass
/// uses weights perturbed as the crossbar would program them (the `hwa.` parameters), the
/// backward pass is the ordinary one and its gradients are applied to the clean weights.
///
/// A weight matrix W (out x in; a convolution's GEMM view) is mapped as ProgrammedLayer maps it
/// (crossbar/layer.hpp): |W| / max|W| onto the integer codes of crossbar.levels per cell and
/// crossbar.slices cells, each cell a device between g_min and g_max (a differential pair, or one
/// cell with a digital reference), then every device is perturbed as program_device perturbs it
/// (lognormal variation, programming noise, stuck-at faults), drawn afresh for every batch, and
/// the conductances are read back into weight units. Tiles whose weights are all zero are not
/// allocated, and stay zero. The rounding to codes passes gradients straight through: the
/// gradient a step applies to W is the one computed at the perturbed weights (Joshi et al.,
/// Nature Communications 2020; aihwkit's InferenceRPUConfig weight modifiers do the same).
/// Evaluation (nn::evaluate, the hardware model) is untouched.
///
/// Optionally (hwa.dac, hwa.adc, hwa.read_noise) the forward pass itself is the crossbar's
/// (HardwareAwareTraining::forward): each layer's inputs through the DAC, its products summed
/// per row tile (crossbar.rows inputs), each tile's outputs with read noise and through an ADC,
/// the tiles summed digitally, all with straight-through gradients.

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "xbarsweep/config/checks.hpp"
#include "xbarsweep/config/section.hpp"
#include "xbarsweep/crossbar/config.hpp"

namespace xbarsweep::nn {
struct Classifier;
struct WeightLayer;
}  // namespace xbarsweep::nn

namespace xbarsweep::analog {

/// \brief The `hwa.` parameters.
struct HwaConfig {
  bool enabled = false;       ///< perturb the training forward passes
  double device_noise = 1.0;  ///< x crossbar.sigma and crossbar.prog_noise in the training draws
  bool quantize = true;       ///< weights on the crossbar's levels (straight-through gradient)
  bool faults = true;         ///< stuck-at faults (crossbar.stuck_*_rate) drawn in training
  double weight_noise = 0.0;  ///< extra additive noise, std / max|W| (aihwkit's ADD_NORMAL modifier)
  double read_noise = 0.0;    ///< x crossbar.read_noise (additive) on each tile's outputs in training
  bool dac = false;           ///< inputs through crossbar.dac_bits' DAC (input_bits) in training
  bool adc = false;           ///< tile outputs through crossbar.adc_bits' ADC in training
  /// \brief Whether the training forward pass itself is the crossbar's (read noise, DAC or ADC).
  bool transforms_forward() const { return read_noise > 0.0 || dac || adc; }
};

/// \brief The one declaration of the `hwa.` parameters.
const config::Section<HwaConfig>& hwa_section();
/// \brief The `hwa.` parameters (hwa_section().schema()).
config::Schema hwa_schema();
/// \brief Reads the `hwa.` parameters of \p params (absent ones keep their defaults).
HwaConfig hwa_config_from_params(const config::Params& params);

/// \brief Whether hardware-aware training with \p hwa puts the weights onto \p crossbar's levels
/// in the forward pass (hwa.quantize and finite crossbar.levels): a training that quantizes by
/// itself, so retraining may keep latent weights.
bool quantizes_onto_levels(const HwaConfig& hwa, const crossbar::CrossbarConfig& crossbar);

/// \brief Whether anything would perturb the weights: quantization, device noise, faults or
/// hwa.weight_noise (hwa.enabled with none of them is a mistake).
bool perturbs(const HwaConfig& hwa, const crossbar::CrossbarConfig& crossbar);

/// \brief The `crossbar.` paths HardwareAwareTraining with \p hwa reads (the mapping and the
/// static device model, and the periphery only where hwa.dac, hwa.adc or hwa.read_noise use it):
/// with `hwa.*`, what a hardware-aware training depends on.
std::vector<std::string> hardware_aware_device_paths(const HwaConfig& hwa);

/// \brief Why \p hwa's forward-pass options cannot apply to \p crossbar (hwa.dac without a DAC,
/// hwa.adc without an ADC, hwa.read_noise without additive read noise), naming the key; none
/// when they can.
std::optional<config::Problem> forward_options_problem(const HwaConfig& hwa,
                                                       const crossbar::CrossbarConfig& crossbar);

/// \brief Perturbs a model's weight matrices for one training step and restores them after it.
///
/// Use: perturb(batch_key) after zeroing the gradients and before the forward pass;
/// restore() right after backward(), before anything reads the weights (ADMM's penalty, the
/// optimiser step, masks). The draws of a batch are a pure function of (seed, batch_key, layer):
/// fresh for every batch, identical for the same seed and batch.
class HardwareAwareTraining {
 public:
  /// \param weights the parameters to perturb (2-d Linear or 4-d Conv2d weights, shared with the
  ///   model: they are written in place)  \param crossbar the device model and mapping
  /// \throws CrossbarError for an invalid crossbar config; ModelError for a weight that is not 2-d or 4-d.
  HardwareAwareTraining(std::vector<at::Tensor> weights, const crossbar::CrossbarConfig& crossbar,
                        const HwaConfig& hwa, std::uint64_t seed);

  /// \brief Writes the perturbed weights of batch \p batch_key into the parameters, keeping the clean ones.
  void perturb(std::uint64_t batch_key);
  /// \brief Writes the clean weights back (no effect unless perturb() was called since).
  void restore();

  /// \brief What perturb() writes into weight matrix \p w (out x in, or out x C x kh x kw) for
  /// the draws keyed \p key: mapped, perturbed and read back, in \p w's shape. Does not change \p w.
  at::Tensor perturbed(const at::Tensor& w, std::uint64_t key) const;

  /// \brief \p model's training forward pass for the batch of the last perturb(): with the
  /// forward-pass options (HwaConfig::transforms_forward) every weight layer is layer_forward's,
  /// else the model's own forward.
  at::Tensor forward(nn::Classifier& model, const at::Tensor& x) const;

  /// \brief Weight layer \p layer of \p x as a set of crossbar tiles computes it, draws keyed
  /// \p key: inputs through the DAC (hwa.dac: |x| to input_bits over [0, max|x|] of the batch),
  /// the products of each row tile summed apart, each tile's outputs plus read noise (hwa.read_noise
  /// x crossbar.read_noise g_max max|x|, in weight units through the mapping; none where a tile holds
  /// no weight) and through the ADC (hwa.adc: 2^adc_bits levels over each output's [min, max] on
  /// this batch, widened by crossbar.adc_headroom), then summed, plus the bias. Gradients pass
  /// straight through the DAC and ADC. The layer's weights are used as they are (perturb() first).
  at::Tensor layer_forward(const nn::WeightLayer& layer, const at::Tensor& x, std::uint64_t key) const;

 private:
  std::vector<at::Tensor> weights_, clean_;
  crossbar::CrossbarConfig crossbar_;
  HwaConfig hwa_;
  std::uint64_t seed_ = 0;
  std::uint64_t batch_ = 0;  // the key of the batch of the last perturb()
};

}  // namespace xbarsweep::analog
