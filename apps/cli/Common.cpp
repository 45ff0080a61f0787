#include "apps/cli/Common.h"

#include <filesystem>
#include <fstream>

#include <fmt/format.h>

#include "apps/models/Models.h"
#include "compress/Export.h"
#include "compress/PruneLowMagnitude.h"
#include "core/Check.h"
#include "datasets/datasets.h"
#include "layers/Registry.h"

namespace shrink::cli {

namespace fs = std::filesystem;

void addDataOptions(CLI::App& app, DataArgs& a) {
  app.add_option("--dataset", a.dataset, "mnist | fashion-mnist | friedman1 | csv")
      ->check(CLI::IsMember({"mnist", "fashion-mnist", "friedman1", "csv"}))
      ->capture_default_str();
  app.add_option("--data-dir", a.dataDir,
                 "Directory of the IDX files (fashion-mnist default: /usr/share/datasets/fashion-mnist)");
  app.add_option("--csv", a.csvPath, "CSV file (with --dataset csv)");
  app.add_option("--target", a.csvTarget, "Target column name of the CSV file (default: the last column)");
  app.add_option("--samples", a.samples, "friedman1: number of samples")->check(CLI::PositiveNumber)->capture_default_str();
  app.add_option("--noise", a.noise, "friedman1: stddev of the Gaussian noise")->check(CLI::NonNegativeNumber)->capture_default_str();
  app.add_option("--test-split", a.testSplit, "friedman1/csv: fraction held out for testing")
      ->check(CLI::Range(0.0, 1.0))
      ->capture_default_str();
  app.add_option("--limit", a.limit, "Use only the first N training examples (0: all)")->check(CLI::NonNegativeNumber);
}

LoadedData loadData(const DataArgs& a) {
  LoadedData out;
  if (a.dataset == "mnist" || a.dataset == "fashion-mnist") {
    fs::path dir = a.dataDir;
    if (dir.empty()) {
      if (a.dataset == "fashion-mnist") dir = data::defaultFashionMnistDir();
      else if (const char* env = std::getenv("SHRINK_MNIST_DIR")) dir = env;
      else throw std::invalid_argument("--dataset mnist needs --data-dir DIR (the directory of the MNIST IDX files)");
    }
    if (!fs::is_directory(dir))
      throw std::runtime_error(fmt::format("data directory {} does not exist", dir.string()));
    out.train = data::loadMnist(dir, data::Split::Train, {.layout = data::ImageLayout::NCHW, .limit = a.limit});
    out.test = data::loadMnist(dir, data::Split::Test, {.layout = data::ImageLayout::NCHW});
    out.objective = Objective::classification();
    out.description = fmt::format("{} ({})", a.dataset, dir.string());
  } else if (a.dataset == "friedman1") {
    data::TensorDataset all = data::makeFriedman1({.nSamples = a.samples, .nFeatures = 10,
                                                   .noise = static_cast<float>(a.noise), .seed = a.seed});
    auto split = data::trainTestSplit(all, {.testSize = a.testSplit, .seed = a.seed});
    out.train = std::move(split.train);
    out.test = std::move(split.test);
    out.objective = Objective::regression();
    out.description = fmt::format("friedman1 ({} samples, noise {})", a.samples, a.noise);
  } else if (a.dataset == "csv") {
    if (a.csvPath.empty()) throw std::invalid_argument("--dataset csv needs --csv FILE");
    data::TensorDataset all = data::loadCsv(a.csvPath, {.targetName = a.csvTarget});
    auto split = data::trainTestSplit(all, {.testSize = a.testSplit, .seed = a.seed});
    out.train = std::move(split.train);
    out.test = std::move(split.test);
    out.objective = Objective::regression();
    out.description = fmt::format("csv ({})", a.csvPath);
  } else {
    throw std::invalid_argument(fmt::format("unknown dataset '{}'", a.dataset));
  }
  return out;
}

std::unique_ptr<Module> buildModel(const std::string& spec, uint64_t seed) {
  const auto presets = models::presetNames();
  if (std::find(presets.begin(), presets.end(), spec) != presets.end()) return models::build(spec, seed);
  if (spec.size() > 5 && spec.substr(spec.size() - 5) == ".json") {
    std::ifstream in(spec);
    if (!in) throw std::runtime_error(fmt::format("model file {} cannot be opened", spec));
    nlohmann::json doc;
    try {
      doc = nlohmann::json::parse(in);
    } catch (const nlohmann::json::parse_error& e) {
      throw std::runtime_error(fmt::format("model file {} is not valid JSON: {}", spec, e.what()));
    }
    try {
      return buildModule(doc);
    } catch (const std::exception& e) {
      throw std::runtime_error(fmt::format("model file {}: {}", spec, e.what()));
    }
  }
  throw std::invalid_argument(fmt::format("unknown model '{}' (presets: {}; or a .json architecture file)", spec,
                                          fmt::join(presets, ", ")));
}

bool isModelFile(const std::string& spec) {
  const bool json = spec.size() > 5 && spec.substr(spec.size() - 5) == ".json";
  return !json && fs::is_regular_file(spec);
}

LoadedModel loadModelFile(const std::string& path) {
  registerCompressionTypes();
  if (isShrinkzFile(path)) return {importShrinkz(path), nlohmann::json::object(), {}};
  return loadModel(path);
}

LoadedModel loadOrBuild(const std::string& spec, uint64_t seed) {
  registerCompressionTypes();
  if (isModelFile(spec)) return loadModelFile(spec);
  return {buildModel(spec, seed), nlohmann::json::object(), {}};
}

Sequential& asSequential(Module& m, const std::string& spec, const char* purpose) {
  auto* seq = dynamic_cast<Sequential*>(&m);
  if (seq == nullptr)
    throw std::invalid_argument(fmt::format("{}: {} needs a Sequential model, got {}", spec, purpose, m.typeName()));
  return *seq;
}

void printTable(const std::string& title, const Table& rows) {
  size_t w0 = title.size(), w1 = 0;
  for (const auto& [k, v] : rows) {
    w0 = std::max(w0, k.size());
    w1 = std::max(w1, v.size());
  }
  const std::string line = fmt::format("+-{}-+-{}-+", std::string(w0, '-'), std::string(w1, '-'));
  fmt::print("{}\n| {:<{}} | {:>{}} |\n{}\n", line, title, w0, "", w1, line);
  for (const auto& [k, v] : rows) fmt::print("| {:<{}} | {:>{}} |\n", k, w0, v, w1);
  fmt::print("{}\n", line);
}

}  // namespace shrink::cli
