// Reproduces the Friedman #1 regression example of D. Mwiti, "Model pruning in TensorFlow"
// (heartbeat.fritz.ai, reprinted on KDnuggets; notebooks in mwitiderrick/Pruning-in-TensorFlow).
// Recipe of the source: make_friedman1(10000 samples, 10 features, no noise), 67/33 train/test
// split; Dense 128 ReLU -> Dense 1 ReLU (the output keeps its ReLU: the targets are positive);
// Adam (lr 1e-3), MSE, batch size 32 (Keras' default), validation = the last part of the training
// set. Four runs, each one test MSE:
//   dense                 300 epochs max, 20% validation, EarlyStopping(val_loss, patience 30)  0.0201
//   whole model, scratch  a fresh model, every Dense wrapped, ConstantSparsity(0.5, begin 0),
//                         100 epochs max, 20% validation, patience 10                        0.1830
//   first Dense only      a fresh model, the hidden Dense wrapped with PolynomialDecay(0.2 -> 0.8,
//                         steps 1000 -> 2000) and 2x3 MAX blocks, 300 epochs max, 10%
//                         validation, patience 10                                            0.1388
//   trained model pruned  the dense run's weights, every Dense wrapped, ConstantSparsity(0.5, 0),
//                         fine-tuned like "whole model"                                      0.0264
// and the gzip size of the last model saved wrapped and after strip_pruning: 6101 -> 5140 bytes
// (Keras HDF5 files in the source). The article prints neither the first-Dense schedule (the one
// above is the example of tfmot's prune_low_magnitude documentation) nor the fine-tuning recipe of
// the last run (the whole-model one is used). The source ran each once, without seeds.
//
// Usage: friedman_pruning [--seed N] [--threads N] [--json FILE]
#include <memory>
#include <set>
#include <string>

#include <fmt/format.h>

#include "apps/repro/Repro.h"
#include "compress/compress.h"
#include "datasets/datasets.h"
#include "layers/layers.h"
#include "optim/optim.h"

using namespace shrink;

namespace {

constexpr int64_t kBatchSize = 32;

std::unique_ptr<Sequential> sourceModel(uint64_t seed) {
  Generator gen(seed);
  auto m = std::make_unique<Sequential>();
  m->add<Dense>({.in = 10, .out = 128, .activation = Activation::ReLU, .generator = &gen});
  m->add<Dense>({.in = 128, .out = 1, .activation = Activation::ReLU, .generator = &gen});
  return m;
}

struct Training {
  int epochs = 0;
  double validationSplit = 0;
  int patience = 0;
};

/// Trains with Adam and early stopping on val_loss; returns the number of epochs run.
int train(Sequential& model, const data::TensorDataset& trainSet, const Training& t, uint64_t seed, bool pruned) {
  Adam adam(model.trainableParameters());
  EarlyStopping stop({.monitor = "val_loss", .patience = t.patience});
  UpdatePruningStep step;
  std::vector<Callback*> callbacks{&stop};
  if (pruned) callbacks.insert(callbacks.begin(), &step);
  const History h = fit(model, adam, Objective::regression(), trainSet,
                        {.epochs = t.epochs, .batchSize = kBatchSize, .validationSplit = t.validationSplit,
                         .seed = seed, .verbose = 0},
                        callbacks);
  return h.epochs();
}

struct RunResult {
  double mse = 0;
  int epochs = 0;
  double prunedSparsity = 0;  ///< fraction of zeros of the wrapped kernels together (0 for the dense run)
  ModelReport stripped;       ///< the model after stripPruning (the model itself for the dense run)
};

RunResult finish(Sequential& model, const data::TensorDataset& test, int epochs) {
  std::set<std::string> wrapped;
  for (const auto& [name, wrapper] : pruneWrappers(model)) wrapped.insert(name);
  std::unique_ptr<Sequential> plain = stripPruning(model);
  RunResult r{evaluate(*plain, Objective::regression(), test).at("mse"), epochs, 0.0, report(*plain)};
  int64_t zeros = 0, total = 0;
  for (const WeightReport& w : r.stripped.weights)
    if (wrapped.count(w.layer) > 0) {
      zeros += w.parameters - w.nonZero;
      total += w.parameters;
    }
  if (total > 0) r.prunedSparsity = double(zeros) / double(total);
  return r;
}

nlohmann::json toJson(const RunResult& r, double sourceMse) {
  return {{"test_mse", r.mse},
          {"source_test_mse", sourceMse},
          {"epochs_run", r.epochs},
          {"kernel_sparsity", repro::kernelSparsity(r.stripped)},
          {"sparsity_of_pruned_kernels", r.prunedSparsity}};
}

std::string mseText(const RunResult& r) { return fmt::format("{:.4f} ({} epochs)", r.mse, r.epochs); }

void reproduce(const repro::CommonOptions& o) {
  const data::TensorDataset all = data::makeFriedman1({.nSamples = 10000, .nFeatures = 10, .noise = 0.0f, .seed = o.seed});
  const data::DatasetSplit split = data::trainTestSplit(all, {.testSize = 0.33, .seed = o.seed});
  const Training denseRecipe{.epochs = 300, .validationSplit = 0.2, .patience = 30};
  const Training pruneRecipe{.epochs = 100, .validationSplit = 0.2, .patience = 10};
  const Training layerRecipe{.epochs = 300, .validationSplit = 0.1, .patience = 10};
  const auto constantHalf = std::make_shared<ConstantSparsity>(ConstantSparsity::Options{.sparsity = 0.5});

  fmt::print("dense ...\n");
  auto dense = sourceModel(o.seed);
  const RunResult denseRun = finish(*dense, split.test, train(*dense, split.train, denseRecipe, o.seed, false));

  fmt::print("whole model pruned from scratch ...\n");
  auto scratch = sourceModel(o.seed);
  pruneLowMagnitude(*scratch, {.schedule = constantHalf});
  const RunResult scratchRun = finish(*scratch, split.test, train(*scratch, split.train, pruneRecipe, o.seed, true));

  fmt::print("first Dense pruned (PolynomialDecay, 2x3 blocks) ...\n");
  auto layer = sourceModel(o.seed);
  // tfmot's block (2, 3) spans 2 inputs x 3 outputs of its [in, out] kernel: 3 rows x 2 columns of ours.
  pruneLowMagnitude(*layer, 0,
                    {.schedule = std::make_shared<PolynomialDecay>(PolynomialDecay::Options{
                         .initialSparsity = 0.2, .finalSparsity = 0.8, .beginStep = 1000, .endStep = 2000}),
                     .blockRows = 3,
                     .blockCols = 2,
                     .pooling = BlockPooling::Max});
  const RunResult layerRun = finish(*layer, split.test, train(*layer, split.train, layerRecipe, o.seed, true));

  fmt::print("trained model pruned and fine-tuned ...\n");
  auto tuned = sourceModel(o.seed);
  restoreState(*tuned, captureState(*dense));
  pruneLowMagnitude(*tuned, {.schedule = constantHalf});
  const RunResult tunedRun = finish(*tuned, split.test, train(*tuned, split.train, pruneRecipe, o.seed, true));
  const SizeReport wrappedSizes = report(*tuned).sizes;
  const double wrappedMse = evaluate(*tuned, Objective::regression(), split.test).at("mse");

  repro::printComparison(
      "Friedman #1, test MSE",
      {{"dense", mseText(denseRun), "0.0201"},
       {"whole model, ConstantSparsity 0.5, from scratch", mseText(scratchRun), "0.1830"},
       {"first Dense, PolynomialDecay 0.2->0.8, 2x3 max blocks", mseText(layerRun), "0.1388"},
       {"trained model, ConstantSparsity 0.5, fine-tuned", mseText(tunedRun), "0.0264"},
       {"  same, wrapped (before strip)", fmt::format("{:.4f}", wrappedMse), "0.0264"},
       {"sparsity of the pruned kernels (scratch / first / tuned)",
        fmt::format("{} / {} / {}", repro::percent(scratchRun.prunedSparsity), repro::percent(layerRun.prunedSparsity),
                    repro::percent(tunedRun.prunedSparsity)),
        ""},
       {"gzip of the model file, wrapped -> stripped",
        fmt::format("{} -> {} B", wrappedSizes.fileGzipBytes, tunedRun.stripped.sizes.fileGzipBytes), "6101 -> 5140 B"},
       {"gzip of the uncompressed archive, wrapped -> stripped",
        fmt::format("{} -> {} B", wrappedSizes.uncompressedGzipBytes, tunedRun.stripped.sizes.uncompressedGzipBytes),
        "6101 -> 5140 B"},
       {"gzip of the dense model's uncompressed archive",
        fmt::format("{} B", denseRun.stripped.sizes.uncompressedGzipBytes), ""}});

  if (o.jsonPath.empty()) return;
  repro::writeJson(
      o.jsonPath,
      {{"program", "friedman_pruning"},
       {"seed", o.seed},
       {"dense", toJson(denseRun, 0.0201)},
       {"whole_model_from_scratch", toJson(scratchRun, 0.1830)},
       {"first_dense_polynomial_blocks", toJson(layerRun, 0.1388)},
       {"trained_model_pruned", toJson(tunedRun, 0.0264)},
       {"trained_model_pruned_wrapped_test_mse", wrappedMse},
       {"gzip_bytes",
        {{"wrapped_file", wrappedSizes.fileGzipBytes},
         {"stripped_file", tunedRun.stripped.sizes.fileGzipBytes},
         {"wrapped_uncompressed_archive", wrappedSizes.uncompressedGzipBytes},
         {"stripped_uncompressed_archive", tunedRun.stripped.sizes.uncompressedGzipBytes},
         {"dense_uncompressed_archive", denseRun.stripped.sizes.uncompressedGzipBytes},
         {"source_wrapped", 6101},
         {"source_stripped", 5140}}}});
  fmt::print("results written to {}\n", o.jsonPath);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Friedman #1: dense vs pruned MSE and gzip sizes (D. Mwiti's tfmot example)", "friedman_pruning"};
  repro::CommonOptions options;
  repro::addCommonOptions(app, options);
  return repro::run(app, argc, argv, options, [&] { reproduce(options); });
}
