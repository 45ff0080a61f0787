// Forward + backward of the performance-critical ops at the shapes of the MNIST models, batch 32
// (dense: 128), on 2 threads. Each benchmark reports GFLOP/s counted as bench/kernels.py does:
//   dense  3 products of 2 * N * in * out flops (y, dX, dW)
//   conv1  a first layer (the input needs no gradient): 2 passes (y, dW) of 2 * N * F * C * kh * kw * OH * OW
//   conv2  a hidden layer: 3 passes (y, dX, dW)
// Run through bench/kernels.sh for the comparison with PyTorch.
#include <benchmark/benchmark.h>

#include "core/Functions.h"
#include "core/Random.h"
#include "core/Threads.h"

namespace {

using shrink::Conv2dOptions;
using shrink::Generator;
using shrink::Padding;
using shrink::Shape;
using shrink::Variable;

constexpr int kThreads = 2;

void setFlops(benchmark::State& state, double flopsPerIteration) {
  state.counters["GFLOP/s"] =
      benchmark::Counter(flopsPerIteration / 1e9, benchmark::Counter::kIsIterationInvariantRate);
}

void BM_Dense_128x784x300(benchmark::State& state) {
  shrink::setNumThreads(kThreads);
  const int64_t n = 128, in = 784, out = 300;
  Generator gen(1);
  Variable x(gen.normalTensor(Shape{n, in}, 0, 1), true);
  Variable w(gen.normalTensor(Shape{out, in}, 0, 0.05f), true);
  Variable b(gen.normalTensor(Shape{out}, 0, 0.05f), true);
  const shrink::Tensor gy = gen.normalTensor(Shape{n, out}, 0, 1);
  for (auto _ : state) {
    x.zeroGrad();
    w.zeroGrad();
    b.zeroGrad();
    Variable y = shrink::linear(x, w, b);
    y.backward(gy);
    benchmark::DoNotOptimize(w.grad().data());
  }
  setFlops(state, 3.0 * 2.0 * n * in * out);
}

void convFwdBwd(benchmark::State& state, int64_t c, int64_t hw, int64_t f, bool inputGrad) {
  shrink::setNumThreads(kThreads);
  const int64_t n = 32, k = 5;
  Generator gen(2);
  Variable x(gen.normalTensor(Shape{n, c, hw, hw}, 0, 1), inputGrad);
  Variable w(gen.normalTensor(Shape{f, c, k, k}, 0, 0.05f), true);
  Variable b(gen.normalTensor(Shape{f}, 0, 0.05f), true);
  const shrink::Tensor gy = gen.normalTensor(Shape{n, f, hw, hw}, 0, 1);
  const Conv2dOptions opts{.padding = Padding::Same};
  for (auto _ : state) {
    x.zeroGrad();
    w.zeroGrad();
    b.zeroGrad();
    Variable y = shrink::conv2d(x, w, b, opts);
    y.backward(gy);
    benchmark::DoNotOptimize(w.grad().data());
  }
  const double passes = inputGrad ? 3.0 : 2.0;
  setFlops(state, passes * 2.0 * n * f * c * k * k * hw * hw);
}

void BM_Conv5x5_1to32_28x28(benchmark::State& state) { convFwdBwd(state, 1, 28, 32, false); }
void BM_Conv5x5_32to64_14x14(benchmark::State& state) { convFwdBwd(state, 32, 14, 64, true); }

}  // namespace

BENCHMARK(BM_Dense_128x784x300)->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Conv5x5_1to32_28x28)->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Conv5x5_32to64_14x14)->UseRealTime()->Unit(benchmark::kMillisecond);

BENCHMARK_MAIN();
