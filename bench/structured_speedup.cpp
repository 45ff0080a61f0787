// Batch-1 inference latency of seed-cnn before and after structured pruning and physical removal:
// 50% of the filters of each Conv2D (L1) and 50% of the units of the hidden Dense (L2) are pruned
// by StructuredPruner, then shrinkStructured() rebuilds the smaller layers. Both models run in eval
// mode without a graph (a forward on one [1, 1, 28, 28] image, what predict() does per batch).
// compareLatency() alternates the two models round by round; every call is timed and the medians
// are compared.
//
// Usage: structured_speedup [threads=1] [rounds=30] [calls_per_round=20]
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "apps/models/Models.h"
#include "compress/Report.h"
#include "compress/Shrink.h"
#include "compress/StructuredPruning.h"
#include "core/Random.h"
#include "core/Threads.h"

using namespace shrink;

namespace {

float maxAbsDiff(const Tensor& a, const Tensor& b) {
  float m = 0;
  for (int64_t i = 0; i < a.numel(); ++i) m = std::max(m, std::abs(a[i] - b[i]));
  return m;
}

}  // namespace

int main(int argc, char** argv) {
  const int threads = argc > 1 ? std::atoi(argv[1]) : 1;
  const int rounds = argc > 2 ? std::atoi(argv[2]) : 30;
  const int calls = argc > 3 ? std::atoi(argv[3]) : 20;
  if (threads < 1 || rounds < 1 || calls < 1) {
    std::fprintf(stderr, "usage: structured_speedup [threads>=1] [rounds>=1] [calls_per_round>=1]\n");
    return 2;
  }
  setNumThreads(threads);

  auto dense = models::build("seed-cnn", 42);
  auto pruned = models::build("seed-cnn", 42);
  Generator gen(7);
  const Tensor image = gen.uniformTensor(Shape{1, 1, 28, 28}, 0.0f, 1.0f);
  const Tensor batch = gen.uniformTensor(Shape{16, 1, 28, 28}, 0.0f, 1.0f);
  dense->eval();
  pruned->eval();
  NoGradGuard noGrad;

  ShrinkResult result;
  {
    StructuredPruner pruner(*pruned);  // Magnitude: Conv2D by L1, Dense by L2; every layer but the output
    pruner.prune(0.5);
    const Tensor masked = (*pruned)(Variable(batch)).value();
    result = shrinkStructured(*pruned);
    std::printf("outputs after removal vs masked model: max |diff| = %.3g over a batch of 16\n",
                double(maxAbsDiff((*pruned)(Variable(batch)).value(), masked)));
  }
  std::printf("%-22s %-10s %8s %8s %10s %10s\n", "layer", "type", "units", "after", "params", "after");
  for (const LayerShrink& l : result.layers)
    std::printf("%-22s %-10s %8lld %8lld %10lld %10lld\n", l.name.c_str(), l.type.c_str(), (long long)l.unitsBefore,
                (long long)l.unitsAfter, (long long)l.paramsBefore, (long long)l.paramsAfter);
  std::printf("parameters: %lld -> %lld (%.2fx fewer)\n", (long long)result.paramsBefore,
              (long long)result.paramsAfter, double(result.paramsBefore) / double(result.paramsAfter));

  const LatencyComparison t = compareLatency(*dense, *pruned, image, rounds, calls);
  std::printf("batch-1 latency, %d thread(s), %d alternating rounds x %d calls:\n", threads, rounds, calls);
  std::printf("  before: median %8.1f us  (p10 %8.1f, p90 %8.1f)\n", 1e6 * t.firstMedian, 1e6 * quantile(t.first, 0.1),
              1e6 * quantile(t.first, 0.9));
  std::printf("  after:  median %8.1f us  (p10 %8.1f, p90 %8.1f)\n", 1e6 * t.secondMedian,
              1e6 * quantile(t.second, 0.1), 1e6 * quantile(t.second, 0.9));
  std::printf("  speedup (median before / median after): %.2fx\n", t.speedup);
  return 0;
}
