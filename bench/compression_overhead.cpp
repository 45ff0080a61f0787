// The cost of compressing while training: one epoch of lenet300 on Fashion-MNIST (Adam, batch 128,
// 469 steps) dense, pruned and quantization-aware, in one run:
// - pruned: every Dense wrapped in PruneLowMagnitude under PolynomialDecay(0.5 -> 0.9, steps 0 ->
//   400, masks recomputed every 100 steps) with UpdatePruningStep. Before each pruned epoch the
//   pruning step is set back to 0, so every timed pruned epoch runs the same schedule: four mask
//   updates, plus the re-masking of the kernels after every optimizer step (training forwards read
//   the masked kernels as they are). Target: pruned / dense <= 1.10.
// - QAT: quantizeModel's 8-bit scheme (weights, outputs and the input fake-quantized, ranges
//   tracked). Target: QAT / dense <= 1.5.
// Epochs rotate through the three models (the order shifts every round) after one untimed epoch
// each; the medians of wall time are compared (also: of process CPU time, which a busy machine
// disturbs less on one thread, and the median of each round's ratio, in which slow drifts of the
// machine's load cancel).
//
// Usage: compression_overhead [threads=1] [rounds=7] [results.json=bench/results/compression_overhead.json]
//        [data-dir=/usr/share/datasets/fashion-mnist]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "apps/models/Models.h"
#include "compress/compress.h"
#include "core/Threads.h"
#include "datasets/datasets.h"
#include "optim/optim.h"

using namespace shrink;

namespace {

constexpr int64_t kBatchSize = 128;

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 == 1 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

/// Wall and CPU seconds of one training epoch, appended to `times`.
struct Times {
  std::vector<double> wall, cpu;
};

void timeEpoch(Sequential& model, Optimizer& optimizer, const data::Dataset& train, uint64_t seed,
               const std::vector<Callback*>& callbacks, Times& times) {
  const auto t0 = std::chrono::steady_clock::now();
  const std::clock_t c0 = std::clock();
  fit(model, optimizer, Objective::classification(), train,
      {.epochs = 1, .batchSize = kBatchSize, .seed = seed, .verbose = 0}, callbacks);
  times.cpu.push_back(double(std::clock() - c0) / CLOCKS_PER_SEC);
  times.wall.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
}

void printTimes(const char* label, const Times& t) {
  std::printf("  %-7s wall median %.3f s (min %.3f, max %.3f), CPU median %.3f s\n", label, median(t.wall),
              *std::min_element(t.wall.begin(), t.wall.end()), *std::max_element(t.wall.begin(), t.wall.end()),
              median(t.cpu));
}

void restartSchedule(Sequential& model) {
  for (auto& [name, w] : pruneWrappers(model)) w->setStep(0);
}

}  // namespace

int main(int argc, char** argv) {
  const int threads = argc > 1 ? std::atoi(argv[1]) : 1;
  const int rounds = argc > 2 ? std::atoi(argv[2]) : 7;
  const std::string out = argc > 3 ? argv[3] : "bench/results/compression_overhead.json";
  const std::filesystem::path dir = argc > 4 ? std::filesystem::path(argv[4]) : data::defaultFashionMnistDir();
  if (threads < 1 || rounds < 1) {
    std::fprintf(stderr, "usage: compression_overhead [threads>=1] [rounds>=1] [results.json] [data-dir]\n");
    return 2;
  }
  setNumThreads(threads);
  data::TensorDataset train;
  try {
    train = data::loadMnist(dir, data::Split::Train, {});
  } catch (const std::exception& e) {
    std::fprintf(stderr, "compression_overhead: %s\n", e.what());
    return 1;
  }

  auto denseModel = models::build("lenet300", 42);
  auto prunedModel = models::build("lenet300", 42);
  pruneLowMagnitude(*prunedModel, {.schedule = std::make_shared<PolynomialDecay>(PolynomialDecay::Options{
                                  .initialSparsity = 0.5, .finalSparsity = 0.9, .beginStep = 0, .endStep = 400})});
  auto qatModel = models::build("lenet300", 42);
  quantizeModel(*qatModel);
  Adam denseAdam(denseModel->trainableParameters());
  Adam prunedAdam(prunedModel->trainableParameters());
  Adam qatAdam(qatModel->trainableParameters());
  UpdatePruningStep step;

  Times warmup, dense, pruned, qat;
  auto epoch = [&](int which, uint64_t seed, Times& times) {
    if (which == 0) timeEpoch(*denseModel, denseAdam, train, seed, {}, times);
    if (which == 1) {
      restartSchedule(*prunedModel);
      timeEpoch(*prunedModel, prunedAdam, train, seed, {&step}, times);
    }
    if (which == 2) timeEpoch(*qatModel, qatAdam, train, seed, {}, times);
  };
  for (int which = 0; which < 3; ++which) epoch(which, 0, warmup);
  Times* runs[] = {&dense, &pruned, &qat};
  for (int r = 0; r < rounds; ++r)
    for (int k = 0; k < 3; ++k) {
      const int which = (r + k) % 3;  // each model first, second and third in turn
      epoch(which, static_cast<uint64_t>(r + 1), *runs[which]);
    }

  struct Ratio {
    double wall, cpu, paired;
  };
  auto ratioTo = [&](const Times& t) {
    std::vector<double> roundRatios;  // the epochs of a round ran back to back: slow drifts cancel
    for (int r = 0; r < rounds; ++r) roundRatios.push_back(t.wall[r] / dense.wall[r]);
    return Ratio{median(t.wall) / median(dense.wall), median(t.cpu) / median(dense.cpu), median(roundRatios)};
  };
  const Ratio prune = ratioTo(pruned), quant = ratioTo(qat);
  const double sparsity = report(*prunedModel, {.sizes = false}).prunableSparsity;
  std::printf("lenet300, Fashion-MNIST, one epoch (%lld samples, batch %lld), %d thread(s), %d rotating rounds:\n",
              static_cast<long long>(train.size()), static_cast<long long>(kBatchSize), threads, rounds);
  printTimes("dense:", dense);
  printTimes("pruned:", pruned);
  printTimes("QAT:", qat);
  std::printf("  kernel sparsity after a pruned epoch: %.2f%%\n", 100 * sparsity);
  std::printf("  pruned / dense: wall %.3fx, CPU %.3fx, median of the rounds' wall ratios %.3fx (target <= 1.10x)\n",
              prune.wall, prune.cpu, prune.paired);
  std::printf("  QAT / dense:    wall %.3fx, CPU %.3fx, median of the rounds' wall ratios %.3fx (target <= 1.50x)\n",
              quant.wall, quant.cpu, quant.paired);

  auto entry = [&](const Times& t, const Ratio& ratio, double target) {
    return nlohmann::json{{"seconds", median(t.wall)},   {"cpu_seconds", median(t.cpu)},
                          {"ratio", ratio.wall},         {"cpu_ratio", ratio.cpu},
                          {"median_round_ratio", ratio.paired}, {"target_ratio", target},
                          {"meets_target", ratio.wall <= target}, {"runs", t.wall},
                          {"cpu_runs", t.cpu}};
  };
  const nlohmann::json j{
      {"model", "lenet300"},
      {"dataset", "fashion-mnist"},
      {"batch_size", kBatchSize},
      {"threads", threads},
      {"rounds", rounds},
      {"statistic", "median over rounds of one epoch's wall time (and process CPU time)"},
      {"dense", {{"seconds", median(dense.wall)}, {"cpu_seconds", median(dense.cpu)}, {"runs", dense.wall},
                 {"cpu_runs", dense.cpu}}},
      {"pruned", entry(pruned, prune, 1.10)},
      {"pruning_schedule", pruningScheduleToJson(*pruneWrappers(*prunedModel).front().second->options().schedule)},
      {"qat", entry(qat, quant, 1.50)}};
  std::filesystem::path outPath(out);
  if (outPath.has_parent_path()) std::filesystem::create_directories(outPath.parent_path());
  std::ofstream file(outPath);
  file << j.dump(2) << '\n';
  if (!file) {
    std::fprintf(stderr, "compression_overhead: cannot write %s\n", out.c_str());
    return 1;
  }
  std::printf("written to %s\n", out.c_str());
  return 0;
}
