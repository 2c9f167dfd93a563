#include "xbarsweep/compress/pipeline.hpp"

#include <ATen/ATen.h>

#include <cstring>
#include <optional>

#include "xbarsweep/error.hpp"

namespace xbarsweep::compress {

namespace {

// The stages in order; a saved state says which one it is in and how many of its epochs are done.
enum Stage : int { kAdmm = 0, kRetrain = 1, kQuantizeAdmm = 2, kQuantizeRetrain = 3, kDone = 4 };
const char* const kStageNames[] = {"admm", "retrain", "quantize_admm", "quantize_retrain", "done"};

const at::Tensor& get(const TensorMap& in, const std::string& key) {
  const auto found = in.find(key);
  XBARSWEEP_THROW_IF(found == in.end(), CompressError, "saved pipeline state has no '" << key << "'");
  return found->second;
}
double number(const TensorMap& in, const std::string& key) { return get(in, key).item<double>(); }
at::Tensor number_tensor(double v) { return at::scalar_tensor(v, at::kDouble); }

// Residual curves of finished stages: numbers as doubles, layer names as bytes ('\n'-separated).
void save_residuals(TensorMap& out, const std::string& key,
                    const std::vector<std::vector<AdmmResidual>>& curve) {
  std::string names;
  std::vector<double> numbers, sizes;
  for (const auto& iteration : curve) {
    sizes.push_back(static_cast<double>(iteration.size()));
    for (const auto& r : iteration) {
      names += r.layer + "\n";
      numbers.insert(numbers.end(), {static_cast<double>(r.set), r.primal, r.dual, r.rho});
    }
  }
  auto bytes = at::empty({static_cast<std::int64_t>(names.size())}, at::kByte);
  if (!names.empty()) std::memcpy(bytes.data_ptr<std::uint8_t>(), names.data(), names.size());
  out[key + ".names"] = bytes;
  out[key + ".numbers"] = at::tensor(c10::ArrayRef<double>(numbers), at::kDouble).clone();
  out[key + ".sizes"] = at::tensor(c10::ArrayRef<double>(sizes), at::kDouble).clone();
}

std::vector<std::vector<AdmmResidual>> load_residuals(const TensorMap& in, const std::string& key) {
  const auto bytes = get(in, key + ".names").contiguous();
  const std::string names(reinterpret_cast<const char*>(bytes.data_ptr<std::uint8_t>()),
                          static_cast<std::size_t>(bytes.numel()));
  const auto numbers = get(in, key + ".numbers").contiguous();
  const auto sizes = get(in, key + ".sizes").contiguous();
  const double* n = numbers.data_ptr<double>();
  std::vector<std::vector<AdmmResidual>> curve;
  std::size_t at = 0, k = 0;
  for (std::int64_t i = 0; i < sizes.numel(); ++i) {
    auto& iteration = curve.emplace_back();
    for (auto m = static_cast<std::int64_t>(sizes.data_ptr<double>()[i]); m > 0; --m, ++k) {
      const auto end = names.find('\n', at);
      XBARSWEEP_THROW_IF(end == std::string::npos || 4 * (k + 1) > static_cast<std::size_t>(numbers.numel()),
                         CompressError, "saved pipeline residuals '" << key << "' are inconsistent");
      iteration.push_back({names.substr(at, end - at), static_cast<AdmmSet>(static_cast<int>(n[4 * k])),
                           n[4 * k + 1], n[4 * k + 2], n[4 * k + 3]});
      at = end + 1;
    }
  }
  return curve;
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

// One run of the procedure, as a sequence of stages over epochs, with everything a checkpoint
// needs to resume between two epochs in one place.
class Pipeline {
 public:
  Pipeline(torch::nn::Module& model, const TrainingCallbacks& t, const PipelineConfig& c)
      : model_(model), t_(t), c_(c) {}

  PipelineResult run() {
    if (c_.resume != nullptr) restore(*c_.resume);
    // Stage 0: ADMM on the pruning (and, joint, the levels) sets.
    if (stage_ == kAdmm) {
      admm_ = AdmmState::init(model_, c_.spec, nullptr, c_.rescale_dual);
      if (resuming_) admm_->restore(*c_.resume, "pipeline.admm.");
      run_admm(nullptr);
      result_.residuals.push_back(admm_->residual_history());
      admm_.reset();
      result_.masks = MaskSet::hard_project(model_, c_.spec);
      if (t_.evaluate) result_.projected_accuracy = t_.evaluate();
      enter(kRetrain);
    }
    if (stage_ == kRetrain) {
      retrain(result_.masks);
      enter(c_.quantize_stage ? kQuantizeAdmm : kDone);
    }
    if (stage_ == kQuantizeAdmm) {
      admm_ = AdmmState::init(model_, *c_.quantize_stage, &result_.masks, c_.rescale_dual);
      if (resuming_) admm_->restore(*c_.resume, "pipeline.admm.");
      run_admm(&result_.masks);
      result_.residuals.push_back(admm_->residual_history());
      admm_.reset();
      quantized_ = MaskSet::hard_project(model_, *c_.quantize_stage, &result_.masks);
      if (t_.evaluate) result_.projected_accuracy = t_.evaluate();
      enter(kQuantizeRetrain);
    }
    if (stage_ == kQuantizeRetrain) {
      retrain(*quantized_);
      enter(kDone);
    }
    if (!resuming_) {  // a state saved when done holds the final accuracy already
      if (t_.evaluate) result_.accuracy = t_.evaluate();
      at_boundary(/*last=*/true);
    }
    CompressionSpec final_spec = c_.spec;
    if (c_.quantize_stage) {
      result_.masks = std::move(*quantized_);
      final_spec = combined(c_.spec, *c_.quantize_stage);
    }
    result_.account = account_model(model_, final_spec);
    return std::move(result_);
  }

 private:
  void enter(int stage) {
    stage_ = stage;
    epochs_ = 0;
    resuming_ = false;
  }

  void run_admm(const MaskSet* masks) {
    StepHooks hooks = step_hooks(masks);
    hooks.before_step = [this, masks] {
      admm_->add_penalty_gradients();
      if (masks != nullptr) masks->apply_masks_to_grads();
    };
    const auto per = c_.epochs_per_iteration;
    const char* name = kStageNames[stage_];
    // Resumed: the iterations the saved ADMM state has done, then the epochs of the next.
    for (std::int64_t it = admm_->iterations(); it < c_.admm_iterations; ++it) {
      if (t_.progress) t_.progress(name, it);
      for (std::int64_t e = epochs_ - it * per; e < per; ++e) {
        t_.train_epoch(hooks);
        ++epochs_;
        if (e + 1 < per) at_boundary(false);
      }
      admm_->update();
      at_boundary(false);
    }
  }

  void retrain(const MaskSet& masks) {
    StepHooks hooks = step_hooks(&masks);
    hooks.before_step = [&masks] { masks.apply_masks_to_grads(); };
    if (c_.levels_straight_through)
      hooks.after_step = [&masks](torch::optim::Optimizer& o) { masks.after_step_straight_through(o); };
    for (std::int64_t e = epochs_; e < c_.retrain_epochs; ++e) {
      if (t_.progress) t_.progress(kStageNames[stage_], e);
      t_.train_epoch(hooks);
      ++epochs_;
      at_boundary(false);
    }
    // Straight-through: the latent weights go onto their levels as the stage ends (a resumed
    // stage ends here too, so the result is the uninterrupted run's).
    if (c_.levels_straight_through) masks.enforce_weights();
  }

  StepHooks step_hooks(const MaskSet* masks) {
    StepHooks hooks;
    if (masks != nullptr) hooks.after_step = [masks](torch::optim::Optimizer& o) { masks->after_step(o); };
    hooks.save_state = [this](TensorMap& out) { save(out); };
    return hooks;
  }

  void at_boundary(bool last) {
    if (t_.boundary) t_.boundary([this](TensorMap& out) { save(out); }, last);
  }

  void save(TensorMap& out) const {
    out["pipeline.stage"] = number_tensor(stage_);
    out["pipeline.epochs"] = number_tensor(static_cast<double>(epochs_));
    out["pipeline.projected_accuracy"] = number_tensor(result_.projected_accuracy);
    out["pipeline.accuracy"] = number_tensor(result_.accuracy);
    out["pipeline.residual_stages"] = number_tensor(static_cast<double>(result_.residuals.size()));
    for (std::size_t s = 0; s < result_.residuals.size(); ++s)
      save_residuals(out, "pipeline.residuals." + std::to_string(s), result_.residuals[s]);
    if (admm_) admm_->save(out, "pipeline.admm.");
    if (stage_ >= kRetrain) result_.masks.save(out, "pipeline.masks.");
    if (stage_ >= kQuantizeRetrain && quantized_) quantized_->save(out, "pipeline.quantized.");
  }

  void restore(const TensorMap& in) {
    stage_ = static_cast<int>(number(in, "pipeline.stage"));
    XBARSWEEP_THROW_IF(
        stage_ < kAdmm || stage_ > kDone || (stage_ >= kQuantizeAdmm && stage_ < kDone && !c_.quantize_stage),
        CompressError, "saved pipeline state is in a stage this config does not have");
    epochs_ = static_cast<std::int64_t>(number(in, "pipeline.epochs"));
    result_.projected_accuracy = number(in, "pipeline.projected_accuracy");
    result_.accuracy = number(in, "pipeline.accuracy");
    const auto finished = static_cast<int>(number(in, "pipeline.residual_stages"));
    for (int s = 0; s < finished; ++s)
      result_.residuals.push_back(load_residuals(in, "pipeline.residuals." + std::to_string(s)));
    if (stage_ >= kRetrain) result_.masks = MaskSet::restore(model_, c_.spec, nullptr, in, "pipeline.masks.");
    if (stage_ >= kQuantizeRetrain && c_.quantize_stage)
      quantized_ = MaskSet::restore(model_, *c_.quantize_stage, &result_.masks, in, "pipeline.quantized.");
    resuming_ = true;
  }

  torch::nn::Module& model_;
  const TrainingCallbacks& t_;
  const PipelineConfig& c_;
  PipelineResult result_;
  int stage_ = kAdmm;
  std::int64_t epochs_ = 0;  // epochs of the current stage done
  bool resuming_ = false;    // the current stage continues a saved one (restore its ADMM state)
  std::optional<AdmmState> admm_;
  std::optional<MaskSet> quantized_;  // the sequential flow's second masks
};

}  // namespace

PipelinePosition pipeline_position(const TensorMap& state) {
  const int stage = static_cast<int>(number(state, "pipeline.stage"));
  XBARSWEEP_THROW_IF(stage < kAdmm || stage > kDone, CompressError, "saved pipeline stage " << stage);
  return {kStageNames[stage], static_cast<std::int64_t>(number(state, "pipeline.epochs"))};
}

PipelineResult run_admm_compression(torch::nn::Module& model, const TrainingCallbacks& training,
                                    const PipelineConfig& config) {
  XBARSWEEP_THROW_IF(!training.train_epoch, CompressError, "run_admm_compression needs train_epoch");
  XBARSWEEP_THROW_IF(
      config.admm_iterations < 0 || config.epochs_per_iteration < 0 || config.retrain_epochs < 0,
      CompressError, "iteration and epoch counts must be >= 0");
  return Pipeline(model, training, config).run();
}

}  // namespace xbarsweep::compress
