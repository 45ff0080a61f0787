// Reproduces tfmot's "Weight clustering in Keras example" (g3doc/guide/clustering/clustering_example)
// on the seed-cnn preset: train the float model, wrap every Conv2D and Dense kernel with
// cluster_weights(number_of_clusters=16, cluster_centroids_init=LINEAR), fine-tune for 1 epoch with
// Adam (lr 1e-5), batch 500 and validation_split 0.1, strip_clustering, and compare test accuracy and
// gzipped sizes. The tutorial's own model is smaller (Conv 12@3x3, MaxPool, Dense 10, 10 epochs);
// it reports "minimal loss in test accuracy" and a gzipped Keras file about 6x smaller (its figures
// vary per run and are not printed in the notebook source). Our float model trains with Adam
// (lr 1e-3), batch 128, for --epochs epochs, as seed_cnn_pruning does.
//
// Usage: cluster_seed_cnn --data-dir MNIST_DIR [--epochs 2] [--clusters 16] [--init linear]
//                         [--seed N] [--threads N] [--json FILE]
#include <chrono>
#include <set>

#include <fmt/format.h>

#include "apps/models/Models.h"
#include "apps/repro/Repro.h"
#include "compress/compress.h"
#include "optim/optim.h"

using namespace shrink;

namespace {

constexpr int64_t kBatchSize = 128;
constexpr int64_t kFineTuneBatchSize = 500;
constexpr float kFineTuneLr = 1e-5f;

struct Args {
  repro::CommonOptions common;
  int epochs = 2;
  int clusters = 16;
  std::string init = "linear";
};

double secondsSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

/// {"<kernel name>": number of distinct values} of every kernel the report of `model` lists.
nlohmann::json distinctValues(const Module& model, const ModelReport& modelReport) {
  nlohmann::json out = nlohmann::json::object();
  const auto named = model.namedParameters();
  for (const WeightReport& w : modelReport.weights)
    for (const auto& [name, p] : named)
      if (name == w.name) out[name] = std::set<float>(p->leaf().value().begin(), p->leaf().value().end()).size();
  return out;
}

void reproduce(const Args& a) {
  const data::TensorDataset train = repro::loadMnistSplit(a.common, true);
  const data::TensorDataset test = repro::loadMnistSplit(a.common, false);
  const Objective objective = Objective::classification();

  fmt::print("float seed-cnn, {} epochs ...\n", a.epochs);
  auto model = models::build("seed-cnn", a.common.seed);
  Adam adam(model->trainableParameters());
  auto t0 = std::chrono::steady_clock::now();
  fit(*model, adam, objective, train, {.epochs = a.epochs, .batchSize = kBatchSize, .seed = a.common.seed});
  const double floatSeconds = secondsSince(t0);
  const double floatAccuracy = evaluate(*model, objective, test).at("accuracy");
  const ModelReport floatReport = report(*model);

  const ClusterOptions options{.clusters = a.clusters, .init = parseCentroidInit(a.init), .seed = a.common.seed};
  const int wrapped = clusterWeights(*model, options);
  const double clusteredAccuracy = evaluate(*model, objective, test).at("accuracy");
  fmt::print("{} layers clustered ({} clusters, {} init); test accuracy before fine-tuning {}\n", wrapped,
             a.clusters, a.init, repro::percent(clusteredAccuracy));

  fmt::print("fine-tuning 1 epoch, Adam lr {}, batch {}, validation split 0.1 ...\n", kFineTuneLr, kFineTuneBatchSize);
  Adam fineTune(model->trainableParameters(), {.lr = kFineTuneLr});
  t0 = std::chrono::steady_clock::now();
  fit(*model, fineTune, objective, train,
      {.epochs = 1, .batchSize = kFineTuneBatchSize, .validationSplit = 0.1, .seed = a.common.seed});
  const double fineTuneSeconds = secondsSince(t0);
  const double fineTunedAccuracy = evaluate(*model, objective, test).at("accuracy");

  std::unique_ptr<Sequential> stripped = stripClustering(*model);
  const double strippedAccuracy = evaluate(*stripped, objective, test).at("accuracy");
  const ModelReport strippedReport = report(*stripped);
  const nlohmann::json distinct = distinctValues(*stripped, strippedReport);

  const int64_t floatGzip = floatReport.sizes.uncompressedGzipBytes;
  const int64_t strippedGzip = strippedReport.sizes.uncompressedGzipBytes;
  std::vector<repro::Comparison> rows{
      {"float test accuracy", repro::percent(floatAccuracy), ""},
      {"clustered, before fine-tuning", repro::percent(clusteredAccuracy), ""},
      {"clustered, fine-tuned (wrapped)", repro::percent(fineTunedAccuracy), ""},
      {"clustered, stripped", repro::percent(strippedAccuracy), "minimal loss"},
      {"accuracy loss, points", fmt::format("{:.2f}", 100 * (floatAccuracy - strippedAccuracy)), ""},
      {"gzip of the uncompressed archive, float -> clustered",
       fmt::format("{} -> {} B ({:.2f}x)", floatGzip, strippedGzip,
                   static_cast<double>(floatGzip) / static_cast<double>(strippedGzip)),
       "~6x (Keras .h5)"}};
  for (const auto& [name, count] : distinct.items())
    rows.push_back({fmt::format("distinct values of {}", name), fmt::format("{}", count.get<int64_t>()),
                    fmt::format("<= {}", a.clusters)});
  rows.push_back({"training seconds, float / fine-tune", fmt::format("{:.0f} / {:.0f}", floatSeconds, fineTuneSeconds),
                  ""});
  repro::printComparison(fmt::format("seed-cnn on MNIST, {} float epochs, {} clusters ({})", a.epochs, a.clusters,
                                     a.init),
                         rows);

  if (a.common.jsonPath.empty()) return;
  repro::writeJson(a.common.jsonPath, {{"program", "cluster_seed_cnn"},
                                       {"seed", a.common.seed},
                                       {"epochs", a.epochs},
                                       {"batch_size", kBatchSize},
                                       {"clusters", a.clusters},
                                       {"init", a.init},
                                       {"fine_tune", {{"epochs", 1},
                                                      {"batch_size", kFineTuneBatchSize},
                                                      {"lr", kFineTuneLr},
                                                      {"validation_split", 0.1}}},
                                       {"float_test_accuracy", floatAccuracy},
                                       {"clustered_test_accuracy_before_fine_tuning", clusteredAccuracy},
                                       {"fine_tuned_test_accuracy", fineTunedAccuracy},
                                       {"stripped_test_accuracy", strippedAccuracy},
                                       {"distinct_values", distinct},
                                       {"float_report", toJson(floatReport)},
                                       {"stripped_report", toJson(strippedReport)},
                                       {"train_seconds", {{"float", floatSeconds}, {"fine_tune", fineTuneSeconds}}}});
  fmt::print("results written to {}\n", a.common.jsonPath);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"seed-cnn on MNIST: float vs 16-cluster weight clustering (tfmot's Keras clustering example)",
               "cluster_seed_cnn"};
  Args args;
  repro::addCommonOptions(app, args.common, "Directory of the MNIST IDX files (default: $SHRINK_MNIST_DIR)");
  app.add_option("--epochs", args.epochs, "Epochs of float training")->check(CLI::PositiveNumber)->capture_default_str();
  app.add_option("--clusters", args.clusters, "Clusters per kernel")->check(CLI::Range(3, 256))->capture_default_str();
  app.add_option("--init", args.init, "Centroid initialisation")
      ->check(CLI::IsMember({"linear", "random", "density_based", "kmeans_plus_plus"}))
      ->capture_default_str();
  return repro::run(app, argc, argv, args.common, [&] { reproduce(args); });
}
