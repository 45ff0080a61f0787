#include "apps/repro/Repro.h"

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include <fmt/format.h>

#include "core/Threads.h"
#include "datasets/Mnist.h"

namespace shrink::repro {

namespace fs = std::filesystem;

void addCommonOptions(CLI::App& app, CommonOptions& o, const std::string& dataHelp) {
  if (!dataHelp.empty()) app.add_option("--data-dir", o.dataDir, dataHelp);
  app.add_option("--seed", o.seed, "Seed of initialisation, shuffling and generated data")->capture_default_str();
  app.add_option("--threads", o.threads, "Threads (0: default)")->check(CLI::NonNegativeNumber);
  app.add_option("--json", o.jsonPath, "Write the results as JSON to FILE");
}

int run(CLI::App& app, int argc, char** argv, const CommonOptions& o, const std::function<void()>& body) {
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
  if (!fs::is_directory(dir)) throw std::invalid_argument(fmt::format("data directory {} does not exist", dir.string()));
  return data::loadMnist(dir, train ? data::Split::Train : data::Split::Test, {.layout = data::ImageLayout::NCHW});
}

void printComparison(const std::string& title, const std::vector<Comparison>& rows) {
  size_t w0 = title.size(), w1 = 4, w2 = 6;  // "ours", "source"
  for (const Comparison& r : rows) {
    w0 = std::max(w0, r.quantity.size());
    w1 = std::max(w1, r.ours.size());
    w2 = std::max(w2, r.source.size());
  }
  const std::string line =
      fmt::format("+-{}-+-{}-+-{}-+", std::string(w0, '-'), std::string(w1, '-'), std::string(w2, '-'));
  fmt::print("{}\n| {:<{}} | {:>{}} | {:>{}} |\n{}\n", line, title, w0, "ours", w1, "source", w2, line);
  for (const Comparison& r : rows)
    fmt::print("| {:<{}} | {:>{}} | {:>{}} |\n", r.quantity, w0, r.ours, w1, r.source, w2);
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

int64_t trainingSteps(int64_t examples, int64_t batchSize, int epochs) {
  return epochs * ((examples + batchSize - 1) / batchSize);
}

int64_t lastGridStep(int64_t beginStep, int64_t lastStep, int64_t frequency) {
  if (lastStep < beginStep)
    throw std::invalid_argument(
        fmt::format("the pruning begin step ({}) is after the last training step ({})", beginStep, lastStep));
  return beginStep + (lastStep - beginStep) / frequency * frequency;
}

std::string percent(double fraction) { return fmt::format("{:.2f}%", 100 * fraction); }

}  // namespace shrink::repro
