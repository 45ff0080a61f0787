// CompressionSummaries (PruningSummaries): what it logs, when, and that TensorBoard reads it back.
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "compress/compress.h"
#include "core/Threads.h"
#include "datasets/datasets.h"
#include "layers/layers.h"
#include "optim/optim.h"
#include "tests/compress/TensorBoardReader.h"

namespace shrink {
namespace {

namespace fs = std::filesystem;

struct Row {
  int64_t step;
  double value;
};

/// tag -> rows, from pruning.csv (step,tag,value; our tags need no quoting).
std::map<std::string, std::vector<Row>> readCsv(const fs::path& path) {
  std::ifstream in(path);
  std::string line;
  std::getline(in, line);
  EXPECT_EQ(line, "step,tag,value");
  std::map<std::string, std::vector<Row>> rows;
  while (std::getline(in, line)) {
    const size_t a = line.find(','), b = line.rfind(',');
    rows[line.substr(a + 1, b - a - 1)].push_back({std::stoll(line.substr(0, a)), std::stod(line.substr(b + 1))});
  }
  return rows;
}

class PruningSummariesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    setNumThreads(1);
    dir_ = fs::temp_directory_path() / "shrink_pruning_summaries_test";
    fs::remove_all(dir_);
    model_.add<Dense>({.in = 10, .out = 32, .activation = Activation::ReLU, .seed = 1});
    model_.add<Dense>({.in = 32, .out = 1, .seed = 2});
    schedule_ = std::make_shared<PolynomialDecay>(
        PolynomialDecay::Options{.initialSparsity = 0.0, .finalSparsity = 0.75, .beginStep = 0, .endStep = 40,
                                 .frequency = 10});
    pruneLowMagnitude(model_, {.schedule = schedule_});
    // 256 samples, batch 32: 8 steps an epoch, 48 in all; masks change at steps 10, 20, 30 and 40.
    auto data = data::makeFriedman1({.nSamples = 256, .seed = 5});
    Adam adam(model_.parameters(), {.lr = 0.01f});
    UpdatePruningStep step;
    PruningSummaries summaries(dir_.string());
    fit(model_, adam, Objective::regression(), data, {.epochs = 6, .batchSize = 32, .verbose = 0},
        {&step, &summaries});
  }

  /// The expected (step, sparsity) series of one weight with `n` entries.
  std::vector<Row> expectedSparsity(int64_t n) const {
    std::vector<Row> rows{{0, 0.0}};
    for (int64_t step : {10, 20, 30, 40}) {
      const double s = schedule_->at(step).sparsity;
      rows.push_back({step, 1.0 - static_cast<double>(keptCount(n, s)) / static_cast<double>(n)});
    }
    return rows;
  }

  fs::path dir_;
  Sequential model_;
  std::shared_ptr<PolynomialDecay> schedule_;
};

TEST_F(PruningSummariesTest, CsvHasSparsityAndThresholdAtTrainBeginAndAtEveryMaskChange) {
  const auto rows = readCsv(dir_ / "pruning.csv");
  const auto wrappers = pruneWrappers(model_);
  ASSERT_EQ(wrappers.size(), 2u);
  EXPECT_EQ(rows.size(), 4u);  // two tags for each of two kernels
  for (const auto& [name, w] : wrappers) {
    const PrunedWeight& p = w->prunedWeights()[0];
    const std::string tag = fmt::format("{}/{}", name, p.name);
    ASSERT_TRUE(rows.count(tag + "/sparsity")) << tag;
    const auto& sparsity = rows.at(tag + "/sparsity");
    const auto expected = expectedSparsity(p.parameter->leaf().value().numel());
    ASSERT_EQ(sparsity.size(), expected.size()) << tag;
    for (size_t i = 0; i < expected.size(); ++i) {
      EXPECT_EQ(sparsity[i].step, expected[i].step) << tag;
      EXPECT_DOUBLE_EQ(sparsity[i].value, expected[i].value) << tag << " at step " << expected[i].step;
    }
    const auto& threshold = rows.at(tag + "/threshold");
    ASSERT_EQ(threshold.size(), expected.size()) << tag;
    for (size_t i = 1; i < threshold.size(); ++i)
      EXPECT_GT(threshold[i].value, threshold[i - 1].value) << tag << ": the threshold grows with the sparsity";
    EXPECT_EQ(threshold.back().value, (*p.threshold)[0]) << tag << ": the last threshold is the mask's";
  }
}

TEST_F(PruningSummariesTest, TensorBoardReadsTheSameSeries) {
  std::string why;
  const std::string py = test::tensorboardPython(why);
  if (py.empty()) GTEST_SKIP() << "TensorBoard is not available: " << why;
  std::string error;
  const nlohmann::json j = test::readTensorBoardScalars(py, (dir_ / "metrics").string(), error);
  ASSERT_TRUE(error.empty()) << error;
  const auto csv = readCsv(dir_ / "pruning.csv");
  ASSERT_EQ(j["tags"].size(), csv.size());
  for (const auto& [tag, rows] : csv) {
    const auto& series = j["scalars"][tag];
    ASSERT_EQ(series.size(), rows.size()) << tag;
    for (size_t i = 0; i < rows.size(); ++i) {
      EXPECT_EQ(series[i][0].get<int64_t>(), rows[i].step) << tag;
      // Event files hold float32 values.
      EXPECT_EQ(series[i][1].get<double>(), static_cast<double>(static_cast<float>(rows[i].value))) << tag;
    }
  }
}

TEST(PruningSummariesErrors, AnUnusableLogDirectoryIsNamed) {
  const fs::path file = fs::temp_directory_path() / "shrink_pruning_summaries_file";
  std::ofstream(file) << "x";
  const std::string bad = (file / "logs").string();
  try {
    PruningSummaries s(bad);
    FAIL() << "no error for " << bad;
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find(bad), std::string::npos) << e.what();
  }
}


TEST(QuantizationSummariesTest, RangesAndScalesEveryPeriodStepsAndAtTheEnd) {
  setNumThreads(1);
  const fs::path dir = fs::temp_directory_path() / "shrink_quantization_summaries_test";
  fs::remove_all(dir);
  Sequential model;
  model.add<Dense>({.in = 10, .out = 16, .activation = Activation::ReLU, .seed = 1});
  model.add<Dense>({.in = 16, .out = 1, .seed = 2});
  quantizeModel(model);
  // 160 samples, batch 32: 5 steps an epoch, 15 in all; ranges logged at steps 0, 4, 8, 12 and 15.
  auto data = data::makeFriedman1({.nSamples = 160, .seed = 5});
  Adam adam(model.parameters(), {.lr = 0.01f});
  CompressionSummaries summaries(dir.string(), {.rangePeriod = 4});
  fit(model, adam, Objective::regression(), data, {.epochs = 3, .batchSize = 32, .verbose = 0}, {&summaries});

  const auto rows = readCsv(dir / "quantization.csv");
  const std::vector<int64_t> steps{0, 4, 8, 12, 15};
  auto expectLast = [&](const std::string& tag, double value) {
    ASSERT_TRUE(rows.count(tag)) << tag << " missing";
    const auto& series = rows.at(tag);
    ASSERT_EQ(series.size(), steps.size()) << tag;
    for (size_t i = 0; i < steps.size(); ++i) EXPECT_EQ(series[i].step, steps[i]) << tag;
    EXPECT_FLOAT_EQ(series.back().value, value) << tag << ": the last row is the model's state";
  };
  const auto wrappers = quantizeWrappers(model);
  ASSERT_EQ(wrappers.size(), 2u);
  for (const auto& [name, w] : wrappers) {
    const QuantizedWeight& q = w->quantizedWeights()[0];
    const std::string tag = name + "/" + q.name;
    expectLast(tag + "/min", (*q.min)[0]);
    expectLast(tag + "/max", (*q.max)[0]);
    expectLast(tag + "/scale", nudgedGrid((*q.min)[0], (*q.max)[0], {.bits = 8, .narrowRange = true}).scale);
    // Symmetric int8 weights: 254 steps across [-m, m].
    EXPECT_NEAR(rows.at(tag + "/scale").back().value, 2 * (*q.max)[0] / 254.0, 1e-7) << tag;
  }
  const auto activations = modulesOfType<ActivationQuantizer>(model);
  ASSERT_EQ(activations.size(), 3u);  // the input and the two outputs
  for (const auto& [name, a] : activations) {
    const float lo = std::min(a->min(), 0.0f), hi = std::max(a->max(), 0.0f);
    expectLast(name + "/min", lo);
    expectLast(name + "/max", hi);
    expectLast(name + "/scale", (hi - lo) / 255.0f);
    // The moving average left [-6, 6] as training went on.
    EXPECT_EQ(rows.at(name + "/min").front().value, -6.0) << name;
    EXPECT_NE(rows.at(name + "/min").back().value, -6.0) << name;
  }
}

TEST(QuantizationSummariesTest, RangePeriodBelowOneIsAnError) {
  EXPECT_THROW(CompressionSummaries((fs::temp_directory_path() / "shrink_summaries_bad").string(), {.rangePeriod = 0}),
               std::invalid_argument);
}

}  // namespace
}  // namespace shrink
