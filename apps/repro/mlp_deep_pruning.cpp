// Gradual pruning of a deep MLP to 95%: mlp-deep (784-512-512-256-256-128-128-64-64-32-32-10,
// ReLU) is trained on MNIST for 15 epochs (Adam lr 1e-3, batch 128), then every Dense kernel is
// wrapped and the model fine-tuned under PolynomialDecay(0.5 -> 0.95, begin step 0, frequency 100):
// sparsity rises over the first --prune-epochs epochs of the fine-tuning (the schedule ends on the
// last update step within them) and the remaining epochs train at the final sparsity, so the model
// recovers. No published figure exists for this architecture, so the comparison column gives the
// target instead: a drop of at most 1.0 point of test accuracy at 95% sparsity.
//
// Usage: mlp_deep_pruning --data-dir MNIST_DIR [--epochs 15] [--fine-tune-epochs 6]
//        [--prune-epochs 3] [--seed N] [--threads N] [--json FILE]
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
  int epochs = 15;
  int fineTuneEpochs = 6;
  int pruneEpochs = 3;
};

std::string countText(int64_t n, const ModelReport& r) { return fmt::format("{} ({:.2f}x)", n, r.compressionRatio); }

void reproduce(const Args& a) {
  if (a.pruneEpochs > a.fineTuneEpochs)
    throw std::invalid_argument(fmt::format("--prune-epochs ({}) must not exceed --fine-tune-epochs ({})",
                                            a.pruneEpochs, a.fineTuneEpochs));
  const data::TensorDataset train = repro::loadMnistSplit(a.common, true);
  const data::TensorDataset test = repro::loadMnistSplit(a.common, false);
  const Objective objective = Objective::classification();

  fmt::print("dense, {} epochs ...\n", a.epochs);
  auto model = models::build("mlp-deep", a.common.seed);
  Adam adam(model->trainableParameters());
  fit(*model, adam, objective, train, {.epochs = a.epochs, .batchSize = kBatchSize, .seed = a.common.seed});
  const double denseAccuracy = evaluate(*model, objective, test).at("accuracy");
  const ModelReport before = report(*model);

  const PolynomialDecay::Options schedule{
      .initialSparsity = 0.5,
      .finalSparsity = 0.95,
      .beginStep = 0,
      .endStep = repro::lastGridStep(0, trainingSteps(train.size(), kBatchSize, a.pruneEpochs), 100),
      .frequency = 100};
  fmt::print("pruning while fine-tuning, {} epochs, PolynomialDecay 0.5 -> 0.95 over steps 0 -> {} ...\n",
             a.fineTuneEpochs, schedule.endStep);
  pruneLowMagnitude(*model, {.schedule = std::make_shared<PolynomialDecay>(schedule)});
  Adam fineTune(model->trainableParameters());
  UpdatePruningStep step;
  fit(*model, fineTune, objective, train,
      {.epochs = a.fineTuneEpochs, .batchSize = kBatchSize, .seed = a.common.seed + 1}, {&step});
  std::unique_ptr<Sequential> stripped = stripPruning(*model);
  const double prunedAccuracy = evaluate(*stripped, objective, test).at("accuracy");
  const ModelReport after = report(*stripped);
  const double drop = 100 * (denseAccuracy - prunedAccuracy);

  fmt::print("{}", formatReport(after));
  repro::printComparison(
      "mlp-deep on MNIST",
      {{"dense test accuracy", repro::percent(denseAccuracy), ""},
       {"pruned test accuracy", repro::percent(prunedAccuracy), ""},
       {"drop (points)", fmt::format("{:.2f}", drop), "<= 1.00"},
       {"sparsity of the pruned kernels", fmt::format("{:.4f}%", 100 * after.prunableSparsity), "95%"},
       {"parameters", fmt::format("{}", after.totalParameters), ""},
       {"non-zero parameters, dense -> pruned",
        fmt::format("{} -> {}", before.nonZeroParameters, countText(after.nonZeroParameters, after)), ""},
       {"gzip of the model file, dense -> pruned",
        fmt::format("{} -> {} B", before.sizes.fileGzipBytes, after.sizes.fileGzipBytes), ""},
       {"gzip of the uncompressed archive, dense -> pruned",
        fmt::format("{} -> {} B", before.sizes.uncompressedGzipBytes, after.sizes.uncompressedGzipBytes), ""}});

  if (a.common.jsonPath.empty()) return;
  repro::writeJson(a.common.jsonPath, {{"program", "mlp_deep_pruning"},
                                       {"seed", a.common.seed},
                                       {"epochs", a.epochs},
                                       {"fine_tune_epochs", a.fineTuneEpochs},
                                       {"batch_size", kBatchSize},
                                       {"schedule", pruningScheduleToJson(PolynomialDecay(schedule))},
                                       {"dense_test_accuracy", denseAccuracy},
                                       {"pruned_test_accuracy", prunedAccuracy},
                                       {"drop_points", drop},
                                       {"target_drop_points", 1.0},
                                       {"kernel_sparsity", repro::kernelSparsity(after)},
                                       {"dense_report", toJson(before)},
                                       {"pruned_report", toJson(after)}});
  fmt::print("results written to {}\n", a.common.jsonPath);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"mlp-deep on MNIST: 15 dense epochs, then gradual pruning to 95% while fine-tuning", "mlp_deep_pruning"};
  Args args;
  repro::addCommonOptions(app, args.common, "Directory of the MNIST IDX files (default: $SHRINK_MNIST_DIR)");
  app.add_option("--epochs", args.epochs, "Dense training epochs")->check(CLI::PositiveNumber)->capture_default_str();
  app.add_option("--fine-tune-epochs", args.fineTuneEpochs, "Epochs of training while pruning")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_option("--prune-epochs", args.pruneEpochs, "Epochs over which the sparsity rises (<= fine-tune epochs)")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  return repro::run(app, argc, argv, args.common, [&] { reproduce(args); });
}
