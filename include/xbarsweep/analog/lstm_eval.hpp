#pragma once
/// \file
/// \brief An LSTM's gate matrices on crossbars: every GateMatrix of a circulant::CirculantLSTM
/// (input-to-gates, state-to-gates, projection; dense or block-circulant, mapped as the dense
/// matrix it stands for) is programmed onto crossbars, and the LSTM runs with each gate product
/// simulated while the cell arithmetic (activations, state update, peepholes) stays digital.

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include "xbarsweep/analog/model_eval.hpp"
#include "xbarsweep/crossbar/config.hpp"
#include "xbarsweep/crossbar/cost.hpp"
#include "xbarsweep/data/dataset.hpp"

namespace xbarsweep::circulant {
struct CirculantLSTMImpl;
}

namespace xbarsweep::analog {

/// \brief One device sample of an LSTM's gate matrices on crossbars. The LSTM must outlive this
/// object. Gate matrix k (in module order) gets devices DeviceSeed{device_seed, k}. Not
/// thread-safe.
class HardwareLSTM {
 public:
  /// \throws CrossbarError for a bad config or an LSTM without gate matrices.
  HardwareLSTM(circulant::CirculantLSTMImpl& lstm, const CrossbarConfig& config, std::uint64_t device_seed,
               std::int64_t max_rows_per_mvm = 16384);
  ~HardwareLSTM();
  HardwareLSTM(HardwareLSTM&&) noexcept;
  HardwareLSTM& operator=(HardwareLSTM&&) noexcept;

  /// \brief Calibrates every gate matrix (DAC full scale, ADC ranges) on all the rows it receives,
  /// over every time step, in a software forward pass of \p x (the float activations).
  void calibrate(const at::Tensor& x);
  /// \brief Reads every gate matrix's devices \p t seconds after programming (crossbar.drift),
  /// after calibrate(). No effect without drift.
  void drift_to(double t);
  /// \brief The LSTM's output sequence for \p x (layout as CirculantLSTMImpl::forward) with every
  /// gate product simulated. Matrices never calibrated calibrate on their first call.
  at::Tensor forward(const at::Tensor& x);

  /// \brief How each gate matrix sits on crossbars; mvms = products per sequence (time steps),
  /// known once a batch has passed (calibrate or forward), else 1.
  std::vector<LayerMapping> mappings() const;
  std::int64_t crossbars() const;

 private:
  struct State;
  std::unique_ptr<State> state_;
};

/// \brief Maps an LSTM output sequence to logits (a classifier's digital head).
using SequenceHead = std::function<at::Tensor(const at::Tensor& lstm_output)>;

/// \brief Software accuracy and hardware accuracy over device samples of an LSTM classifier:
/// logits = head(lstm(x)) with the LSTM's gate matrices on crossbars and the head digital.
/// Each sample programs every gate matrix with its own seed, calibrates on the first
/// calibration_items of \p calibration, then classifies \p test.
HardwareEvaluation evaluate_lstm_on_crossbars(circulant::CirculantLSTMImpl& lstm, const SequenceHead& head,
                                              const data::Split& test, const data::Split& calibration,
                                              const CrossbarConfig& config,
                                              const HardwareEvalOptions& options);

}  // namespace xbarsweep::analog
