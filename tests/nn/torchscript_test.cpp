// TorchScript classifiers: the mirror of parameters and buffers, the forward graph's Linear and
// Conv2d calls, training through the script, and the files it refuses.
#include "xbarsweep/nn/torchscript.hpp"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <fstream>

#include "support/exported_models.hpp"
#include "xbarsweep/data/dataset.hpp"
#include "xbarsweep/nn/models.hpp"
#include "xbarsweep/nn/training.hpp"

namespace xn = xbarsweep::nn;
using xbarsweep::testing::exported_model;

namespace {

double max_abs_difference(const torch::Tensor& a, const torch::Tensor& b) {
  return (a - b).abs().max().item<double>();
}

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const xbarsweep::ModelError& e) {
    return e.what();
  }
  return "(no ModelError)";
}

}  // namespace

TEST(TorchScript, FindsEveryLinearAndConvWithItsGeometry) {
  xn::TorchScriptClassifierImpl model(exported_model("cnn.pt"));
  const auto layers = model.weight_layers();
  std::vector<std::string> names;
  for (const auto& l : layers) names.push_back(l.module);
  EXPECT_EQ(names, (std::vector<std::string>{"stem", "block.conv1", "block.conv2", "head.0", "head.2"}));
  const auto& stem = layers[0];
  EXPECT_TRUE(stem.conv);
  EXPECT_EQ(stem.type, "Conv2d");
  EXPECT_EQ(stem.stride[0], 2);
  EXPECT_EQ(stem.padding[1], 1);
  EXPECT_TRUE(stem.bias.defined());
  const auto& grouped = layers[2];  // padding="same", groups=2, no bias
  EXPECT_EQ(grouped.groups, 2);
  EXPECT_EQ(grouped.padding[0], 1);
  EXPECT_FALSE(grouped.bias.defined());
  EXPECT_FALSE(layers[3].conv);
  EXPECT_TRUE(model.unmapped_weights().empty());
  model.require_mappable();
}

TEST(TorchScript, MirrorsParametersAndBuffersAsTheSameTensors) {
  xn::TorchScriptClassifierImpl model(exported_model("cnn.pt"));
  const auto params = model.named_parameters();
  ASSERT_NE(params.find("block.conv1.weight"), nullptr);
  ASSERT_NE(model.named_buffers().find("block.bn1.running_mean"), nullptr);
  // The same storage: a change through the mirror is a change of the script's weight.
  const auto script_weight =
      model.script().attr("block").toModule().attr("conv1").toModule().attr("weight").toTensor();
  EXPECT_EQ(params["block.conv1.weight"].data_ptr(), script_weight.data_ptr());
  EXPECT_EQ(xn::weight_tensors(model).size(), 5u);  // the 4-D and 2-D weights, not the norms
}

TEST(TorchScript, MappedForwardWithDigitalLayersEqualsTheScriptsForward) {
  for (const char* file : {"cnn.pt", "cnn-traced.pt", "lenet5.pt", "lenet5-traced.pt", "mlp.pt"}) {
    xn::TorchScriptClassifierImpl model(exported_model(file));
    model.eval();
    torch::NoGradGuard no_grad;
    const auto x = torch::randn({3, 1, 28, 28}, torch::TensorOptions().dtype(torch::kFloat));
    const auto want = model.forward(x);
    const auto layers = model.weight_layers();
    std::size_t calls = 0;
    const auto got = model.forward_with(
        [&](std::size_t k, const at::Tensor& in) {
          ++calls;
          return xn::weight_layer_forward(layers[k], in);
        },
        x);
    EXPECT_GE(calls, layers.size()) << file;
    EXPECT_LE(max_abs_difference(got, want), 1e-6) << file;
  }
}

TEST(TorchScript, TrainsThroughTheScriptUpdatingBatchNormBuffers) {
  xn::TorchScriptClassifierImpl model(exported_model("cnn.pt"));
  const auto split = xbarsweep::data::make_synthetic(256, 3);
  xbarsweep::data::Split train{split.images.div(255.0).unsqueeze(1), split.labels};
  const auto before = model.named_parameters()["stem.weight"].detach().clone();
  const auto mean_before = model.named_buffers()["stem_bn.running_mean"].clone();
  auto optimizer = xn::make_optimizer(model, xn::OptimizerOptions{});
  const auto result = xn::train_epoch(model, *optimizer, train, 64, 1);
  EXPECT_EQ(result.steps, 4);
  EXPECT_GT(max_abs_difference(model.named_parameters()["stem.weight"], before), 0.0);
  EXPECT_GT(max_abs_difference(model.named_buffers()["stem_bn.running_mean"], mean_before), 0.0);
  EXPECT_TRUE(model.script().is_training());
  model.eval();
  EXPECT_FALSE(model.script().is_training());
}

TEST(TorchScript, SeededInitialisationMatchesTheBuiltInModel) {
  xn::ModelOptions o;
  o.seed = 7;
  const auto builtin = xn::make_model("lenet5", o);
  o.path = exported_model("lenet5.pt");
  o.reinitialise = true;
  const auto script = xn::make_model("torchscript", o);
  const auto a = builtin->named_parameters(), b = script->named_parameters();
  ASSERT_EQ(a.size(), b.size());
  for (const auto& item : a) {
    ASSERT_NE(b.find(item.key()), nullptr) << item.key();
    EXPECT_TRUE(torch::equal(item.value(), b[item.key()])) << item.key();
  }
  builtin->eval();
  script->eval();
  torch::NoGradGuard no_grad;
  const auto x = torch::randn({4, 1, 28, 28});
  EXPECT_LE(max_abs_difference(builtin->forward(x), script->forward(x)), 1e-6);
  // Without reinitialise the file's own weights stay.
  o.reinitialise = false;
  const auto own = xn::make_model("torchscript", o);
  EXPECT_FALSE(torch::equal(own->named_parameters()["conv1.weight"], b["conv1.weight"]));
}

TEST(TorchScript, CountsTheMultiplyAccumulatesOfTheMappedLayers) {
  xn::ModelOptions o;
  EXPECT_DOUBLE_EQ(xn::TorchScriptClassifierImpl(exported_model("lenet5.pt")).macs_per_sample(1, 28, 28),
                   xn::macs_per_sample("lenet5", o));
  // mlp.pt: 784 x 128 + 128 x 10.
  EXPECT_DOUBLE_EQ(xn::TorchScriptClassifierImpl(exported_model("mlp.pt")).macs_per_sample(1, 28, 28),
                   784.0 * 128.0 + 1280.0);
}

TEST(TorchScript, NamesTheModuleWhoseWeightCannotBeMapped) {
  xn::TorchScriptClassifierImpl model(exported_model("unsupported.pt"));
  ASSERT_EQ(model.unmapped_weights().size(), 1u);
  EXPECT_EQ(model.unmapped_weights()[0].module, "up");
  EXPECT_EQ(model.unmapped_weights()[0].type, "ConvTranspose2d");
  const std::string message = error_of([&] { model.require_mappable(); });
  EXPECT_NE(message.find("module 'up' (ConvTranspose2d)"), std::string::npos) << message;
  EXPECT_NE(message.find("conv_transpose2d"), std::string::npos) << message;
  EXPECT_NE(message.find("unsupported.pt"), std::string::npos) << message;
}

TEST(TorchScript, RefusesFilesItCannotUse) {
  const std::string garbage = exported_model("garbage.pt");
  std::ofstream(garbage) << "not a zip archive";
  EXPECT_NE(
      error_of([&] { xn::TorchScriptClassifierImpl m(garbage); }).find("cannot be loaded as TorchScript"),
      std::string::npos);
  EXPECT_NE(
      error_of([&] { xn::TorchScriptClassifierImpl m(exported_model("missing.pt")); }).find("missing.pt"),
      std::string::npos);
  EXPECT_NE(error_of([&] {
              xn::TorchScriptClassifierImpl m(exported_model("no-layers.pt"));
            }).find("has no Linear or Conv2d layer"),
            std::string::npos);
  EXPECT_NE(error_of([&] {
              xn::TorchScriptClassifierImpl m(exported_model("two-inputs.pt"));
            }).find("forward takes 2 arguments"),
            std::string::npos);
}
