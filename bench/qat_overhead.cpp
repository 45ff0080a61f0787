// The cost of quantization-aware training: one training step (forward, loss, backward, Adam) of a
// preset model at batch 128, in float and after quantizeModel (8-bit weights, outputs and input;
// with "fold", BatchNorms folded into their convolutions). Rounds alternate between the two models
// (the order flips every round) so that machine noise hits both alike; every step is timed and the
// medians are compared.
//
// Usage: qat_overhead [model=lenet5] [threads=1] [rounds=10] [steps_per_round=5] [fold]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "apps/models/Models.h"
#include "compress/Quantize.h"
#include "core/Random.h"
#include "core/Threads.h"
#include "optim/Adam.h"
#include "optim/Objective.h"

using namespace shrink;

namespace {

using Clock = std::chrono::steady_clock;

double timeStep(Sequential& model, Adam& adam, const Variable& x, const Tensor& labels) {
  const auto t0 = Clock::now();
  adam.zeroGrad();
  Variable loss = Objective::classification().lossOf(model(x), labels);
  loss.backward();
  adam.step();
  return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  const std::string name = argc > 1 ? argv[1] : "lenet5";
  const int threads = argc > 2 ? std::atoi(argv[2]) : 1;
  const int rounds = argc > 3 ? std::atoi(argv[3]) : 10;
  const int steps = argc > 4 ? std::atoi(argv[4]) : 5;
  const bool fold = argc > 5 && std::string(argv[5]) == "fold";
  if (threads < 1 || rounds < 1 || steps < 1) {
    std::fprintf(stderr, "usage: qat_overhead [model] [threads>=1] [rounds>=1] [steps_per_round>=1] [fold]\n");
    return 2;
  }
  setNumThreads(threads);

  auto floatModel = models::build(name, 42);
  auto qatModel = models::build(name, 42);
  QuantizeScheme scheme;
  scheme.foldBatchNorm = fold;
  quantizeModel(*qatModel, scheme);
  Adam floatAdam(floatModel->trainableParameters()), qatAdam(qatModel->trainableParameters());
  Generator gen(7);
  Shape shape = models::inputShape(name);
  std::vector<int64_t> dims{128};
  for (size_t i = 0; i < shape.rank(); ++i) dims.push_back(shape[i]);
  const Variable x(gen.uniformTensor(Shape(dims), 0.0f, 1.0f));
  Tensor labels(Shape{128});
  for (int64_t i = 0; i < 128; ++i) labels[i] = static_cast<float>(i % 10);

  for (int i = 0; i < 3; ++i) {
    timeStep(*floatModel, floatAdam, x, labels);
    timeStep(*qatModel, qatAdam, x, labels);
  }
  std::vector<double> floatTimes, qatTimes;
  for (int r = 0; r < rounds; ++r) {
    for (int half = 0; half < 2; ++half) {
      const bool floatTurn = (half == 0) == (r % 2 == 0);
      for (int s = 0; s < steps; ++s)
        (floatTurn ? floatTimes : qatTimes)
            .push_back(floatTurn ? timeStep(*floatModel, floatAdam, x, labels) : timeStep(*qatModel, qatAdam, x, labels));
    }
  }
  const double f = median(floatTimes), q = median(qatTimes);
  std::printf("%s, batch 128, %d thread(s), %d alternating rounds x %d steps%s:\n", name.c_str(), threads, rounds,
              steps, fold ? ", BatchNorm folded" : "");
  std::printf("  float training step:              median %8.2f ms\n", f);
  std::printf("  quantization-aware training step: median %8.2f ms\n", q);
  std::printf("  overhead (median ratio): %.3fx\n", q / f);
  return 0;
}
