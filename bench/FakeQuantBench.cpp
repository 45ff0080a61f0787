// fakeQuant, which quantization-aware training runs on every weight and activation at every step,
// beside relu, another single-pass elementwise op, on the same tensors and one thread. Reports
// elements per second; fakeQuant / relu time near 1 means it costs no more than a memory pass.
//   activations [32, 64, 28, 28] (1.6M values, beyond the caches), per tensor
//   kernel      [64, 32, 5, 5] (51k values), per output channel
// Forward alone (no graph), then forward + backward.
#include <vector>

#include <benchmark/benchmark.h>

#include "compress/FakeQuant.h"
#include "core/Functions.h"
#include "core/Random.h"
#include "core/Threads.h"

namespace {

using shrink::Shape;
using shrink::Variable;

const Shape kActivations{32, 64, 28, 28};
const Shape kKernel{64, 32, 5, 5};

Variable input(const Shape& shape, bool grad) {
  shrink::Generator gen(1);
  return Variable(gen.normalTensor(shape, 0, 1), grad);
}

/// One range per tensor, or one per output channel when the shape is the kernel's.
struct Ranges {
  explicit Ranges(const Shape& shape) : min(shape == kKernel ? shape[0] : 1, -2.5f), max(min.size(), 2.0f) {}
  std::vector<float> min, max;
};

template <class Op>
void run(benchmark::State& state, const Shape& shape, bool backward, Op op) {
  shrink::setNumThreads(1);
  Variable x = input(shape, backward);
  shrink::Generator gen(2);
  const shrink::Tensor gy = gen.normalTensor(shape, 0, 1);
  for (auto _ : state) {
    if (backward) {
      x.zeroGrad();
      op(x).backward(gy);
      benchmark::DoNotOptimize(x.grad().data());
    } else {
      shrink::NoGradGuard noGrad;
      benchmark::DoNotOptimize(op(x).value().data());
    }
  }
  state.SetItemsProcessed(state.iterations() * shape.numel());
}

void BM_FakeQuant(benchmark::State& state, const Shape& shape, bool backward) {
  const Ranges r(shape);
  run(state, shape, backward, [&](const Variable& x) { return shrink::fakeQuant(x, r.min, r.max); });
}

void BM_Relu(benchmark::State& state, const Shape& shape, bool backward) {
  run(state, shape, backward, [](const Variable& x) { return shrink::relu(x); });
}

BENCHMARK_CAPTURE(BM_FakeQuant, activations_forward, kActivations, false);
BENCHMARK_CAPTURE(BM_Relu, activations_forward, kActivations, false);
BENCHMARK_CAPTURE(BM_FakeQuant, activations_forward_backward, kActivations, true);
BENCHMARK_CAPTURE(BM_Relu, activations_forward_backward, kActivations, true);
BENCHMARK_CAPTURE(BM_FakeQuant, kernel_per_channel_forward, kKernel, false);
BENCHMARK_CAPTURE(BM_Relu, kernel_forward, kKernel, false);
BENCHMARK_CAPTURE(BM_FakeQuant, kernel_per_channel_forward_backward, kKernel, true);
BENCHMARK_CAPTURE(BM_Relu, kernel_forward_backward, kKernel, true);

}  // namespace

BENCHMARK_MAIN();
