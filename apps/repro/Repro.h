#pragma once

// What the reproduction programs of apps/repro share: their common options, the table that puts
// our figures next to the source's, and the JSON results file.
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "compress/Report.h"
#include "datasets/Dataset.h"

namespace shrink::repro {

/// Options every reproduction takes.
struct CommonOptions {
  std::string dataDir;   ///< the dataset's directory (programs that read one)
  uint64_t seed = 42;    ///< initialisation, shuffling and generated data
  int threads = 0;       ///< 0: shrink's default
  std::string jsonPath;  ///< write the results there as JSON when not empty
};

/// Adds --seed, --threads, --json FILE and, when `dataHelp` is not empty, --data-dir DIR.
void addCommonOptions(CLI::App& app, CommonOptions& options, const std::string& dataHelp = "");

/// Parses the command line, applies --threads and runs `body`; returns the exit code (0; 2 for a bad
/// command line; 1, with the message on stderr, when `body` throws).
int run(CLI::App& app, int argc, char** argv, const CommonOptions& options, const std::function<void()>& body);

/// The MNIST train or test set in NCHW layout from --data-dir, or from $SHRINK_MNIST_DIR when the
/// option is empty; std::invalid_argument when neither names a directory.
data::TensorDataset loadMnistSplit(const CommonOptions& options, bool train);

/// One line of a comparison: the quantity, our figure and the source's ("" when it publishes none).
struct Comparison {
  std::string quantity;
  std::string ours;
  std::string source;
};
void printComparison(const std::string& title, const std::vector<Comparison>& rows);

/// Writes `results` to `path`, pretty-printed, creating its directory; std::runtime_error naming
/// the path when it cannot.
void writeJson(const std::string& path, const nlohmann::json& results);

/// {"<kernel name>": sparsity} for every prunable kernel of a report: the fraction of exact zeros.
nlohmann::json kernelSparsity(const ModelReport& report);

/// Training steps of `epochs` epochs over `examples` examples in batches of `batchSize` (the last
/// batch of an epoch may be partial).
int64_t trainingSteps(int64_t examples, int64_t batchSize, int epochs);

/// The last step at or before `lastStep` on PolynomialDecay's update grid (beginStep + k * frequency),
/// i.e. the end step at which the final sparsity is reached exactly; std::invalid_argument when
/// lastStep < beginStep.
int64_t lastGridStep(int64_t beginStep, int64_t lastStep, int64_t frequency);

/// "99.19%" for 0.9919.
std::string percent(double fraction);

}  // namespace shrink::repro
