// The uint8 x int8 -> int32 GEMM of int8 inference beside the float GEMM (OpenBLAS) on the same
// shapes, one thread. Reports multiply-adds per second ("items"):
//   [1, 784] x [300, 784]^T     lenet300's first layer, batch 1
//   [128, 784] x [300, 784]^T   the same, batch 128
//   [64, 500] x [50, 500]^T     lenet5's second convolution per image (im2col rows x filters)
#include <cstdint>
#include <vector>

#include <benchmark/benchmark.h>

#include "core/Random.h"
#include "core/Threads.h"
#include "core/kernels/Gemm.h"
#include "core/kernels/Int8Gemm.h"

namespace {

void BM_Int8Gemm(benchmark::State& state) {
  const int64_t m = state.range(0), n = state.range(1), k = state.range(2);
  shrink::Generator gen(1);
  std::vector<uint8_t> a(static_cast<size_t>(m * k));
  std::vector<int8_t> b(static_cast<size_t>(n * k));
  for (auto& v : a) v = static_cast<uint8_t>(gen.uniform(0.0f, 256.0f));
  for (auto& v : b) v = static_cast<int8_t>(static_cast<int>(gen.uniform(0.0f, 255.0f)) - 127);
  std::vector<int32_t> sums(static_cast<size_t>(n)), c(static_cast<size_t>(m * n));
  shrink::kernels::int8RowSums(n, k, b.data(), k, sums.data());
  for (auto _ : state) {
    shrink::kernels::gemmU8S8(m, n, k, a.data(), k, 128, b.data(), k, sums.data(), c.data(), n);
    benchmark::DoNotOptimize(c.data());
  }
  state.SetItemsProcessed(state.iterations() * m * n * k);
}

void BM_FloatGemm(benchmark::State& state) {
  const int64_t m = state.range(0), n = state.range(1), k = state.range(2);
  shrink::Generator gen(1);
  const shrink::Tensor a = gen.uniformTensor(shrink::Shape{m, k}, -1, 1);
  const shrink::Tensor b = gen.uniformTensor(shrink::Shape{n, k}, -1, 1);
  std::vector<float> c(static_cast<size_t>(m * n));
  for (auto _ : state) {
    shrink::kernels::sgemmSerial(shrink::kernels::Trans::No, shrink::kernels::Trans::Yes, m, n, k, 1.0f, a.data(), k,
                                 b.data(), k, 0.0f, c.data(), n);
    benchmark::DoNotOptimize(c.data());
  }
  state.SetItemsProcessed(state.iterations() * m * n * k);
}

void shapes(benchmark::internal::Benchmark* b) {
  shrink::setNumThreads(1);
  b->Args({1, 300, 784})->Args({128, 300, 784})->Args({64, 50, 500});
}

BENCHMARK(BM_Int8Gemm)->Apply(shapes);
BENCHMARK(BM_FloatGemm)->Apply(shapes);

}  // namespace

BENCHMARK_MAIN();
