#include "apps/repro/Repro.h"

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include <fmt/format.h>

#include "core/Threads.h"
#include "datasets/Mnist.h"
#include "optim/optim.h"

namespace shrink::repro {

namespace fs = std::filesystem;

void addCommonOptions(CLI::App& app, CommonOptions& o, const std::string& dataHelp) {
  if (!dataHelp.empty()) app.add_option("--data-dir", o.dataDir, dataHelp);
  app.add_option("--seed", o.seed, "Seed of initialisation, shuffling and generated data")->capture_default_str();
  app.add_option("--threads", o.threads, "Threads (0: default)")->check(CLI::NonNegativeNumber);
  app.add_option("--json", o.jsonPath, "Write the results as JSON to FILE");
}

void addModelOptions(CLI::App& app, std::vector<std::string>& models, std::vector<int>& epochs,
                     const std::string& epochsWhat) {
  app.add_option("--models", models, "Preset models")->delimiter(',')->capture_default_str();
  app.add_option("--epochs", epochs, epochsWhat + ": one for all models or one per model")
      ->delimiter(',')
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
}

int run(CLI::App& app, int argc, char** argv, const CommonOptions& o, const std::function<void()>& body) {
  preferPassiveOpenMpWaits(argv);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  try {
    if (o.threads > 0) setNumThreads(o.threads);
    body();
  } catch (const std::exception& e) {
    fmt::print(stderr, "{}: error: {}\n", app.get_name(), e.what());
    return 1;
  }
  return 0;
}

data::TensorDataset loadMnistSplit(const CommonOptions& o, bool train) {
  fs::path dir = o.dataDir;
  if (dir.empty()) {
    const char* env = std::getenv("SHRINK_MNIST_DIR");
    if (env == nullptr) throw std::invalid_argument("give --data-dir DIR (the directory of the MNIST IDX files)");
    dir = env;
  }
  return loadImageSplit(dir.string(), train);
}

data::TensorDataset loadImageSplit(const std::string& dir, bool train) {
  if (!fs::is_directory(dir)) throw std::invalid_argument(fmt::format("data directory {} does not exist", dir));
  return data::loadMnist(dir, train ? data::Split::Train : data::Split::Test, {.layout = data::ImageLayout::NCHW});
}

double trainClassifier(Module& model, const data::TensorDataset& train, int epochs, uint64_t seed, bool verbose,
                       float lr) {
  std::fflush(stdout);  // what was printed before comes before fit's epoch lines
  const auto start = std::chrono::steady_clock::now();
  Adam adam(model.trainableParameters(), {.lr = lr});
  fit(model, adam, Objective::classification(), train,
      {.epochs = epochs, .batchSize = kBatchSize, .seed = seed, .verbose = verbose ? 1 : 0});
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

double testAccuracy(Module& model, const data::TensorDataset& test) {
  return evaluate(model, Objective::classification(), test).at("accuracy");
}

void printComparison(const std::string& title, const std::vector<Comparison>& rows) {
  std::vector<std::vector<std::string>> cells;
  for (const Comparison& r : rows) cells.push_back({r.quantity, r.ours, r.source});
  printTable({title, "ours", "source"}, cells);
}

void printTable(const std::vector<std::string>& header, const std::vector<std::vector<std::string>>& rows) {
  std::vector<size_t> width(header.size());
  for (size_t c = 0; c < header.size(); ++c) width[c] = header[c].size();
  for (const auto& row : rows) {
    if (row.size() != header.size())
      throw std::invalid_argument(fmt::format("a table row has {} cells, the header {}", row.size(), header.size()));
    for (size_t c = 0; c < row.size(); ++c) width[c] = std::max(width[c], row[c].size());
  }
  std::string line = "+";
  for (size_t w : width) line += std::string(w + 2, '-') + "+";
  const auto printRow = [&](const std::vector<std::string>& cells) {
    std::string text = "|";
    for (size_t c = 0; c < cells.size(); ++c)
      text += c == 0 ? fmt::format(" {:<{}} |", cells[c], width[c]) : fmt::format(" {:>{}} |", cells[c], width[c]);
    fmt::print("{}\n", text);
  };
  fmt::print("{}\n", line);
  printRow(header);
  fmt::print("{}\n", line);
  for (const auto& row : rows) printRow(row);
  fmt::print("{}\n", line);
}

void writeJson(const std::string& path, const nlohmann::json& results) {
  const fs::path p(path);
  std::error_code ec;
  if (p.has_parent_path()) fs::create_directories(p.parent_path(), ec);
  std::ofstream out(p);
  if (!out) throw std::runtime_error(fmt::format("cannot write the results file {}", path));
  out << results.dump(2) << '\n';
  if (!out) throw std::runtime_error(fmt::format("cannot write the results file {}", path));
}

nlohmann::json kernelSparsity(const ModelReport& r) {
  nlohmann::json j = nlohmann::json::object();
  for (const WeightReport& w : r.weights) j[w.name] = w.sparsity;
  return j;
}

int64_t lastGridStep(int64_t beginStep, int64_t lastStep, int64_t frequency) {
  if (lastStep < beginStep)
    throw std::invalid_argument(
        fmt::format("the pruning begin step ({}) is after the last training step ({})", beginStep, lastStep));
  return beginStep + (lastStep - beginStep) / frequency * frequency;
}

std::string percent(double fraction) { return fmt::format("{:.2f}%", 100 * fraction); }

}  // namespace shrink::repro
