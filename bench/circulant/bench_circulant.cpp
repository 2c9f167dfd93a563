// Block-circulant matvec (CirculantMatrix: FFTW + Kokkos) against baselines measured in the same
// run: LibTorch's dense torch::mv (batch 1), torch::mm (batch B), and a plain torch::fft
// implementation of the same block-circulant product. One thread everywhere.
//
// Method: for each comparison, R repetitions; each repetition times the baseline and the
// candidate back to back (interleaved, each a loop of calls long enough to be ~3 ms) and takes
// their ratio; the figure is the median of the R ratios (run-to-run noise here is 10-35%).
#include "../bench_timing.hpp"
#include <torch/torch.h>
#include <unistd.h>

#include <Kokkos_Core.hpp>
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include "xbarsweep/circulant/circulant_linear.hpp"
#include "xbarsweep/circulant/circulant_matrix.hpp"
#include "xbarsweep/circulant/circulant_lstm.hpp"
#include "xbarsweep/circulant/lstm_inference.hpp"

namespace xc = xbarsweep::circulant;

namespace {

using Clock = std::chrono::steady_clock;

int g_reps = 15;

// Seconds per call of f, over enough calls to last about `target` seconds.
double seconds_per_call(const std::function<void()>& f, double target = 3e-3) {
  f();
  int n = 1;
  for (;;) {
    const auto t0 = Clock::now();
    for (int i = 0; i < n; ++i) f();
    Kokkos::fence();
    const double s = std::chrono::duration<double>(Clock::now() - t0).count();
    if (s >= target || n >= (1 << 20)) return s / n;
    n = s <= 0 ? n * 16 : std::max(n * 2, static_cast<int>(n * target / s * 1.2));
  }
}

struct Comparison {
  double ratio_median, baseline_us, candidate_us;
};

Comparison compare(const std::function<void()>& baseline, const std::function<void()>& candidate) {
  std::vector<double> ratios, tb, tc;
  for (int r = 0; r < g_reps; ++r) {
    const double b = seconds_per_call(baseline), c = seconds_per_call(candidate);
    ratios.push_back(b / c);
    tb.push_back(b);
    tc.push_back(c);
  }
  using xbarsweep::bench::median;
  return {median(ratios), median(tb) * 1e6, median(tc) * 1e6};
}

struct Problem {
  xc::BlockLayout layout;
  torch::Tensor w;      // defining vectors (p, q, k)
  torch::Tensor dense;  // out x in, contiguous
  xc::CirculantMatrix engine;
  Problem(int64_t in, int64_t out, int64_t k)
      : layout(xc::BlockLayout::make(in, out, k)),
        w(torch::randn({layout.block_rows(), layout.block_cols(), k}) /
          std::sqrt(static_cast<double>(in))),
        dense(xc::circulant_to_dense(w, layout).contiguous()),
        engine(layout, w.contiguous().data_ptr<float>()) {}
};

Comparison matvec_b1(Problem& P) {
  auto x = torch::randn({P.layout.in_features});
  auto y_dense = torch::empty({P.layout.out_features});
  auto y_circ = torch::empty({P.layout.out_features});
  P.engine.prepare(1);
  auto r = compare([&] { torch::mv_out(y_dense, P.dense, x); },
                   [&] { P.engine.apply(x.data_ptr<float>(), y_circ.data_ptr<float>(), 1); });
  const double err = ((y_circ - y_dense).abs().max() / y_dense.abs().max()).item<double>();
  if (err > 1e-4) std::printf("WARNING: engine and dense disagree (max rel %g)\n", err);
  return r;
}

Comparison matmul_batch(Problem& P, int64_t batch) {
  auto x = torch::randn({batch, P.layout.in_features});
  auto y_dense = torch::empty({batch, P.layout.out_features});
  auto y_circ = torch::empty({batch, P.layout.out_features});
  auto wt = P.dense.t();
  P.engine.prepare(batch);
  return compare([&] { torch::mm_out(y_dense, x, wt); },
                 [&] { P.engine.apply(x.data_ptr<float>(), y_circ.data_ptr<float>(), batch); });
}

// Plain torch::fft implementations of the same product at batch 1 (FFT(w) precomputed):
// (a) per-bin complex matmul, the formulation of CirculantLinear::forward;
// (b) broadcast multiply and sum over block columns.
Comparison vs_torch_fft(Problem& P) {
  const auto k = P.layout.block_size, p = P.layout.block_rows(), q = P.layout.block_cols();
  torch::NoGradGuard no_grad;
  auto Wf = torch::fft::rfft(P.w, k, -1);                    // (p, q, b)
  auto Wf_bins = Wf.permute({2, 0, 1}).contiguous();         // (b, p, q)
  auto x = torch::randn({P.layout.in_features});
  auto y_circ = torch::empty({P.layout.out_features});
  auto by_matmul = [&] {
    auto X = torch::fft::rfft(x.view({q, k}), k, -1).t().unsqueeze(2);  // (b, q, 1)
    return torch::fft::irfft(torch::matmul(Wf_bins, X).squeeze(2).t(), k, -1).reshape({p * k});
  };
  auto by_broadcast = [&] {
    auto X = torch::fft::rfft(x.view({q, k}), k, -1);  // (q, b)
    return torch::fft::irfft((Wf * X.unsqueeze(0)).sum(1), k, -1).reshape({p * k});
  };
  const double ta = seconds_per_call([&] { by_matmul(); }, 0.02);
  const double tb = seconds_per_call([&] { by_broadcast(); }, 0.02);
  std::printf("torch::fft baselines (k=%ld): per-bin matmul %.1f us, broadcast-sum %.1f us\n",
              static_cast<long>(k), ta * 1e6, tb * 1e6);
  std::function<void()> fastest = ta <= tb ? std::function<void()>([&] { by_matmul(); })
                                           : std::function<void()>([&] { by_broadcast(); });
  P.engine.prepare(1);
  auto r = compare(fastest, [&] { P.engine.apply(x.data_ptr<float>(), y_circ.data_ptr<float>(), 1); });
  const double err = ((y_circ - by_matmul()).abs().max()).item<double>();
  if (err > 1e-3) std::printf("WARNING: engine and torch::fft disagree (max abs %g)\n", err);
  return r;
}

// Whole-LSTM inference per sequence, batch 1: the same LSTM with dense gate matrices
// (torch::mv per step) and with k x k block-circulant ones (FFT engine), same elementwise code.
Comparison lstm_per_sequence(int64_t input, int64_t hidden, int64_t steps, int64_t k) {
  xc::CirculantLSTM dense(xc::CirculantLSTMOptions(input, hidden));
  xc::CirculantLSTM circ(xc::CirculantLSTMOptions(input, hidden).block_size(k));
  xc::LSTMInference dense_engine(*dense), circ_engine(*circ);
  std::vector<float> x(static_cast<size_t>(steps * input));
  for (auto& v : x) v = static_cast<float>(std::rand()) / RAND_MAX - 0.5f;
  return compare([&] { dense_engine.forward(x, steps, 1); },
                 [&] { circ_engine.forward(x, steps, 1); });
}

// One training step (forward and backward, batch 128, 28 steps of 28 features: the clstm kind's
// sequential Fashion-MNIST) of a 128-cell LSTM with k x k block-circulant gate matrices:
// products by rfft/irfft at every step (baseline) against the matrices expanded once per batch.
// Also the LSTM with dense gate matrices, for scale.
struct TrainStep {
  Comparison expanded_vs_fft;
  double dense_us;
};

TrainStep train_step(int64_t k) {
  const auto step = [](xc::CirculantLSTM& lstm, const torch::Tensor& x) {
    return [&lstm, x] {
      lstm->zero_grad();
      std::get<0>(lstm->forward(x)).sum().backward();
    };
  };
  auto opts = xc::CirculantLSTMOptions(28, 128).batch_first(true).block_size(k);
  opts.product(xc::CirculantProduct::fft);
  xc::CirculantLSTM by_fft(opts);
  opts.product(xc::CirculantProduct::expanded);
  xc::CirculantLSTM expanded(opts);
  xc::CirculantLSTM dense(xc::CirculantLSTMOptions(28, 128).batch_first(true));
  const auto x = torch::randn({128, 28, 28});
  TrainStep r{compare(step(by_fft, x), step(expanded, x)), 0.0};
  r.dense_us = 1e6 * seconds_per_call(step(dense, x));
  return r;
}

}  // namespace

int main(int argc, char** argv) {
  // OpenBLAS reads its thread count when it is loaded: re-exec once with one thread set.
  const char* ob = std::getenv("OPENBLAS_NUM_THREADS");
  if (ob == nullptr || std::strcmp(ob, "1") != 0) {
    setenv("OPENBLAS_NUM_THREADS", "1", 1);
    setenv("OMP_NUM_THREADS", "1", 1);
    execv("/proc/self/exe", argv);
  }
  for (int i = 1; i < argc; ++i) {
    if (std::strncmp(argv[i], "--reps=", 7) == 0) g_reps = std::max(1, std::atoi(argv[i] + 7));
  }
  Kokkos::ScopeGuard kokkos(argc, argv);
  torch::set_num_threads(1);
  torch::manual_seed(0);
  const int64_t in = 1024, out = 4096;  // one 4H x H gate matrix of a hidden-1024 LSTM
  std::printf("bench_circulant: %ld x %ld gate matrix, 1 thread, %d interleaved repetitions, "
              "medians\n", static_cast<long>(out), static_cast<long>(in), g_reps);

  Problem k8(in, out, 8), k16(in, out, 16);
  const auto b1_k8 = matvec_b1(k8);
  std::printf("k=8  b=1 : torch::mv %.1f us, circulant %.1f us\n", b1_k8.baseline_us, b1_k8.candidate_us);
  const auto b1_k16 = matvec_b1(k16);
  std::printf("k=16 b=1 : torch::mv %.1f us, circulant %.1f us\n", b1_k16.baseline_us, b1_k16.candidate_us);
  const auto b32_k16 = matmul_batch(k16, 32);
  std::printf("k=16 b=32: torch::mm %.1f us, circulant %.1f us\n", b32_k16.baseline_us, b32_k16.candidate_us);
  const auto fft_k16 = vs_torch_fft(k16);
  std::printf("k=16 b=1 : torch::fft %.1f us, circulant %.1f us\n", fft_k16.baseline_us, fft_k16.candidate_us);

  const auto lstm_k16 = lstm_per_sequence(28, 1024, 28, 16);
  std::printf("LSTM input 28, hidden 1024, 28 steps, b=1: dense %.0f us/seq, circulant k=16 %.0f us/seq\n",
              lstm_k16.baseline_us, lstm_k16.candidate_us);

  const auto train_k8 = train_step(8), train_k16 = train_step(16);
  std::printf("LSTM 128 cells, training step (batch 128, 28 steps): k=8 fft %.0f us, expanded %.0f us; "
              "k=16 fft %.0f us, expanded %.0f us; dense %.0f us\n",
              train_k8.expanded_vs_fft.baseline_us, train_k8.expanded_vs_fft.candidate_us,
              train_k16.expanded_vs_fft.baseline_us, train_k16.expanded_vs_fft.candidate_us,
              train_k16.dense_us);

  const double flop_ratio = 2.0 * 16 * 16 / (8.0 * (16 / 2 + 1));
  std::printf("circulant_speedup_k8_b1: %.2f (target >= 4)\n", b1_k8.ratio_median);
  std::printf("circulant_speedup_k16_b1: %.2f (target >= 8)\n", b1_k16.ratio_median);
  std::printf("circulant_speedup_k16_b32: %.2f (target: none; flop ratio 2k^2/(8(k/2+1)) = %.2f)\n",
              b32_k16.ratio_median, flop_ratio);
  std::printf("circulant_lstm_speedup_k16_b1: %.2f (dense %.0f us/seq, circulant %.0f us/seq; target: none)\n",
              lstm_k16.ratio_median, lstm_k16.baseline_us, lstm_k16.candidate_us);
  std::printf("circulant_speedup_vs_torch_fft: %.2f (target > 1)\n", fft_k16.ratio_median);
  std::printf("clstm_train_step_expanded_over_fft_k8: %.2f (target: none)\n",
              train_k8.expanded_vs_fft.ratio_median);
  std::printf("clstm_train_step_expanded_over_fft_k16: %.2f (target: none)\n",
              train_k16.expanded_vs_fft.ratio_median);
  return 0;
}
