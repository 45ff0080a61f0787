// Reproduces the LeNet-300-100 row of Deep Compression (Han, Mao & Dally, ICLR 2016, Tables 1 and
// 2): prune, cluster with shared weights, Huffman-code; the paper reports 1.64% -> 1.58% top-1 error
// and 1070 KB -> 27 KB (40x), with 8% of the weights kept, 6-bit weights and 5-bit relative indices.
//
// Here: train the float lenet300 with Adam (lr 1e-3, batch 128) for --epochs; prune every kernel
// with PolynomialDecay(0 -> --sparsity, frequency 100) while fine-tuning for --prune-epochs; strip;
// cluster every kernel into --clusters shared values keeping the zeros (one centroid fixed at 0);
// fine-tune for --cluster-epochs (Adam lr 1e-4); strip; write the .shrinkz file with --index-bits
// relative indices; read it back and evaluate the imported model. The ratio is dense float32
// parameter bytes over the .shrinkz file bytes.
//
// Usage: deep_compression_lenet300 --data-dir MNIST_DIR [--epochs 3] [--prune-epochs 2]
//          [--sparsity 0.92] [--clusters 32] [--cluster-epochs 1] [--index-bits 5] [--out FILE]
//          [--seed N] [--threads N] [--json FILE]
#include <filesystem>

#include <fmt/format.h>

#include "apps/models/Models.h"
#include "apps/repro/Repro.h"
#include "compress/Export.h"
#include "compress/compress.h"
#include "optim/optim.h"

using namespace shrink;

namespace {

constexpr int64_t kBatchSize = 128;
constexpr float kClusterLr = 1e-4f;

struct Args {
  repro::CommonOptions common;
  int epochs = 3;
  int pruneEpochs = 2;
  double sparsity = 0.92;
  int clusters = 32;
  int clusterEpochs = 1;
  int indexBits = 5;
  std::string out = "lenet300.shrinkz";
};

std::string errorText(double accuracy) { return fmt::format("{:.2f}%", 100 * (1 - accuracy)); }

void reproduce(const Args& a) {
  const data::TensorDataset train = repro::loadMnistSplit(a.common, true);
  const data::TensorDataset test = repro::loadMnistSplit(a.common, false);
  const Objective objective = Objective::classification();

  fmt::print("float lenet300, {} epochs ...\n", a.epochs);
  auto model = models::build("lenet300", a.common.seed);
  Adam adam(model->trainableParameters());
  fit(*model, adam, objective, train, {.epochs = a.epochs, .batchSize = kBatchSize, .seed = a.common.seed});
  const double floatAccuracy = evaluate(*model, objective, test).at("accuracy");

  const PolynomialDecay::Options schedule{
      .initialSparsity = 0.0,
      .finalSparsity = a.sparsity,
      .beginStep = 0,
      .endStep = repro::lastGridStep(0, repro::trainingSteps(train.size(), kBatchSize, a.pruneEpochs), 100),
      .frequency = 100};
  fmt::print("pruning to {} while fine-tuning {} epochs (PolynomialDecay, end step {}) ...\n", a.sparsity,
             a.pruneEpochs, schedule.endStep);
  pruneLowMagnitude(*model, {.schedule = std::make_shared<PolynomialDecay>(schedule)});
  Adam pruneTune(model->trainableParameters());
  UpdatePruningStep step;
  fit(*model, pruneTune, objective, train,
      {.epochs = a.pruneEpochs, .batchSize = kBatchSize, .seed = a.common.seed + 1}, {&step});
  std::unique_ptr<Sequential> pruned = stripPruning(*model);
  const double prunedAccuracy = evaluate(*pruned, objective, test).at("accuracy");

  fmt::print("clustering into {} shared weights (zeros kept), fine-tuning {} epoch(s) ...\n", a.clusters,
             a.clusterEpochs);
  clusterWeights(*pruned, ClusterOptions{.clusters = a.clusters, .preserveSparsity = true, .seed = a.common.seed});
  Adam clusterTune(pruned->trainableParameters(), {.lr = kClusterLr});
  fit(*pruned, clusterTune, objective, train,
      {.epochs = a.clusterEpochs, .batchSize = kBatchSize, .seed = a.common.seed + 2});
  stripClusteringInPlace(*pruned);
  const double clusteredAccuracy = evaluate(*pruned, objective, test).at("accuracy");

  const ExportReport exported = exportShrinkz(*pruned, a.out, {.indexBits = a.indexBits});
  std::unique_ptr<Module> imported = importShrinkz(a.out);
  const double importedAccuracy = evaluate(*imported, objective, test).at("accuracy");
  fmt::print("{}", formatExportReport(exported));

  const auto ratio = [&](int64_t bytes) {
    return fmt::format("{} B ({:.1f}x)", bytes, static_cast<double>(exported.denseFloatBytes) / static_cast<double>(bytes));
  };
  repro::printComparison(
      "Deep Compression, LeNet-300-100 on MNIST",
      {{"float test error", errorText(floatAccuracy), "1.64%"},
       {"pruned test error", errorText(prunedAccuracy), ""},
       {"pruned + clustered test error", errorText(clusteredAccuracy), ""},
       {"test error of the imported .shrinkz", errorText(importedAccuracy), "1.58%"},
       {"weights kept", fmt::format("{:.2f}%", 100.0 * exported.nonZeroParameters / exported.parameters), "8%"},
       {"dense float32 parameters", fmt::format("{} B", exported.denseFloatBytes), "1070 KB"},
       {"float32 + gzip -9", ratio(exported.floatGzipBytes), ""},
       {"pruned (sparse float32 + relative indices)", ratio(exported.prunedBytes), "12x"},
       {"+ clustered", ratio(exported.clusteredBytes), "32x"},
       {"+ Huffman (tensors)", ratio(exported.huffmanBytes), "40x"},
       {".shrinkz file (header and architecture included)", ratio(exported.fileBytes), "27 KB (40x)"}});

  if (a.common.jsonPath.empty()) return;
  repro::writeJson(a.common.jsonPath, {{"program", "deep_compression_lenet300"},
                                       {"seed", a.common.seed},
                                       {"epochs", a.epochs},
                                       {"prune_epochs", a.pruneEpochs},
                                       {"sparsity", a.sparsity},
                                       {"clusters", a.clusters},
                                       {"cluster_epochs", a.clusterEpochs},
                                       {"cluster_lr", kClusterLr},
                                       {"index_bits", a.indexBits},
                                       {"float_test_error", 1 - floatAccuracy},
                                       {"pruned_test_error", 1 - prunedAccuracy},
                                       {"clustered_test_error", 1 - clusteredAccuracy},
                                       {"imported_test_error", 1 - importedAccuracy},
                                       {"export", toJson(exported)}});
  fmt::print("results written to {}\n", a.common.jsonPath);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Deep Compression of LeNet-300-100 on MNIST: prune, cluster, Huffman-code (.shrinkz)",
               "deep_compression_lenet300"};
  Args args;
  repro::addCommonOptions(app, args.common, "Directory of the MNIST IDX files (default: $SHRINK_MNIST_DIR)");
  app.add_option("--epochs", args.epochs, "Epochs of float training")->check(CLI::PositiveNumber)->capture_default_str();
  app.add_option("--prune-epochs", args.pruneEpochs, "Epochs of pruning while fine-tuning")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_option("--sparsity", args.sparsity, "Final sparsity of every kernel")->check(CLI::Range(0.0, 0.999))->capture_default_str();
  app.add_option("--clusters", args.clusters, "Shared weights per kernel (zero included)")
      ->check(CLI::Range(3, 256))
      ->capture_default_str();
  app.add_option("--cluster-epochs", args.clusterEpochs, "Epochs of fine-tuning the clustered model")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  app.add_option("--index-bits", args.indexBits, "Bits of a relative index")->check(CLI::Range(1, 16))->capture_default_str();
  app.add_option("--out", args.out, "The .shrinkz file written")->capture_default_str();
  return repro::run(app, argc, argv, args.common, [&] { reproduce(args); });
}
