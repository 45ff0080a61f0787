// Quant-Noise against post-training quantization and full quantization-aware training (Fan, Stock
// et al., "Training with Quantization Noise for Extreme Model Compression", ICLR 2021, Table 1):
// lenet300 on MNIST and mlp-deep on Fashion-MNIST, with the weights of every Dense layer on a b-bit
// integer grid (b = 8, 4, 3, 2) and the activations left in float, the paper's weight-only setting.
// The quantizer is QuantNoiseWrapper's scalar one: symmetric, narrow range ([-(2^(b-1) - 1),
// 2^(b-1) - 1] times max|w| / (2^(b-1) - 1)), one range per tensor, recomputed from the weight at
// every forward (fairseq's scalar Quant-Noise uses an asymmetric MinMax or histogram observer).
// Rows, each test accuracy with the weights fully quantized (strip bakes the quantized values):
//   PTQ            the float model, trained without noise, quantized once (no retraining)
//   QAT p=1        trained from scratch with every weight fake-quantized at every forward
//   Quant-Noise p  trained from scratch with a random fraction p of the weights fake-quantized at
//                  each forward (straight-through), the others left in float
// Every row trains from the same initialisation with the same optimizer (Adam lr 1e-3, batch 128),
// epochs and shuffling seed; the noise is seeded by the same seed. The paper reports that
// Quant-Noise keeps accuracy better than QAT and PTQ, the more so the stronger the compression;
// the last table puts our figure for that next to the claim. The runs go a bit width at a time, in
// the order of --bits, and --json is rewritten after each figure ("complete": false until the end),
// so a run cut short keeps the columns it finished.
//
// Usage: quant_noise_table [--models lenet300,mlp-deep] [--datasets mnist,fashion-mnist]
//        [--bits 8,4,3,2] [--noise 0.1,0.5] [--epochs 10] [--seeds 1] [--seed N]
//        [--mnist-dir DIR] [--fashion-dir DIR] [--threads N] [--json FILE]
#include <algorithm>
#include <cmath>
#include <functional>
#include <set>

#include <fmt/format.h>

#include "apps/models/Models.h"
#include "apps/repro/Repro.h"
#include "compress/compress.h"
#include "datasets/Mnist.h"
#include "optim/optim.h"

using namespace shrink;

namespace {

struct Args {
  repro::CommonOptions common;
  std::vector<std::string> models{"lenet300", "mlp-deep"};
  std::vector<std::string> datasets{"mnist", "fashion-mnist"};
  std::vector<int> bits{8, 4, 3, 2};
  std::vector<double> noise{0.1, 0.5};
  std::vector<int> epochs{10};
  int seeds = 1;
  std::string mnistDir;
  std::string fashionDir = data::defaultFashionMnistDir().string();
};

/// One way of getting a quantized model: p = 0 quantizes the float model after training, p > 0
/// trains with scalar Quant-Noise of rate p (p = 1: full quantization-aware training).
struct Method {
  std::string name;
  double p;
};

/// The accuracies of one method at one bit width, one per seed.
struct Cell {
  std::vector<double> accuracy;
  std::vector<double> trainSeconds;
  int64_t maxLevels = 0;  ///< the most distinct values in any quantized kernel
};

double mean(const std::vector<double>& v) {
  double s = 0;
  for (double x : v) s += x;
  return s / static_cast<double>(v.size());
}

/// "98.12%", or "98.12±0.07%" (sample standard deviation) over several seeds.
std::string accuracyText(const std::vector<double>& v) {
  const double m = mean(v);
  if (v.size() < 2) return repro::percent(m);
  double ss = 0;
  for (double x : v) ss += (x - m) * (x - m);
  return fmt::format("{:.2f}±{:.2f}%", 100 * m, 100 * std::sqrt(ss / static_cast<double>(v.size() - 1)));
}

/// The most distinct values held by one Dense/Conv2D kernel of `model`: at most 2^b - 1 once
/// quantized to b bits.
int64_t maxKernelLevels(const Module& model) {
  int64_t most = 0;
  for (const auto& [name, parameter] : model.namedParameters()) {
    if (!name.ends_with("weight")) continue;
    const Tensor& w = parameter->leaf().value();
    most = std::max<int64_t>(most, static_cast<int64_t>(std::set<float>(w.data(), w.data() + w.numel()).size()));
  }
  return most;
}

struct ModelResult {
  std::string model;
  std::string dataset;
  int epochs;
  std::vector<double> floatAccuracy{};
  std::vector<double> floatSeconds{};
  std::vector<std::vector<Cell>> cells{};  ///< [method][bits]
};

/// Fills `r` (model, dataset and epochs set), calling `save` after each figure: a bit width at a
/// time, every method, so an interrupted run still holds whole columns.
void runModel(const Args& a, ModelResult& r, const std::vector<Method>& methods, const std::function<void()>& save) {
  const std::string& name = r.model;
  const int epochs = r.epochs;
  repro::CommonOptions dataOptions = a.common;
  dataOptions.dataDir = a.mnistDir;
  const bool fashion = r.dataset == "fashion-mnist";
  const data::TensorDataset train =
      fashion ? repro::loadImageSplit(a.fashionDir, true) : repro::loadMnistSplit(dataOptions, true);
  const data::TensorDataset test =
      fashion ? repro::loadImageSplit(a.fashionDir, false) : repro::loadMnistSplit(dataOptions, false);

  r.cells.assign(methods.size(), std::vector<Cell>(a.bits.size()));
  for (int s = 0; s < a.seeds; ++s) {
    const uint64_t seed = a.common.seed + static_cast<uint64_t>(s);
    auto floatModel = models::build(name, seed);
    r.floatSeconds.push_back(repro::trainClassifier(*floatModel, train, epochs, seed));
    r.floatAccuracy.push_back(repro::testAccuracy(*floatModel, test));
    fmt::print("{} seed {}: float {} ({:.0f} s)\n", name, seed, repro::percent(r.floatAccuracy.back()),
               r.floatSeconds.back());
    const ModelState trained = captureState(*floatModel);
    save();
    for (size_t b = 0; b < a.bits.size(); ++b) {
      for (size_t m = 0; m < methods.size(); ++m) {
        Cell& cell = r.cells[m][b];
        auto model = models::build(name, seed);
        const QuantNoiseOptions noise{.kind = QuantNoiseKind::Scalar, .p = methods[m].p == 0 ? 1.0 : methods[m].p,
                                      .bits = a.bits[b], .seed = seed};
        if (methods[m].p == 0) {
          restoreState(*model, trained);
          quantNoiseModel(*model, noise);
          cell.trainSeconds.push_back(0);
        } else {
          quantNoiseModel(*model, noise);
          cell.trainSeconds.push_back(repro::trainClassifier(*model, train, epochs, seed));
        }
        stripQuantNoiseInPlace(*model);
        cell.accuracy.push_back(repro::testAccuracy(*model, test));
        cell.maxLevels = std::max(cell.maxLevels, maxKernelLevels(*model));
        fmt::print("{} seed {}: {} at {} bits {} ({:.0f} s)\n", name, seed, methods[m].name, a.bits[b],
                   repro::percent(cell.accuracy.back()), cell.trainSeconds.back());
        std::fflush(stdout);
        save();
      }
    }
  }
}

void printModel(const Args& a, const ModelResult& r, const std::vector<Method>& methods) {
  fmt::print("\n{} on {}: test accuracy, {} epochs of Adam (lr 1e-3, batch {}), {} seed(s) from {}; weights "
             "b-bit, activations float\n",
             r.model, r.dataset, r.epochs, repro::kBatchSize, a.seeds, a.common.seed);
  std::vector<std::string> header{"method"};
  for (int b : a.bits) header.push_back(fmt::format("{} bits", b));
  std::vector<std::vector<std::string>> rows;
  rows.push_back({"float (not quantized)"});
  for (size_t b = 0; b < a.bits.size(); ++b) rows.back().push_back(accuracyText(r.floatAccuracy));
  for (size_t m = 0; m < methods.size(); ++m) {
    rows.push_back({methods[m].name});
    for (const Cell& c : r.cells[m]) rows.back().push_back(accuracyText(c.accuracy));
  }
  repro::printTable(header, rows);
}

/// The method with the best mean accuracy at bit width index b.
size_t bestMethod(const ModelResult& r, size_t b) {
  size_t best = 0;
  for (size_t m = 1; m < r.cells.size(); ++m)
    if (mean(r.cells[m][b].accuracy) > mean(r.cells[best][b].accuracy)) best = m;
  return best;
}

/// Writes the figures measured so far to --json; `complete` is false while the run goes on.
void writeResults(const Args& a, const std::vector<ModelResult>& results, const std::vector<Method>& methods,
                  bool complete) {
  nlohmann::json models = nlohmann::json::array();
  for (const ModelResult& r : results) {
    nlohmann::json rows = nlohmann::json::array();
    for (size_t m = 0; m < methods.size(); ++m)
      for (size_t b = 0; b < a.bits.size(); ++b) {
        const Cell& c = r.cells[m][b];
        if (c.accuracy.empty()) continue;
        rows.push_back({{"method", methods[m].name},
                        {"p", methods[m].p},
                        {"bits", a.bits[b]},
                        {"test_accuracy", c.accuracy},
                        {"mean_test_accuracy", mean(c.accuracy)},
                        {"max_kernel_levels", c.maxLevels},
                        {"train_seconds", c.trainSeconds}});
      }
    models.push_back({{"model", r.model},
                      {"dataset", r.dataset},
                      {"epochs", r.epochs},
                      {"float_test_accuracy", r.floatAccuracy},
                      {"float_train_seconds", r.floatSeconds},
                      {"rows", rows}});
  }
  nlohmann::json seeds = nlohmann::json::array();
  for (int s = 0; s < a.seeds; ++s) seeds.push_back(a.common.seed + static_cast<uint64_t>(s));
  repro::writeJson(a.common.jsonPath,
                   {{"program", "quant_noise_table"},
                    {"complete", complete},
                    {"seeds", seeds},
                    {"threads", a.common.threads},
                    {"optimizer", "Adam lr 1e-3 (Keras defaults)"},
                    {"batch_size", repro::kBatchSize},
                    {"quantizer", "scalar, weights only: symmetric narrow range per tensor on max|w|, recomputed at "
                                  "every forward; activations float"},
                    {"models", models}});
}

void reproduce(const Args& a) {
  const std::vector<int> epochs = repro::perModel(a.epochs, a.models, "--epochs");
  const std::vector<std::string> datasets = repro::perModel(a.datasets, a.models, "--datasets");
  for (double p : a.noise)
    if (p <= 0) throw std::invalid_argument(fmt::format("--noise rates must be > 0, got {}", p));
  std::vector<Method> methods{{"PTQ (no retraining)", 0}, {"QAT p=1", 1}};
  for (double p : a.noise) methods.push_back({fmt::format("Quant-Noise p={}", p), p});

  std::vector<ModelResult> results;
  results.reserve(a.models.size());
  for (size_t i = 0; i < a.models.size(); ++i) {
    fmt::print("{} on {}: {} epochs per training, {} trainings per seed\n", a.models[i], datasets[i], epochs[i],
               1 + (methods.size() - 1) * a.bits.size());
    results.push_back({.model = a.models[i], .dataset = datasets[i], .epochs = epochs[i]});
    runModel(a, results.back(), methods, [&] {
      if (!a.common.jsonPath.empty()) writeResults(a, results, methods, /*complete=*/false);
    });
  }

  const size_t lowest = static_cast<size_t>(std::min_element(a.bits.begin(), a.bits.end()) - a.bits.begin());
  std::vector<repro::Comparison> findings;
  for (const ModelResult& r : results) {
    printModel(a, r, methods);
    const size_t best = bestMethod(r, lowest);
    double bestNoise = -1;
    for (size_t m = 2; m < methods.size(); ++m) bestNoise = std::max(bestNoise, mean(r.cells[m][lowest].accuracy));
    findings.push_back({fmt::format("{}: best at {} bits", r.model, a.bits[lowest]),
                        fmt::format("{} ({})", methods[best].name, accuracyText(r.cells[best][lowest].accuracy)),
                        "Quant-Noise"});
    if (methods.size() > 2)
      findings.push_back({fmt::format("{}: best Quant-Noise - QAT at {} bits (points)", r.model, a.bits[lowest]),
                          fmt::format("{:+.2f}", 100 * (bestNoise - mean(r.cells[1][lowest].accuracy))), "> 0"});
  }
  fmt::print("\n");
  repro::printComparison("Quant-Noise claim at the lowest bit width", findings);

  if (a.common.jsonPath.empty()) return;
  writeResults(a, results, methods, /*complete=*/true);
  fmt::print("results written to {}\n", a.common.jsonPath);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Quant-Noise vs PTQ vs QAT at 8, 4, 3, 2 weight bits (lenet300 / MNIST, mlp-deep / Fashion-MNIST)",
               "quant_noise_table"};
  Args args;
  repro::addCommonOptions(app, args.common);
  repro::addModelOptions(app, args.models, args.epochs, "Training epochs");
  app.add_option("--datasets", args.datasets, "mnist | fashion-mnist: one for all models or one per model")
      ->delimiter(',')
      ->check(CLI::IsMember({"mnist", "fashion-mnist"}))
      ->capture_default_str();
  app.add_option("--bits", args.bits, "Weight bit widths")->delimiter(',')->check(CLI::Range(2, 8))->capture_default_str();
  app.add_option("--noise", args.noise, "Quant-Noise rates p (0 < p < 1)")
      ->delimiter(',')
      ->check(CLI::Range(0.0, 1.0))
      ->capture_default_str();
  app.add_option("--seeds", args.seeds, "Seeds (--seed, --seed + 1, ...); the table shows their mean")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_option("--mnist-dir", args.mnistDir, "Directory of the MNIST IDX files (default: $SHRINK_MNIST_DIR)");
  app.add_option("--fashion-dir", args.fashionDir, "Directory of the Fashion-MNIST IDX files")->capture_default_str();
  return repro::run(app, argc, argv, args.common, [&] { reproduce(args); });
}
