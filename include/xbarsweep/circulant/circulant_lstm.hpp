#pragma once
/// \file
/// \brief LSTMs whose gate matrices are dense or block-circulant by configuration: vanilla,
/// peephole, with a projection layer (Google LSTM: cells + projection + peepholes, as in
/// C-LSTM's TIMIT model), bidirectional, stacked. Float training path (autograd) and an emulated
/// 16-bit fixed-point evaluation path.

#include <torch/nn/cloneable.h>
#include <torch/nn/module.h>
#include <torch/nn/modules/container/modulelist.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/modules/rnn.h>
#include <torch/nn/pimpl.h>
#include <torch/types.h>

#include <cstdint>
#include <functional>
#include <tuple>

#include "xbarsweep/circulant/circulant_linear.hpp"
#include "xbarsweep/circulant/fixed_point.hpp"

namespace xbarsweep::circulant {

/// \brief How the float forward multiplies a block-circulant gate matrix.
/// - `fft`: every product by rfft, a per-bin matmul and irfft (CirculantLinear::forward).
/// - `expanded`: the dense matrix built once per forward of the cell and reused at every time
///   step by GEMM. Same values up to float rounding; faster to train while the dense matrix fits
///   in memory, because an LSTM multiplies by the same matrix at every step.
enum class CirculantProduct { expanded, fft };

/// \brief `gates` stacked matrices of size out x in, each dense (k = 1: one torch::nn::Linear
/// holding all of them) or block-circulant (k > 1: one CirculantLinear per gate, so blocks never
/// straddle two gates).
struct GateMatrixImpl : torch::nn::Cloneable<GateMatrixImpl> {
  /// \throws CirculantError when a size is not positive.
  GateMatrixImpl(std::int64_t in, std::int64_t out, std::int64_t gates, std::int64_t block_size, bool bias);
  void reset() override;
  /// \brief (..., in) -> (..., gates * out), gate g in columns [g*out, (g+1)*out).
  torch::Tensor forward(const torch::Tensor& x);
  /// \brief The (gates*out) x in dense matrix (differentiable).
  torch::Tensor dense_weight() const;
  /// \brief The (gates*out) bias, or an undefined tensor.
  torch::Tensor dense_bias() const;
  /// \brief Loads a dense (gates*out) x in matrix (and bias if defined): copied when dense,
  /// projected onto block-circulant structure otherwise.
  void load_dense(const torch::Tensor& weight, const torch::Tensor& bias);
  /// \brief Stored weights and biases.
  std::int64_t stored_parameters() const;
  /// \brief This matrix's product (with bias) for many applications of the same weights, such
  /// as an LSTM's time steps. Dense matrices and CirculantProduct::fft use forward();
  /// CirculantProduct::expanded builds the dense matrix once (differentiable, so gradients still
  /// reach the defining vectors) and multiplies by GEMM. The result holds that matrix: bind again
  /// after the weights change.
  std::function<torch::Tensor(const torch::Tensor&)> bind(CirculantProduct how);

  std::int64_t in, out, gates, block_size;
  bool has_bias;
  torch::nn::Linear dense{nullptr};  ///< set when block_size == 1
  torch::nn::ModuleList circulant;   ///< CirculantLinear per gate when block_size > 1
};
TORCH_MODULE(GateMatrix);

/// \brief Computes a gate matrix's product with its bias, (rows, in) -> (rows, gates*out), in
/// place of GateMatrixImpl::forward: how another engine (the crossbar simulator) evaluates an
/// LSTM's matrices while the cell keeps its own state arithmetic. Empty = the module's forward.
using GateProduct = std::function<torch::Tensor(GateMatrixImpl& matrix, const torch::Tensor& rows)>;

/// \brief Configuration of a CirculantLSTM.
struct CirculantLSTMOptions {
  CirculantLSTMOptions(std::int64_t input_size, std::int64_t hidden_size)
      : input_size_(input_size), hidden_size_(hidden_size) {}
  TORCH_ARG(std::int64_t, input_size);
  TORCH_ARG(std::int64_t, hidden_size);  ///< cells per direction
  TORCH_ARG(std::int64_t, num_layers) = 1;
  TORCH_ARG(bool, bidirectional) = false;
  /// Peephole connections (diagonal c -> i, f, o weights).
  TORCH_ARG(bool, peephole) = false;
  /// Recurrent projection size; 0 = none (output and recurrent state are the cells' h).
  TORCH_ARG(std::int64_t, projection_size) = 0;
  /// k of the input-to-gates matrices (1 = dense).
  TORCH_ARG(std::int64_t, input_block_size) = 1;
  /// k of the recurrent (state-to-gates) matrices (1 = dense).
  TORCH_ARG(std::int64_t, recurrent_block_size) = 1;
  /// k of the projection matrix (1 = dense).
  TORCH_ARG(std::int64_t, projection_block_size) = 1;
  /// Input and output as (batch, time, features) instead of (time, batch, features).
  TORCH_ARG(bool, batch_first) = false;
  /// How forward() multiplies block-circulant matrices (forward_fixed always uses the FFT form).
  TORCH_ARG(CirculantProduct, product) = CirculantProduct::expanded;

 public:  // TORCH_ARG leaves the section private
  /// \brief Sets the block size of every gate matrix.
  CirculantLSTMOptions& block_size(std::int64_t k) {
    input_block_size_ = recurrent_block_size_ = projection_block_size_ = k;
    return *this;
  }
  /// \brief The Google LSTM of C-LSTM's TIMIT model: peepholes and a projection layer.
  CirculantLSTMOptions& google(std::int64_t projection) {
    peephole_ = true;
    projection_size_ = projection;
    return *this;
  }
  /// \brief Width of the recurrent state and of each direction's output.
  std::int64_t output_size() const { return projection_size_ > 0 ? projection_size_ : hidden_size_; }
};

/// \brief Fixed-point evaluation settings: the number format and the PWL activations.
struct FixedPointEvaluation {
  FixedPointFormat format{};
  PiecewiseLinear sigmoid = PiecewiseLinear::sigmoid();
  PiecewiseLinear tanh = PiecewiseLinear::tanh();
};

/// \brief One direction of one layer: i, f, g, o = W_x x + W_h r + b (+ peepholes), c, h.
struct CirculantLSTMCellImpl : torch::nn::Cloneable<CirculantLSTMCellImpl> {
  CirculantLSTMCellImpl(const CirculantLSTMOptions& options, std::int64_t input_size);
  void reset() override;
  /// \brief Runs the cell over x (T, N, input) from zero state, in time order or reversed;
  /// returns output (T, N, output_size) in time order, final r (N, output_size), final c (N, H).
  std::tuple<torch::Tensor, torch::Tensor, torch::Tensor> forward(const torch::Tensor& x, bool reverse,
                                                                  const GateProduct& product = {});
  /// \brief Same, in emulated fixed point (double tensors holding values of the format; every
  /// matrix product accumulated exactly and rounded once, as a wide accumulator would).
  torch::Tensor forward_fixed(const torch::Tensor& x, bool reverse, const FixedPointEvaluation& fx) const;

  CirculantLSTMOptions options;
  std::int64_t input_size;
  GateMatrix w_x{nullptr}, w_h{nullptr}, w_proj{nullptr};
  torch::Tensor peep_i, peep_f, peep_o;  ///< (H) when peephole
};
TORCH_MODULE(CirculantLSTMCell);

/// \brief Stacked, optionally bidirectional LSTM with dense or block-circulant gate matrices.
/// Gate order i, f, g, o as in torch::nn::LSTM.
struct CirculantLSTMImpl : torch::nn::Cloneable<CirculantLSTMImpl> {
  /// \throws CirculantError when a size is not positive.
  explicit CirculantLSTMImpl(const CirculantLSTMOptions& options);
  void reset() override;

  /// \brief x (T, N, input) (or (N, T, input) with batch_first) from zero state ->
  /// (output (T, N, D*out), (h_n (L*D, N, out), c_n (L*D, N, H))), like torch::nn::LSTM.
  /// \throws CirculantError when x is not 3-D with input_size features.
  std::tuple<torch::Tensor, std::tuple<torch::Tensor, torch::Tensor>> forward(
      const torch::Tensor& x, const GateProduct& product = {});

  /// \brief Output sequence (same layout as forward) evaluated in emulated fixed point:
  /// weights, biases, inputs, activations and states quantized to fx.format at each op,
  /// sigmoid/tanh by fx's PWL tables. No gradient. Returns float.
  torch::Tensor forward_fixed(const torch::Tensor& x, const FixedPointEvaluation& fx = {}) const;

  /// \brief Copies a torch::nn::LSTM's weights (same sizes, same projection size): exact for
  /// dense gate matrices, projected onto block-circulant structure otherwise (E-RNN's
  /// conversion of a pretrained dense LSTM). Peepholes, which torch lacks, are set to zero.
  /// \throws CirculantError when the shapes disagree.
  void load_from_torch(const torch::nn::LSTM& lstm);

  /// \brief Loads another CirculantLSTM's weights (same sizes, layers, directions, projection and
  /// peepholes; any block sizes): each gate matrix as the dense matrix it stands for, copied where
  /// this one is dense and projected onto block-circulant structure otherwise (E-RNN's
  /// conversion of a trained dense LSTM); peepholes copied.
  /// \throws CirculantError when the shapes disagree.
  void load_from(const CirculantLSTMImpl& other);

  /// \brief Cell of a layer and direction (0 forward, 1 backward).
  CirculantLSTMCell cell(std::int64_t layer, std::int64_t direction) const;
  /// \brief Parameters stored.
  std::int64_t stored_parameters() const;
  /// \brief Parameters of the same LSTM with every gate matrix dense.
  std::int64_t dense_parameters() const;

  CirculantLSTMOptions options;
  torch::nn::ModuleList cells;  ///< layer-major: index layer * directions + direction
};
TORCH_MODULE(CirculantLSTM);

/// \brief Quantizes every element of t to a fixed-point format (round to nearest, saturating).
torch::Tensor quantize(const torch::Tensor& t, const FixedPointFormat& format);
/// \brief Applies a PWL table elementwise (any floating dtype).
torch::Tensor apply_pwl(const torch::Tensor& t, const PiecewiseLinear& pwl);

}  // namespace xbarsweep::circulant
