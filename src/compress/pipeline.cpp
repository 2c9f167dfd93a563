#include "xbarsweep/compress/pipeline.hpp"

#include "xbarsweep/error.hpp"

namespace xbarsweep::compress {

namespace {

std::vector<std::vector<AdmmResidual>> run_admm(AdmmState& admm, const TrainingCallbacks& t,
                                                const PipelineConfig& c, const MaskSet* masks,
                                                const std::string& stage) {
  std::vector<std::vector<AdmmResidual>> curve;
  StepHooks hooks;
  hooks.before_step = [&] {
    admm.add_penalty_gradients();
    if (masks != nullptr) masks->apply_masks_to_grads();
  };
  if (masks != nullptr) hooks.after_step = [&](torch::optim::Optimizer& o) { masks->after_step(o); };
  for (std::int64_t it = 0; it < c.admm_iterations; ++it) {
    if (t.progress) t.progress(stage, it);
    for (std::int64_t e = 0; e < c.epochs_per_iteration; ++e) t.train_epoch(hooks);
    curve.push_back(admm.update());
  }
  return curve;
}

void retrain(const MaskSet& masks, const TrainingCallbacks& t, std::int64_t epochs,
             const std::string& stage) {
  StepHooks hooks;
  hooks.before_step = [&] { masks.apply_masks_to_grads(); };
  hooks.after_step = [&](torch::optim::Optimizer& o) { masks.after_step(o); };
  for (std::int64_t e = 0; e < epochs; ++e) {
    if (t.progress) t.progress(stage, e);
    t.train_epoch(hooks);
  }
}

// The spec describing the final model: pruning of the first stage, levels of the second.
CompressionSpec combined(const CompressionSpec& prune, const CompressionSpec& quant) {
  CompressionSpec out = prune;
  out.defaults.levels = quant.defaults.levels;
  for (auto& [name, ls] : out.layers) ls.levels = quant.for_layer(name).levels;
  for (const auto& [name, ls] : quant.layers) {
    if (out.layers.count(name) == 0) {
      auto merged = prune.for_layer(name);
      merged.levels = ls.levels;
      out.layers[name] = merged;
    }
  }
  return out;
}

}  // namespace

PipelineResult run_admm_compression(torch::nn::Module& model, const TrainingCallbacks& training,
                                    const PipelineConfig& config) {
  XBARSWEEP_THROW_IF(!training.train_epoch, CompressError, "run_admm_compression needs train_epoch");
  XBARSWEEP_THROW_IF(
      config.admm_iterations < 0 || config.epochs_per_iteration < 0 || config.retrain_epochs < 0,
      CompressError, "iteration and epoch counts must be >= 0");
  PipelineResult result;
  auto admm = AdmmState::init(model, config.spec, nullptr, config.rescale_dual);
  result.residuals.push_back(run_admm(admm, training, config, nullptr, "admm"));
  result.masks = MaskSet::hard_project(model, config.spec);
  if (training.evaluate) result.projected_accuracy = training.evaluate();
  retrain(result.masks, training, config.retrain_epochs, "retrain");
  CompressionSpec final_spec = config.spec;
  if (config.quantize_stage) {
    auto admm2 = AdmmState::init(model, *config.quantize_stage, &result.masks, config.rescale_dual);
    result.residuals.push_back(run_admm(admm2, training, config, &result.masks, "quantize_admm"));
    auto masks2 = MaskSet::hard_project(model, *config.quantize_stage, &result.masks);
    if (training.evaluate) result.projected_accuracy = training.evaluate();
    retrain(masks2, training, config.retrain_epochs, "quantize_retrain");
    result.masks = std::move(masks2);
    final_spec = combined(config.spec, *config.quantize_stage);
  }
  if (training.evaluate) result.accuracy = training.evaluate();
  result.account = account_model(model, final_spec);
  return result;
}

}  // namespace xbarsweep::compress
