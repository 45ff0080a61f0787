// Batch-1 inference latency of seed-cnn before and after structured pruning and physical removal:
// 50% of the filters of each Conv2D (L1) and 50% of the units of the hidden Dense (L2) are pruned
// by StructuredPruner, then shrinkStructured() rebuilds the smaller layers. Both models run in eval
// mode without a graph (a forward on one [1, 1, 28, 28] image, what predict() does per batch).
// Rounds alternate between the two models (the order flips every round) so that machine noise
// hits both alike; every call is timed and the medians are compared.
//
// Usage: structured_speedup [threads=1] [rounds=30] [calls_per_round=20]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "apps/models/Models.h"
#include "compress/Shrink.h"
#include "compress/StructuredPruning.h"
#include "core/Random.h"
#include "core/Threads.h"

using namespace shrink;

namespace {

using Clock = std::chrono::steady_clock;

double timeCall(Sequential& model, const Variable& x) {
  const auto t0 = Clock::now();
  Variable y = model(x);
  const auto t1 = Clock::now();
  if (y.numel() != 10) std::abort();
  return std::chrono::duration<double, std::micro>(t1 - t0).count();
}

double percentile(std::vector<double> v, double q) {
  std::sort(v.begin(), v.end());
  return v[static_cast<size_t>(q * double(v.size() - 1) + 0.5)];
}

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

  const Variable x(image);
  for (int i = 0; i < 20; ++i) {
    timeCall(*dense, x);
    timeCall(*pruned, x);
  }
  std::vector<double> before, after;
  for (int r = 0; r < rounds; ++r) {
    for (int half = 0; half < 2; ++half) {
      const bool denseTurn = (half == 0) == (r % 2 == 0);
      Sequential& m = denseTurn ? *dense : *pruned;
      std::vector<double>& out = denseTurn ? before : after;
      for (int c = 0; c < calls; ++c) out.push_back(timeCall(m, x));
    }
  }
  const double medBefore = percentile(before, 0.5), medAfter = percentile(after, 0.5);
  std::printf("batch-1 latency, %d thread(s), %d alternating rounds x %d calls:\n", threads, rounds, calls);
  std::printf("  before: median %8.1f us  (p10 %8.1f, p90 %8.1f)\n", medBefore, percentile(before, 0.1),
              percentile(before, 0.9));
  std::printf("  after:  median %8.1f us  (p10 %8.1f, p90 %8.1f)\n", medAfter, percentile(after, 0.1),
              percentile(after, 0.9));
  std::printf("  speedup (median before / median after): %.2fx\n", medBefore / medAfter);
  return 0;
}
