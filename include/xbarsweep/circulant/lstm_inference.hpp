#pragma once
/// \file
/// \brief Float inference of a trained CirculantLSTM with the FFT engine: every block-circulant
/// gate matrix runs on CirculantMatrix (FFTW + Kokkos), every dense one (k = 1) on LibTorch's
/// matvec (torch::mv at batch 1, torch::mm otherwise: the fair dense baseline). Torch-free header.

#include <cstdint>
#include <memory>
#include <vector>

namespace xbarsweep::circulant {

struct CirculantLSTMImpl;

namespace Impl {
struct LSTMInferenceCell;
}

/// \brief A frozen copy of a CirculantLSTM (any variant: peephole, projection, bidirectional,
/// stacked) for timing and deployment. Same results as CirculantLSTM::forward (float rounding).
/// Kokkos must be initialised.
class LSTMInference {
 public:
  /// \brief Copies the weights (FFTs of the defining vectors for circulant matrices).
  explicit LSTMInference(const CirculantLSTMImpl& lstm);
  ~LSTMInference();
  LSTMInference(LSTMInference&&) noexcept;
  LSTMInference& operator=(LSTMInference&&) noexcept;

  /// \brief Runs a sequence from zero state. x: (T, N, input) row-major (time-major, whatever
  /// the module's batch_first); returns the output sequence (T, N, directions * output_size).
  /// \throws CirculantError when x.size() != T * N * input_size.
  std::vector<float> forward(const std::vector<float>& x, std::int64_t steps, std::int64_t batch) const;

  std::int64_t input_size() const { return input_size_; }
  std::int64_t output_features() const { return output_features_; }

 private:
  std::int64_t input_size_ = 0, output_features_ = 0, layers_ = 0, directions_ = 1;
  std::vector<std::unique_ptr<Impl::LSTMInferenceCell>> cells_;
};

}  // namespace xbarsweep::circulant
