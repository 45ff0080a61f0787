#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "core/Module.h"
#include "layers/Sequential.h"
#include "optim/ModelFile.h"
#include "datasets/Dataset.h"
#include "optim/Objective.h"

namespace shrink::cli {

/// Where the data come from: --dataset and its companions.
struct DataArgs {
  std::string dataset = "fashion-mnist";
  std::string dataDir;
  std::string csvPath;
  std::string csvTarget;
  int64_t samples = 10000;
  double noise = 0.0;
  double testSplit = 0.33;
  int64_t limit = 0;
  uint64_t seed = 42;
};
void addDataOptions(CLI::App& app, DataArgs& args);

/// A train and a test set with the objective that fits them.
struct LoadedData {
  data::TensorDataset train;
  data::TensorDataset test;
  Objective objective;
  std::string description;
};
/// Loads or generates the data; a missing directory or file throws with one clear message.
LoadedData loadData(const DataArgs& args);

/// A preset name (lenet300, lenet5, seed-cnn, mlp-deep, friedman-mlp) or a JSON architecture file.
std::unique_ptr<Module> buildModel(const std::string& spec, uint64_t seed);

/// A saved model file (compression wrappers included), or a freshly initialised preset / JSON
/// architecture (isModelFile tells which).
LoadedModel loadOrBuild(const std::string& spec, uint64_t seed);
/// A model file: a saved model (optim/ModelFile.h) or a Deep Compression file (.shrinkz, told apart
/// by its magic; its info is empty). Compression wrapper types are registered first.
LoadedModel loadModelFile(const std::string& path);
/// True when `spec` names a model file rather than a preset or a .json architecture.
bool isModelFile(const std::string& spec);

/// The model as a Sequential; otherwise std::invalid_argument saying `purpose` needs one.
Sequential& asSequential(Module& m, const std::string& spec, const char* purpose);

/// Rows of "name value" printed as a two-column table.
using Table = std::vector<std::pair<std::string, std::string>>;
void printTable(const std::string& title, const Table& rows);

/// Registration of each group of subcommands.
void registerTrainCommands(CLI::App& app);
void registerPruneCommands(CLI::App& app);
void registerQuantizeCommands(CLI::App& app);
void registerExportCommands(CLI::App& app);
void registerCompressCommands(CLI::App& app);

}  // namespace shrink::cli
