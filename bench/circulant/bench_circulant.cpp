// Block-circulant matvec (CirculantMatrix: FFTW + Kokkos) against baselines measured in the same
// run: LibTorch's dense torch::mv (batch 1), torch::mm (batch B), and a plain torch::fft
// implementation of the same block-circulant product. One thread everywhere.
//
// Method: every thing timed and every baseline is a Google Benchmark benchmark of this run; R
// repetitions each, interleaved at random across benchmarks, each repetition a loop of calls long
// enough to last ~3 ms (--benchmark_min_time) after one untimed warm call; each figure is the
// ratio of two medians of this run (run-to-run noise here is 10-35%).
#include <torch/torch.h>
#include <unistd.h>

#include <Kokkos_Core.hpp>
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

#include "bench_figures.hpp"
#include "bench_kokkos.hpp"
#include "xbarsweep/circulant/circulant_linear.hpp"
#include "xbarsweep/circulant/circulant_lstm.hpp"
#include "xbarsweep/circulant/circulant_matrix.hpp"
#include "xbarsweep/circulant/lstm_inference.hpp"

namespace xc = xbarsweep::circulant;

namespace {

// Registers benchmark `name` timing calls of f, each repetition after untimed calls of f for at
// least 1 ms (one call at least): what the benchmark run just before left in the caches, lazily
// made plans and first allocations are not what is compared. (After one call only, the dense
// baselines, 16 MB of weights each, measured 10-20% slower interleaved than in order.)
template <class F>
void add_benchmark(const std::string& name, F f, benchmark::TimeUnit unit = benchmark::kMicrosecond) {
  benchmark::RegisterBenchmark(
      name.c_str(),
      [f](benchmark::State& state) {
        const auto t0 = std::chrono::steady_clock::now();
        do {
          f();
        } while (std::chrono::steady_clock::now() - t0 < std::chrono::milliseconds(1));
        xbarsweep::bench::time_fenced(state, f);
      })
      ->UseManualTime()
      ->Unit(unit);
}

struct Problem {
  xc::BlockLayout layout;
  torch::Tensor w;      // defining vectors (p, q, k)
  torch::Tensor dense;  // out x in, contiguous
  xc::CirculantMatrix engine;
  Problem(int64_t in, int64_t out, int64_t k)
      : layout(xc::BlockLayout::make(in, out, k)),
        w(torch::randn({layout.block_rows(), layout.block_cols(), k}) / std::sqrt(static_cast<double>(in))),
        dense(xc::circulant_to_dense(w, layout).contiguous()),
        engine(layout, w.contiguous().data_ptr<float>()) {}
};

// Batch-1 matvec, dense torch::mv against the engine: benchmarks `<tag>/torch_mv` and
// `<tag>/circulant`. The buffers live as long as the benchmarks.
struct MatvecB1 {
  Problem& P;
  torch::Tensor x = torch::randn({P.layout.in_features});
  torch::Tensor y_dense = torch::empty({P.layout.out_features});
  torch::Tensor y_circ = torch::empty({P.layout.out_features});

  void add(const std::string& tag) {
    P.engine.prepare(1);
    P.engine.apply(x.data_ptr<float>(), y_circ.data_ptr<float>(), 1);
    torch::mv_out(y_dense, P.dense, x);
    const double err = ((y_circ - y_dense).abs().max() / y_dense.abs().max()).item<double>();
    if (err > 1e-4) std::printf("WARNING: engine and dense disagree (max rel %g)\n", err);
    add_benchmark(tag + "/torch_mv", [this] { torch::mv_out(y_dense, P.dense, x); });
    add_benchmark(tag + "/circulant",
                  [this] { P.engine.apply(x.data_ptr<float>(), y_circ.data_ptr<float>(), 1); });
  }
};

// Batch-B product, torch::mm (sgemm) against the engine: `<tag>/torch_mm`, `<tag>/circulant`.
struct MatmulBatch {
  Problem& P;
  int64_t batch;
  torch::Tensor x = torch::randn({batch, P.layout.in_features});
  torch::Tensor y_dense = torch::empty({batch, P.layout.out_features});
  torch::Tensor y_circ = torch::empty({batch, P.layout.out_features});
  torch::Tensor wt = P.dense.t();

  void add(const std::string& tag) {
    P.engine.prepare(batch);
    add_benchmark(tag + "/torch_mm", [this] { torch::mm_out(y_dense, x, wt); });
    add_benchmark(tag + "/circulant",
                  [this] { P.engine.apply(x.data_ptr<float>(), y_circ.data_ptr<float>(), batch); });
  }
};

// Plain torch::fft implementations of the same product at batch 1 (FFT(w) precomputed):
// (a) per-bin complex matmul, the formulation of CirculantLinear::forward;
// (b) broadcast multiply and sum over block columns.
// Benchmarks `<tag>/torch_fft_per_bin_matmul` and `<tag>/torch_fft_broadcast_sum`; the figure
// takes the faster one, against the engine on the same input (MatvecB1's `<tag>/circulant`).
struct TorchFft {
  Problem& P;
  const torch::Tensor& x;
  int64_t k = P.layout.block_size, p = P.layout.block_rows(), q = P.layout.block_cols();
  torch::Tensor Wf = torch::fft::rfft(P.w, k, -1);             // (p, q, b)
  torch::Tensor Wf_bins = Wf.permute({2, 0, 1}).contiguous();  // (b, p, q)

  torch::Tensor by_matmul() const {
    torch::NoGradGuard no_grad;
    auto X = torch::fft::rfft(x.view({q, k}), k, -1).t().unsqueeze(2);  // (b, q, 1)
    return torch::fft::irfft(torch::matmul(Wf_bins, X).squeeze(2).t(), k, -1).reshape({p * k});
  }
  torch::Tensor by_broadcast() const {
    torch::NoGradGuard no_grad;
    auto X = torch::fft::rfft(x.view({q, k}), k, -1);  // (q, b)
    return torch::fft::irfft((Wf * X.unsqueeze(0)).sum(1), k, -1).reshape({p * k});
  }

  void add(const std::string& tag, const torch::Tensor& y_circ) {
    const double err = ((y_circ - by_matmul()).abs().max()).item<double>();
    if (err > 1e-3) std::printf("WARNING: engine and torch::fft disagree (max abs %g)\n", err);
    add_benchmark(tag + "/torch_fft_per_bin_matmul", [this] { by_matmul(); });
    add_benchmark(tag + "/torch_fft_broadcast_sum", [this] { by_broadcast(); });
  }
};

// Whole-LSTM inference per sequence, batch 1: the same LSTM with dense gate matrices
// (torch::mv per step) and with k x k block-circulant ones (FFT engine), same elementwise code.
// Benchmarks `<tag>/dense` and `<tag>/circulant`.
struct LstmPerSequence {
  int64_t input, hidden, steps, k;
  xc::CirculantLSTM dense{xc::CirculantLSTMOptions(input, hidden)};
  xc::CirculantLSTM circ{xc::CirculantLSTMOptions(input, hidden).block_size(k)};
  xc::LSTMInference dense_engine{*dense}, circ_engine{*circ};
  std::vector<float> x = random_sequence(steps * input);

  static std::vector<float> random_sequence(int64_t n) {
    std::vector<float> v(static_cast<size_t>(n));
    for (auto& e : v) e = static_cast<float>(std::rand()) / RAND_MAX - 0.5f;
    return v;
  }
  void add(const std::string& tag) {
    add_benchmark(tag + "/dense", [this] { dense_engine.forward(x, steps, 1); });
    add_benchmark(tag + "/circulant", [this] { circ_engine.forward(x, steps, 1); });
  }
};

// One training step (forward and backward, batch 128, 28 steps of 28 features: the clstm kind's
// sequential Fashion-MNIST) of a 128-cell LSTM with k x k block-circulant gate matrices:
// products by rfft/irfft at every step (baseline, `<tag>/fft`) against the matrices expanded once
// per batch (`<tag>/expanded`).
struct TrainStep {
  int64_t k;
  torch::Tensor x = torch::randn({128, 28, 28});
  xc::CirculantLSTM by_fft{options(k).product(xc::CirculantProduct::fft)};
  xc::CirculantLSTM expanded{options(k).product(xc::CirculantProduct::expanded)};

  static xc::CirculantLSTMOptions options(int64_t k) {
    auto o = xc::CirculantLSTMOptions(28, 128).batch_first(true);
    if (k > 1) o.block_size(k);
    return o;
  }
  static void step(xc::CirculantLSTM& lstm, const torch::Tensor& x) {
    lstm->zero_grad();
    std::get<0>(lstm->forward(x)).sum().backward();
  }
  void add(const std::string& tag) {
    add_benchmark(
        tag + "/fft", [this] { step(by_fft, x); }, benchmark::kMillisecond);
    add_benchmark(
        tag + "/expanded", [this] { step(expanded, x); }, benchmark::kMillisecond);
  }
};

}  // namespace

int main(int argc, char** argv) {
  // OpenBLAS reads its thread count when it is loaded: re-exec once with one thread set.
  const char* ob = std::getenv("OPENBLAS_NUM_THREADS");
  if (ob == nullptr || std::strcmp(ob, "1") != 0) {
    setenv("OPENBLAS_NUM_THREADS", "1", 1);
    setenv("OMP_NUM_THREADS", "1", 1);
    execv("/proc/self/exe", argv);
  }
  auto args =
      xbarsweep::bench::initialize(argc, argv, {"--benchmark_repetitions=15", "--benchmark_min_time=0.003"});
  xbarsweep::bench::require_no_arguments_left(args, argv[0], "[--reps=15]");
  Kokkos::ScopeGuard kokkos(argc, argv);
  torch::set_num_threads(1);
  torch::manual_seed(0);
  const int64_t in = 1024, out = 4096;  // one 4H x H gate matrix of a hidden-1024 LSTM

  // Everything the benchmarks use lives here, until they are cleared below.
  Problem k8(in, out, 8), k16(in, out, 16);
  MatvecB1 b1_k8{k8}, b1_k16{k16};
  b1_k8.add("k8_b1");
  b1_k16.add("k16_b1");
  MatmulBatch b32_k16{k16, 32};
  b32_k16.add("k16_b32");
  TorchFft fft_k16{k16, b1_k16.x};
  fft_k16.add("k16_b1", b1_k16.y_circ);
  LstmPerSequence lstm_k16{28, 1024, 28, 16};
  lstm_k16.add("lstm_h1024_k16_b1");
  TrainStep train_k8{8}, train_k16{16};
  train_k8.add("clstm_train_step_k8");
  train_k16.add("clstm_train_step_k16");
  const auto dense_x = torch::randn({128, 28, 28});
  xc::CirculantLSTM dense_lstm(TrainStep::options(1));
  add_benchmark(
      "clstm_train_step_dense", [&] { TrainStep::step(dense_lstm, dense_x); }, benchmark::kMillisecond);

  xbarsweep::bench::MedianReporter medians;
  benchmark::RunSpecifiedBenchmarks(&medians);
  benchmark::ClearRegisteredBenchmarks();

  using xbarsweep::bench::ratio;
  const auto us = [&](const std::string& name) {
    return xbarsweep::bench::scaled(medians.median_s(name), 1e6);
  };
  // Prints `format` with the median times of benchmarks a and b, in us, when both ran.
  const auto pair = [&](const char* format, const std::string& a, const std::string& b) {
    const auto ta = us(a), tb = us(b);
    if (ta && tb) std::printf(format, *ta, *tb);
  };
  std::printf("bench_circulant: %ld x %ld gate matrix, 1 thread, medians of interleaved repetitions\n",
              static_cast<long>(out), static_cast<long>(in));
  pair("k=8  b=1 : torch::mv %.1f us, circulant %.1f us\n", "k8_b1/torch_mv", "k8_b1/circulant");
  pair("k=16 b=1 : torch::mv %.1f us, circulant %.1f us\n", "k16_b1/torch_mv", "k16_b1/circulant");
  pair("k=16 b=32: torch::mm %.1f us, circulant %.1f us\n", "k16_b32/torch_mm", "k16_b32/circulant");
  pair("torch::fft baselines (k=16): per-bin matmul %.1f us, broadcast-sum %.1f us\n",
       "k16_b1/torch_fft_per_bin_matmul", "k16_b1/torch_fft_broadcast_sum");
  std::optional<double> t_fft;  // the faster torch::fft formulation
  for (const char* name : {"k16_b1/torch_fft_per_bin_matmul", "k16_b1/torch_fft_broadcast_sum"}) {
    if (const auto t = medians.median_s(name); t && (!t_fft || *t < *t_fft)) t_fft = t;
  }
  if (const auto t_circ = us("k16_b1/circulant"); t_fft && t_circ) {
    std::printf("k=16 b=1 : torch::fft %.1f us, circulant %.1f us\n", 1e6 * *t_fft, *t_circ);
  }
  const auto lstm_dense = us("lstm_h1024_k16_b1/dense"), lstm_circ = us("lstm_h1024_k16_b1/circulant");
  pair("LSTM input 28, hidden 1024, 28 steps, b=1: dense %.0f us/seq, circulant k=16 %.0f us/seq\n",
       "lstm_h1024_k16_b1/dense", "lstm_h1024_k16_b1/circulant");
  pair("LSTM 128 cells, training step (batch 128, 28 steps): k=8 fft %.0f us, expanded %.0f us\n",
       "clstm_train_step_k8/fft", "clstm_train_step_k8/expanded");
  pair("LSTM 128 cells, training step (batch 128, 28 steps): k=16 fft %.0f us, expanded %.0f us\n",
       "clstm_train_step_k16/fft", "clstm_train_step_k16/expanded");
  if (const auto d = us("clstm_train_step_dense")) {
    std::printf("LSTM 128 cells, training step (batch 128, 28 steps): dense %.0f us\n", *d);
  }

  const auto speedup = [&](const std::string& baseline, const std::string& candidate) {
    return ratio(medians.median_s(baseline), medians.median_s(candidate));
  };
  using xbarsweep::bench::print_figure;
  const double flop_ratio = 2.0 * 16 * 16 / (8.0 * (16 / 2 + 1));
  print_figure("circulant_speedup_k8_b1", speedup("k8_b1/torch_mv", "k8_b1/circulant"), 2, "target >= 4");
  print_figure("circulant_speedup_k16_b1", speedup("k16_b1/torch_mv", "k16_b1/circulant"), 2, "target >= 8");
  char note[160];
  std::snprintf(note, sizeof note, "target: none; flop ratio 2k^2/(8(k/2+1)) = %.2f", flop_ratio);
  print_figure("circulant_speedup_k16_b32", speedup("k16_b32/torch_mm", "k16_b32/circulant"), 2, note);
  std::snprintf(note, sizeof note, "dense %.0f us/seq, circulant %.0f us/seq; target: none",
                lstm_dense ? *lstm_dense : 0.0, lstm_circ ? *lstm_circ : 0.0);
  print_figure("circulant_lstm_speedup_k16_b1", ratio(lstm_dense, lstm_circ), 2, note);
  print_figure("circulant_speedup_vs_torch_fft", ratio(t_fft, medians.median_s("k16_b1/circulant")), 2,
               "target > 1");
  print_figure("clstm_train_step_expanded_over_fft_k8",
               speedup("clstm_train_step_k8/fft", "clstm_train_step_k8/expanded"), 2, "target: none");
  print_figure("clstm_train_step_expanded_over_fft_k16",
               speedup("clstm_train_step_k16/fft", "clstm_train_step_k16/expanded"), 2, "target: none");
  benchmark::Shutdown();
  return 0;
}
