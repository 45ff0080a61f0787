#pragma once

// What the reproduction programs of apps/repro share: their common options, the table that puts
// our figures next to the source's, and the JSON results file.
#include <cstdint>
#include <functional>
#include <stdexcept>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "compress/Report.h"
#include "core/Module.h"
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

/// Adds --models (preset names, comma-separated) and --epochs (training epochs: one for every model
/// or one per model, see perModel), described as `epochsWhat`.
void addModelOptions(CLI::App& app, std::vector<std::string>& models, std::vector<int>& epochs,
                     const std::string& epochsWhat);

/// Re-executes with passive OpenMP waits (preferPassiveOpenMpWaits), parses the command line,
/// applies --threads and runs `body`; returns the exit code (0; 2 for a bad command line; 1, with
/// the message on stderr, when `body` throws).
int run(CLI::App& app, int argc, char** argv, const CommonOptions& options, const std::function<void()>& body);

/// The MNIST train or test set in NCHW layout from --data-dir, or from $SHRINK_MNIST_DIR when the
/// option is empty; std::invalid_argument when neither names a directory.
data::TensorDataset loadMnistSplit(const CommonOptions& options, bool train);

/// The train or test split of an MNIST-format dataset (MNIST, Fashion-MNIST) in `dir`, NCHW;
/// std::invalid_argument when `dir` is not a directory.
data::TensorDataset loadImageSplit(const std::string& dir, bool train);

/// Per-model values of an option that takes one value for every model or one per model (in the
/// order of `models`); std::invalid_argument naming `option` for any other count.
template <typename T>
std::vector<T> perModel(const std::vector<T>& values, const std::vector<std::string>& models,
                        const std::string& option) {
  if (values.size() == 1) return std::vector<T>(models.size(), values[0]);
  if (values.size() != models.size())
    throw std::invalid_argument(fmt::format("{} takes one value or one per model ({}), not {}", option,
                                            models.size(), values.size()));
  return values;
}

/// The classification training the quantization reproductions share: a new Adam (Keras' defaults
/// but `lr`) over the model's trainable parameters, batches of kBatchSize shuffled from `seed`,
/// `epochs` epochs, one log line per epoch when `verbose`. Returns the wall time in seconds.
inline constexpr int64_t kBatchSize = 128;
double trainClassifier(Module& model, const data::TensorDataset& train, int epochs, uint64_t seed,
                       bool verbose = false, float lr = 1e-3f);

/// The accuracy of a classifier on `test`, in eval mode.
double testAccuracy(Module& model, const data::TensorDataset& test);

/// One line of a comparison: the quantity, our figure and the source's ("" when it publishes none).
struct Comparison {
  std::string quantity;
  std::string ours;
  std::string source;
};
void printComparison(const std::string& title, const std::vector<Comparison>& rows);

/// A boxed table: `header` then `rows` (each as long as the header), the first column left-aligned
/// and the others right-aligned.
void printTable(const std::vector<std::string>& header, const std::vector<std::vector<std::string>>& rows);

/// Writes `results` to `path`, pretty-printed, creating its directory; std::runtime_error naming
/// the path when it cannot.
void writeJson(const std::string& path, const nlohmann::json& results);

/// {"<kernel name>": sparsity} for every prunable kernel of a report: the fraction of exact zeros.
nlohmann::json kernelSparsity(const ModelReport& report);

/// The last step at or before `lastStep` on PolynomialDecay's update grid (beginStep + k * frequency),
/// i.e. the end step at which the final sparsity is reached exactly; std::invalid_argument when
/// lastStep < beginStep.
int64_t lastGridStep(int64_t beginStep, int64_t lastStep, int64_t frequency);

/// "99.19%" for 0.9919.
std::string percent(double fraction);

}  // namespace shrink::repro
