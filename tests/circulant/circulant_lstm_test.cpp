#include "xbarsweep/circulant/circulant_lstm.hpp"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "test_util.hpp"

namespace xc = xbarsweep::circulant;
using xc::test::all_close;

namespace {

// Compares a dense (k = 1) CirculantLSTM loaded from a torch::nn::LSTM with that LSTM.
void expect_matches_torch(torch::nn::LSTMOptions topts, xc::CirculantLSTMOptions copts) {
  torch::manual_seed(11);
  torch::nn::LSTM ref(topts);
  xc::CirculantLSTM ours(copts);
  ours->load_from_torch(ref);
  auto x = copts.batch_first() ? torch::randn({3, 6, copts.input_size()})
                               : torch::randn({6, 3, copts.input_size()});
  auto [y_ref, state_ref] = ref->forward(x);
  auto [y, state] = ours->forward(x);
  EXPECT_TRUE(all_close(y, y_ref, 1e-4, 1e-5)) << "output";
  EXPECT_TRUE(all_close(std::get<0>(state), std::get<0>(state_ref), 1e-4, 1e-5)) << "h_n";
  EXPECT_TRUE(all_close(std::get<1>(state), std::get<1>(state_ref), 1e-4, 1e-5)) << "c_n";
}

}  // namespace

TEST(CirculantLSTM, DenseVanillaMatchesTorchLSTM) {
  expect_matches_torch(torch::nn::LSTMOptions(10, 16), xc::CirculantLSTMOptions(10, 16));
}

TEST(CirculantLSTM, DenseStackedBidirectionalBatchFirstMatchesTorchLSTM) {
  expect_matches_torch(torch::nn::LSTMOptions(10, 16).num_layers(2).bidirectional(true).batch_first(true),
                       xc::CirculantLSTMOptions(10, 16).num_layers(2).bidirectional(true).batch_first(true));
}

TEST(CirculantLSTM, DenseProjectionMatchesTorchLSTM) {
  expect_matches_torch(torch::nn::LSTMOptions(10, 16).proj_size(8).num_layers(2),
                       xc::CirculantLSTMOptions(10, 16).projection_size(8).num_layers(2));
}

namespace {

// A circulant LSTM's step equals the same LSTM written with its dense gate matrices, whichever
// product the circulant one uses.
void expect_circulant_matches_dense(xc::CirculantProduct product) {
  torch::manual_seed(12);
  auto opts = xc::CirculantLSTMOptions(12, 16).google(8).block_size(4).bidirectional(true);
  opts.product(product);
  xc::CirculantLSTM circ(opts);
  auto dense_opts = opts;
  dense_opts.block_size(1);
  xc::CirculantLSTM dense(dense_opts);
  dense->load_from(*circ);  // a dense matrix takes the circulant one as it is
  auto x = torch::randn({5, 2, 12}, torch::requires_grad());
  auto y_circ = std::get<0>(circ->forward(x));
  auto y_dense = std::get<0>(dense->forward(x));
  EXPECT_TRUE(all_close(y_circ, y_dense, 1e-4, 1e-5));
  // Gradients with respect to the input agree too.
  auto upstream = torch::randn_like(y_circ);
  auto g_circ = torch::autograd::grad({y_circ}, {x}, {upstream})[0];
  auto g_dense = torch::autograd::grad({y_dense}, {x}, {upstream})[0];
  EXPECT_TRUE(all_close(g_circ, g_dense, 1e-4, 1e-5));
  EXPECT_LT(circ->stored_parameters(), dense->stored_parameters());
  EXPECT_EQ(circ->dense_parameters(), dense->stored_parameters());
}

}  // namespace

TEST(CirculantLSTM, CirculantGatesMatchTheirDenseMatricesByFft) {
  expect_circulant_matches_dense(xc::CirculantProduct::fft);
}

TEST(CirculantLSTM, CirculantGatesMatchTheirDenseMatricesExpanded) {
  expect_circulant_matches_dense(xc::CirculantProduct::expanded);
}

// The two products train the same model: equal outputs and equal gradients of every parameter
// (defining vectors, biases, peepholes), padding included (12 inputs, k = 5).
TEST(CirculantLSTM, ExpandedAndFftProductsGiveTheSameParameterGradients) {
  torch::manual_seed(14);
  auto opts = xc::CirculantLSTMOptions(12, 16).google(8).block_size(5).num_layers(2);
  opts.product(xc::CirculantProduct::fft);
  xc::CirculantLSTM by_fft(opts);
  auto expanded_opts = opts;
  expanded_opts.product(xc::CirculantProduct::expanded);
  xc::CirculantLSTM expanded(expanded_opts);
  expanded->load_from(*by_fft);
  auto x = torch::randn({7, 3, 12});
  auto upstream = torch::randn({7, 3, 8});
  auto y_fft = std::get<0>(by_fft->forward(x));
  auto y_expanded = std::get<0>(expanded->forward(x));
  ASSERT_TRUE(all_close(y_expanded, y_fft, 1e-4, 1e-5));
  (y_fft * upstream).sum().backward();
  (y_expanded * upstream).sum().backward();
  const auto fft_params = by_fft->named_parameters();
  const auto expanded_params = expanded->named_parameters();
  ASSERT_EQ(fft_params.size(), expanded_params.size());
  for (const auto& item : fft_params) {
    const auto* twin = expanded_params.find(item.key());
    ASSERT_NE(twin, nullptr) << item.key();
    ASSERT_TRUE(item.value().grad().defined()) << item.key();
    EXPECT_TRUE(all_close(twin->grad(), item.value().grad(), 1e-4, 1e-5)) << item.key();
  }
}

// E-RNN's conversion: a circulant LSTM loaded from a dense one holds the projection of each gate
// matrix (the nearest block-circulant matrix); loading that back into a dense LSTM is exact.
TEST(CirculantLSTM, LoadFromADenseLstmProjectsEveryGateMatrix) {
  torch::manual_seed(13);
  auto dense_opts = xc::CirculantLSTMOptions(12, 16).google(8).num_layers(2);
  xc::CirculantLSTM dense(dense_opts);
  auto circ_opts = dense_opts;
  circ_opts.block_size(4);
  xc::CirculantLSTM circ(circ_opts);
  circ->load_from(*dense);
  for (int64_t l = 0; l < 2; ++l) {
    auto c = circ->cell(l, 0), d = dense->cell(l, 0);
    for (auto [cm, dm] :
         {std::pair{c->w_x, d->w_x}, std::pair{c->w_h, d->w_h}, std::pair{c->w_proj, d->w_proj}}) {
      const auto w = dm->dense_weight().detach();
      std::vector<torch::Tensor> projected;
      for (int64_t g = 0; g < dm->gates; ++g) {
        projected.push_back(xc::project_block_circulant_dense(w.narrow(0, g * dm->out, dm->out),
                                                              xc::BlockLayout::make(dm->in, dm->out, 4)));
      }
      EXPECT_TRUE(all_close(cm->dense_weight().detach(), torch::cat(projected, 0), 1e-5, 1e-6))
          << "layer " << l;
    }
    EXPECT_TRUE(torch::equal(c->peep_f, d->peep_f));
  }
  xc::CirculantLSTM back(dense_opts);
  back->load_from(*circ);
  const auto x = torch::randn({5, 2, 12});
  EXPECT_TRUE(all_close(std::get<0>(back->forward(x)), std::get<0>(circ->forward(x)), 1e-4, 1e-5));
  xc::CirculantLSTM other(xc::CirculantLSTMOptions(12, 8));
  EXPECT_THROW(other->load_from(*dense), xc::CirculantError);
}

TEST(CirculantLSTM, PeepholeVariantTrains) {
  torch::manual_seed(13);
  xc::CirculantLSTM lstm(xc::CirculantLSTMOptions(8, 16).peephole(true).block_size(4));
  torch::nn::Linear head(16, 2);
  auto x = torch::randn({10, 32, 8});
  auto label = (x.sum(std::vector<int64_t>{0, 2}) > 0).to(torch::kLong);
  std::vector<torch::Tensor> params = lstm->parameters();
  for (auto& p : head->parameters()) params.push_back(p);
  torch::optim::Adam opt(params, torch::optim::AdamOptions(0.02));
  double first = 0, last = 0;
  for (int it = 0; it < 60; ++it) {
    opt.zero_grad();
    auto out = std::get<0>(lstm->forward(x));
    torch::Tensor loss = torch::nn::functional::cross_entropy(head->forward(out[-1]), label);
    loss.backward();
    opt.step();
    if (it == 0) first = loss.item<double>();
    last = loss.item<double>();
  }
  EXPECT_LT(last, 0.5 * first) << "first " << first << " last " << last;
}

// The fixed-point path stays close to float: 16-bit activations with PWL tables.
TEST(CirculantLSTM, FixedPointPathTracksFloat) {
  torch::manual_seed(14);
  xc::CirculantLSTM lstm(xc::CirculantLSTMOptions(16, 32).google(16).block_size(8));
  auto x = torch::randn({8, 4, 16});
  torch::Tensor y;
  {
    torch::NoGradGuard g;
    y = std::get<0>(lstm->forward(x));
  }
  auto yq = lstm->forward_fixed(x);
  ASSERT_EQ(yq.sizes(), y.sizes());
  const double err = (yq - y).abs().max().item<double>();
  EXPECT_LT(err, 0.05) << "max |fixed - float| " << err;
  // Every output is a value of the format.
  auto fmt = xc::FixedPointFormat{};
  EXPECT_TRUE(all_close(xc::quantize(yq.to(torch::kDouble), fmt), yq.to(torch::kDouble), 0, 0));
}

TEST(CirculantLSTM, RejectsBadOptionsAndInputs) {
  EXPECT_THROW(xc::CirculantLSTM(xc::CirculantLSTMOptions(0, 4)), xc::CirculantError);
  EXPECT_THROW(xc::CirculantLSTM(xc::CirculantLSTMOptions(4, 4).input_block_size(0)), xc::CirculantError);
  xc::CirculantLSTM lstm(xc::CirculantLSTMOptions(4, 4));
  EXPECT_THROW(lstm->forward(torch::randn({3, 2, 5})), xc::CirculantError);
  torch::nn::LSTM other(torch::nn::LSTMOptions(4, 8));
  EXPECT_THROW(lstm->load_from_torch(other), xc::CirculantError);
}
