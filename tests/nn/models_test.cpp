// The classifiers: shapes, parameter counts, seeded initialisation, the factory's errors.
#include "xbarsweep/nn/models.hpp"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <tuple>
#include <vector>

#include "xbarsweep/error.hpp"

using namespace xbarsweep::nn;

namespace {

ModelOptions options(std::int64_t image_size, double width = 1.0) {
  ModelOptions o;
  o.image_size = image_size;
  o.width = width;
  return o;
}

TEST(Models, ForwardGivesLogitsPerClass) {
  struct Case {
    const char* name;
    std::int64_t size;
    double width;
  };
  for (const auto& c : {Case{"mlp", 28, 1}, Case{"mlp", 32, 1}, Case{"lenet5", 28, 1}, Case{"lenet5", 32, 1},
                        Case{"vgg16", 32, 0.125}, Case{"resnet18", 28, 0.125}, Case{"resnet18", 32, 0.125}}) {
    auto model = make_model(c.name, options(c.size, c.width));
    model->eval();
    const auto out = model->forward(torch::randn({3, 1, c.size, c.size}));
    EXPECT_EQ(out.sizes(), (at::IntArrayRef{3, 10})) << c.name << " at " << c.size;
    EXPECT_GT(macs_per_sample(c.name, options(c.size, c.width)), 0.0) << c.name;
  }
}

TEST(Models, ForwardWithRoutesEveryWeightLayerOnceInParameterOrder) {
  for (const auto& [name, size, width] :
       {std::tuple{"mlp", 28, 1.0}, {"lenet5", 28, 1.0}, {"vgg16", 32, 0.125}, {"resnet18", 32, 0.125}}) {
    auto model = make_model(name, options(size, width));
    model->eval();
    const auto layers = model->weight_layers();
    const auto weights = weight_tensors(*model);
    ASSERT_EQ(layers.size(), weights.size()) << name;
    for (std::size_t k = 0; k < layers.size(); ++k) {
      EXPECT_EQ(layers[k].parameter, weights[k].first) << name;
      EXPECT_TRUE(layers[k].weight.is_same(weights[k].second)) << name << " " << layers[k].parameter;
    }
    const auto x = torch::randn({2, 1, size, size});
    std::vector<int> calls(layers.size(), 0);
    const auto routed = model->forward_with(
        [&](std::size_t k, const at::Tensor& in) {
          ++calls.at(k);
          return weight_layer_forward(layers[k], in);
        },
        x);
    EXPECT_EQ(calls, std::vector<int>(layers.size(), 1)) << name;
    const double diff = (routed - model->forward(x)).abs().max().item<double>();
    EXPECT_LE(diff, 1e-6) << name << ": the digital routing differs from forward by " << diff;
    // Gradients flow through what the routed layers compute.
    model->zero_grad();
    model
        ->forward_with(
            [&](std::size_t k, const at::Tensor& in) { return 2.0 * weight_layer_forward(layers[k], in); }, x)
        .sum()
        .backward();
    EXPECT_TRUE(layers.front().weight.grad().defined()) << name;
    EXPECT_GT(layers.front().weight.grad().abs().sum().item<double>(), 0.0) << name;
  }
}

TEST(Models, LeNet5HasTheClassicParameterCount) {
  auto model = make_model("lenet5", options(28));
  // conv1 156 + conv2 2416 + fc1 48120 + fc2 10164 + fc3 850
  EXPECT_EQ(count_parameters(*model), 61706);
  std::vector<std::string> names;
  for (const auto& [name, w] : weight_tensors(*model)) names.push_back(name);
  EXPECT_EQ(names, (std::vector<std::string>{"conv1.weight", "conv2.weight", "fc1.weight", "fc2.weight",
                                             "fc3.weight"}));
  EXPECT_DOUBLE_EQ(macs_per_sample("lenet5", options(28)),
                   28 * 28 * 6 * 25 + 10 * 10 * 16 * 150 + 400 * 120 + 120 * 84 + 84 * 10);
}

TEST(Models, MlpLayersFollowOptions) {
  ModelOptions o;
  o.hidden = {64, 32};
  auto model = make_model("mlp", o);
  EXPECT_EQ(count_parameters(*model), 784 * 64 + 64 + 64 * 32 + 32 + 32 * 10 + 10);
  EXPECT_DOUBLE_EQ(macs_per_sample("mlp", o), 784 * 64 + 64 * 32 + 32 * 10);
  EXPECT_EQ(weight_tensors(*model).size(), 3u);
}

TEST(Models, WidthScalesChannels) {
  const auto full = count_parameters(*make_model("resnet18", options(32, 0.25)));
  const auto half = count_parameters(*make_model("resnet18", options(32, 0.125)));
  EXPECT_GT(full, 3 * half);  // ~4x: parameters grow with width squared
  EXPECT_LT(full, 5 * half);
}

TEST(Models, InitialisationDependsOnlyOnTheSeed) {
  ModelOptions o;
  o.seed = 5;
  torch::manual_seed(1);
  auto a = make_model("lenet5", o);
  torch::manual_seed(2);  // the global generator must not matter
  auto b = make_model("lenet5", o);
  o.seed = 6;
  auto c = make_model("lenet5", o);
  const auto pa = a->parameters(), pb = b->parameters(), pc = c->parameters();
  bool any_differs = false;
  for (std::size_t i = 0; i < pa.size(); ++i) {
    EXPECT_TRUE(pa[i].equal(pb[i])) << "parameter " << i;
    any_differs = any_differs || !pa[i].equal(pc[i]);
  }
  EXPECT_TRUE(any_differs);
  // PyTorch's default bound 1/sqrt(fan_in) for fc1 (fan_in 400).
  const auto w = a->named_parameters()["fc1.weight"];
  EXPECT_LE(w.abs().max().item<double>(), 1.0 / 20.0);
  EXPECT_GT(w.abs().max().item<double>(), 0.9 / 20.0);
}

TEST(Models, BadNamesAndShapesAreRejected) {
  EXPECT_THROW(make_model("alexnet", options(28)), xbarsweep::ModelError);
  EXPECT_THROW(make_model("lenet5", options(30)), xbarsweep::ModelError);
  EXPECT_THROW(make_model("vgg16", options(28)), xbarsweep::ModelError);
  EXPECT_THROW(make_model("resnet18", options(32, 0.0)), xbarsweep::ModelError);
}

}  // namespace
