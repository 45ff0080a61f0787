// Reproduces tfmot's "Pruning in Keras" MNIST example (the 2019 pruning_with_keras notebook) with
// the seed-cnn preset: Conv 32@5x5 same, MaxPool, BatchNorm, Conv 64@5x5 same, MaxPool, Dense 1024,
// Dropout 0.4, Dense 10; Adam (lr 1e-3), batch 128, 10 epochs. (The notebook sizes the schedule for
// 12 epochs and trains 10 + 2 around a save and reload; the figures below come from a published run
// of it with the schedule sized for the 10 epochs it trained, the recipe used here.)
//   dense   trained for 10 epochs                                             test accuracy 99.19%
//   pruned  a fresh model with both Conv2D and both Dense layers wrapped, trained for 10 epochs
//           under PolynomialDecay(0.5 -> 0.9, begin step 2000, frequency 100, end = end of
//           training)                                                          test accuracy 99.20%
// The source sets end_step = ceil(60000 / 128) * 10 = 4690, which is off the frequency grid, so its
// last mask update (step 4600) stops at 89.9985%; here the schedule ends on the last grid step
// (4600), where it reaches 90% exactly, as the shrink CLI does. The sparsity of each pruned kernel
// is counted from the stripped weights.
//
// Usage: seed_cnn_pruning --data-dir MNIST_DIR [--epochs 10] [--seed N] [--threads N] [--json FILE]
#include <chrono>

#include <fmt/format.h>

#include "apps/models/Models.h"
#include "apps/repro/Repro.h"
#include "compress/compress.h"
#include "optim/optim.h"

using namespace shrink;

namespace {

constexpr int64_t kBatchSize = 128;

struct Args {
  repro::CommonOptions common;
  int epochs = 10;
};

void reproduce(const Args& a) {
  const data::TensorDataset train = repro::loadMnistSplit(a.common, true);
  const data::TensorDataset test = repro::loadMnistSplit(a.common, false);
  const Objective objective = Objective::classification();
  const FitOptions fitOptions{.epochs = a.epochs, .batchSize = kBatchSize, .seed = a.common.seed};

  fmt::print("dense, {} epochs ...\n", a.epochs);
  auto dense = models::build("seed-cnn", a.common.seed);
  Adam denseAdam(dense->trainableParameters());
  const auto t0 = std::chrono::steady_clock::now();
  fit(*dense, denseAdam, objective, train, fitOptions);
  const double denseSeconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const double denseAccuracy = evaluate(*dense, objective, test).at("accuracy");
  const ModelReport denseReport = report(*dense);

  const int64_t steps = trainingSteps(train.size(), kBatchSize, a.epochs);
  const PolynomialDecay::Options schedule{.initialSparsity = 0.5,
                                          .finalSparsity = 0.9,
                                          .beginStep = 2000,
                                          .endStep = repro::lastGridStep(2000, steps, 100),
                                          .frequency = 100};
  fmt::print("pruned from scratch, {} epochs, PolynomialDecay 0.5 -> 0.9 over steps {} -> {} ...\n", a.epochs,
             schedule.beginStep, schedule.endStep);
  auto pruned = models::build("seed-cnn", a.common.seed);
  pruneLowMagnitude(*pruned, {.schedule = std::make_shared<PolynomialDecay>(schedule)});
  Adam prunedAdam(pruned->trainableParameters());
  UpdatePruningStep step;
  const auto t1 = std::chrono::steady_clock::now();
  fit(*pruned, prunedAdam, objective, train, fitOptions, {&step});
  const double prunedSeconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t1).count();
  std::unique_ptr<Sequential> stripped = stripPruning(*pruned);
  const double prunedAccuracy = evaluate(*stripped, objective, test).at("accuracy");
  const ModelReport prunedReport = report(*stripped);

  std::vector<repro::Comparison> rows{{"dense test accuracy", repro::percent(denseAccuracy), "99.19%"},
                                      {"pruned test accuracy", repro::percent(prunedAccuracy), "99.20%"}};
  for (const WeightReport& w : prunedReport.weights)
    rows.push_back({fmt::format("sparsity of {} {}", w.name, w.shape.str()),
                    fmt::format("{:.4f}% ({} of {} zero)", 100 * w.sparsity, w.parameters - w.nonZero, w.parameters),
                    "90%"});
  rows.push_back({"gzip of the uncompressed archive, dense -> pruned",
                  fmt::format("{} -> {} B", denseReport.sizes.uncompressedGzipBytes,
                              prunedReport.sizes.uncompressedGzipBytes),
                  ""});
  rows.push_back({"training seconds, dense / pruned", fmt::format("{:.0f} / {:.0f}", denseSeconds, prunedSeconds), ""});
  repro::printComparison(fmt::format("seed-cnn on MNIST, {} epochs, batch {}", a.epochs, kBatchSize), rows);

  if (a.common.jsonPath.empty()) return;
  repro::writeJson(a.common.jsonPath,
                   {{"program", "seed_cnn_pruning"},
                    {"seed", a.common.seed},
                    {"epochs", a.epochs},
                    {"batch_size", kBatchSize},
                    {"schedule", pruningScheduleToJson(PolynomialDecay(schedule))},
                    {"dense_test_accuracy", denseAccuracy},
                    {"pruned_test_accuracy", prunedAccuracy},
                    {"source_dense_test_accuracy", 0.9919},
                    {"source_pruned_test_accuracy", 0.9920},
                    {"kernel_sparsity", repro::kernelSparsity(prunedReport)},
                    {"dense_report", toJson(denseReport)},
                    {"pruned_report", toJson(prunedReport)},
                    {"train_seconds", {{"dense", denseSeconds}, {"pruned", prunedSeconds}}}});
  fmt::print("results written to {}\n", a.common.jsonPath);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"seed-cnn on MNIST: dense vs PolynomialDecay 0.5 -> 0.9 (tfmot's Keras pruning example)",
               "seed_cnn_pruning"};
  Args args;
  repro::addCommonOptions(app, args.common, "Directory of the MNIST IDX files (default: $SHRINK_MNIST_DIR)");
  app.add_option("--epochs", args.epochs, "Epochs of each run")->check(CLI::PositiveNumber)->capture_default_str();
  return repro::run(app, argc, argv, args.common, [&] { reproduce(args); });
}
