// Collaborative optimisation: quantization-aware training that keeps the zeros of a pruned model
// (PQAT), the codebooks of a clustered one (CQAT) or both (PCQAT), each against plain QAT, which
// loses them; strip of every nesting of the wrappers; prune -> cluster -> quantize end to end.
#include <algorithm>
#include <array>
#include <filesystem>
#include <functional>
#include <iostream>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "compress/compress.h"
#include "core/Functions.h"
#include "core/Threads.h"
#include "datasets/datasets.h"
#include "layers/layers.h"
#include "optim/optim.h"
#include "tests/TestUtils.h"
#include "tests/compress/QuantTestUtils.h"

namespace shrink {
namespace {

namespace fs = std::filesystem;
using test::allClose;
using test::friedmanClasses;
using test::friedmanClassifier;

constexpr int kClusters = 8;


void train(Sequential& model, const data::Dataset& data, int epochs, const std::vector<Callback*>& callbacks = {}) {
  Adam adam(model.parameters(), {.lr = 0.005f});
  fit(model, adam, Objective::classification(), data, {.epochs = epochs, .verbose = 0}, callbacks);
}

std::unique_ptr<Sequential> trainedMlp(const data::Dataset& data) {
  auto m = friedmanClassifier();
  train(*m, data, 10);
  return m;
}

void prune(Sequential& model, const data::Dataset& data) {
  pruneLowMagnitude(model, {.schedule = std::make_shared<ConstantSparsity>(
                                ConstantSparsity::Options{.sparsity = 0.5, .beginStep = 0, .frequency = 4})});
  UpdatePruningStep step;
  train(model, data, 3, {&step});
}

std::unique_ptr<Sequential> prunedAndStripped(const data::Dataset& data) {
  auto m = trainedMlp(data);
  prune(*m, data);
  stripPruningInPlace(*m);
  return m;
}

void cluster(Sequential& model, const data::Dataset& data, bool preserveSparsity) {
  clusterWeights(model, ClusterOptions{.clusters = kClusters, .preserveSparsity = preserveSparsity, .seed = 1});
  train(model, data, 3);
}

/// Every Dense kernel of `model`, as the layers read it (through every transform).
std::vector<Tensor> kernels(Module& model) {
  NoGradGuard noGrad;
  std::vector<Tensor> out;
  model.visit([&](Module& m) {
    if (auto* dense = dynamic_cast<Dense*>(&m)) out.push_back(dense->weight().value().value());
  });
  return out;
}

/// Entries that were 0 in `before` and are not in `after`.
int64_t revivedZeros(const std::vector<Tensor>& before, const std::vector<Tensor>& after) {
  int64_t revived = 0;
  for (size_t k = 0; k < before.size(); ++k)
    for (int64_t i = 0; i < before[k].numel(); ++i) revived += before[k][i] == 0.0f && after[k][i] != 0.0f ? 1 : 0;
  return revived;
}

int64_t mostDistinct(const std::vector<Tensor>& ks) {
  int64_t most = 0;
  for (const Tensor& k : ks) most = std::max(most, distinctValues(k));
  return most;
}

bool hasWrappers(const Sequential& model) {
  for (const auto& [name, layer] : namedLayers(model))
    if (dynamic_cast<const LayerWrapper*>(layer) != nullptr) return true;
  return false;
}

TEST(CollaborativeTest, UniqueValuesCentroidsAreTheDistinctValues) {
  Generator gen(0);
  const std::vector<float> values{3, 1, 1, 2, 0, 0};
  EXPECT_EQ(makeCodebook(values, {.clusters = 4, .init = CentroidInit::UniqueValues}, gen).centroids,
            (std::vector<float>{0, 1, 2, 3}));
  EXPECT_EQ(makeCodebook(values, {.clusters = 5, .init = CentroidInit::UniqueValues}, gen).centroids,
            (std::vector<float>{0, 1, 2, 3, 3}))
      << "padded with the largest";
  const std::vector<float> ten{1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
  EXPECT_EQ(makeCodebook(ten, {.clusters = 4, .init = CentroidInit::UniqueValues}, gen).centroids,
            (std::vector<float>{1, 4, 7, 10}))
      << "spread over the sorted values";
  const Codebook sparse = makeCodebook(std::vector<float>{5, -1, 0, 2, 5, 0},
                                       {.clusters = 4, .init = CentroidInit::UniqueValues, .preserveSparsity = true}, gen);
  EXPECT_EQ(sparse.centroids, (std::vector<float>{-1, 0, 2, 5}));
  EXPECT_EQ(sparse.zeroIndex, 1);
}

TEST(CollaborativeTest, PqatKeepsEveryZeroThroughTrainingAndStrip) {
  setNumThreads(1);
  const auto data = friedmanClasses(512, 4);
  for (bool preserve : {true, false}) {
    SCOPED_TRACE(preserve ? "PQAT" : "plain QAT");
    auto m = prunedAndStripped(data);
    const std::vector<Tensor> pruned = kernels(*m);
    EXPECT_EQ(collaborativeQuantize(*m, {.preserveSparsity = preserve}), 3);
    const std::vector<Tensor> start = kernels(*m);
    train(*m, data, 3);
    const std::vector<Tensor> trained = kernels(*m);
    EXPECT_FALSE(allClose(trained[0], start[0], 1e-3f, 0)) << "the weights trained";
    if (!preserve) {
      EXPECT_GT(revivedZeros(pruned, trained), 100) << "plain QAT trains the zeros away";
      continue;
    }
    EXPECT_EQ(revivedZeros(pruned, trained), 0);
    const Tensor wrapped = predict(*m, data);
    std::unique_ptr<Sequential> stripped = stripQuantization(*m);
    EXPECT_FALSE(hasWrappers(*stripped));
    EXPECT_TRUE(allClose(predict(*stripped, data), wrapped, 0, 0));
    const std::vector<Tensor> plain = kernels(*stripped);
    EXPECT_EQ(revivedZeros(pruned, plain), 0);
    EXPECT_LE(mostDistinct(plain), 255) << "on the int8 grid";
  }
}

TEST(CollaborativeTest, CqatKeepsAtMostKValuesThroughTrainingAndStrip) {
  setNumThreads(1);
  const auto data = friedmanClasses(512, 4);
  for (bool preserve : {true, false}) {
    SCOPED_TRACE(preserve ? "CQAT" : "plain QAT");
    auto m = trainedMlp(data);
    cluster(*m, data, false);
    stripClusteringInPlace(*m);
    ASSERT_LE(mostDistinct(kernels(*m)), kClusters);
    EXPECT_EQ(collaborativeQuantize(*m, {.preserveClusters = preserve}), 3);
    EXPECT_EQ(clusterWrappers(*m).size(), preserve ? 3u : 0u);
    const std::vector<Tensor> clustered = kernels(*m);
    train(*m, data, 3);
    const std::vector<Tensor> trained = kernels(*m);
    EXPECT_FALSE(allClose(trained[0], clustered[0], 1e-3f, 0)) << "the weights trained";
    if (!preserve) {
      EXPECT_GT(mostDistinct(trained), 4 * kClusters) << "plain QAT trains every weight on its own";
      continue;
    }
    EXPECT_LE(mostDistinct(trained), kClusters);
    const Tensor wrapped = predict(*m, data);
    std::unique_ptr<Sequential> stripped = stripQuantization(*m);
    EXPECT_FALSE(hasWrappers(*stripped)) << "the clustering inside is stripped with the quantization";
    EXPECT_TRUE(allClose(predict(*stripped, data), wrapped, 0, 0));
    EXPECT_LE(mostDistinct(kernels(*stripped)), kClusters);
    EXPECT_EQ(stripped->trainableParameters().size(), 6u) << "the centroids are gone";
  }
}

/// The most distinct values in one output channel of the Conv2D kernel of `model` (4 channels of 9).
int64_t mostDistinctPerChannel(Module& model) {
  NoGradGuard noGrad;
  int64_t most = 0;
  model.visit([&](Module& m) {
    if (auto* conv = dynamic_cast<Conv2D*>(&m)) {
      const Tensor w = conv->weight().value().value();
      for (int64_t ch = 0; ch < 4; ++ch)
        most = std::max(most, distinctValues(Tensor(Shape{9}, {w.data() + ch * 9, w.data() + ch * 9 + 9})));
    }
  });
  return most;
}

TEST(CollaborativeTest, CqatKeepsPerChannelClustersOfAConvolutionWithPerAxisRanges) {
  setNumThreads(1);
  constexpr int k = 3;
  for (bool preserve : {true, false}) {
    SCOPED_TRACE(preserve ? "CQAT" : "plain QAT");
    auto m = std::make_unique<Sequential>();
    m->add<Conv2D>({.in = 1, .out = 4, .kernel = {3, 3}, .activation = Activation::ReLU, .seed = 1});
    m->add<Flatten>({});
    m->add<Dense>({.in = 4 * 6 * 6, .out = 5, .seed = 2});
    ClusterScheme scheme{.defaults = {.clusters = k}};
    scheme.layers["conv2d"] = {.clusters = k, .perChannel = true};
    clusterWeights(*m, scheme);
    stripClusteringInPlace(*m);
    ASSERT_EQ(mostDistinctPerChannel(*m), k);
    collaborativeQuantize(*m, {.preserveClusters = preserve});
    const Tensor x = test::uniform(Shape{8, 1, 8, 8}, 12);
    Adam adam(m->parameters(), {.lr = 0.01f});
    for (int step = 0; step < 5; ++step) {
      adam.zeroGrad();
      sum(square((*m)(Variable(x)))).backward();
      adam.step();
    }
    if (!preserve) {
      EXPECT_GT(mostDistinctPerChannel(*m), k);
      continue;
    }
    EXPECT_LE(mostDistinctPerChannel(*m), k);
    EXPECT_LE(mostDistinct(kernels(*m)), k);
    m->eval();
    const Tensor wrapped = (*m)(Variable(x)).value();
    EXPECT_EQ(stripQuantizationInPlace(*m), 2);
    EXPECT_FALSE(hasWrappers(*m));
    EXPECT_TRUE(allClose((*m)(Variable(x)).value(), wrapped, 0, 0));
    EXPECT_LE(mostDistinctPerChannel(*m), k);
    EXPECT_LE(mostDistinct(kernels(*m)), k);
  }
}

TEST(CollaborativeTest, PcqatKeepsTheZerosAndTheClusters) {
  setNumThreads(1);
  const auto data = friedmanClasses(512, 4);
  for (bool preserveSparsity : {true, false}) {
    SCOPED_TRACE(preserveSparsity ? "PCQAT" : "CQAT");
    auto m = prunedAndStripped(data);
    cluster(*m, data, true);
    stripClusteringInPlace(*m);
    const std::vector<Tensor> before = kernels(*m);
    ASSERT_LE(mostDistinct(before), kClusters);
    collaborativeQuantize(*m, {.preserveSparsity = preserveSparsity, .preserveClusters = true});
    train(*m, data, 3);
    const std::vector<Tensor> trained = kernels(*m);
    EXPECT_LE(mostDistinct(trained), kClusters);
    if (!preserveSparsity) {
      EXPECT_GT(revivedZeros(before, trained), 100) << "the zero centroid trains away from 0";
      continue;
    }
    EXPECT_EQ(revivedZeros(before, trained), 0);
    const Tensor wrapped = predict(*m, data);
    // Either strip order gives the same plain model.
    std::unique_ptr<Sequential> a = stripQuantization(*m);
    std::unique_ptr<Sequential> b = stripClustering(*m);
    EXPECT_EQ(b->at(1).typeName(), "QuantizeWrapper");
    EXPECT_EQ(static_cast<QuantizeWrapper&>(b->at(1)).layer().typeName(), "Dense");
    EXPECT_TRUE(allClose(predict(*b, data), wrapped, 0, 0));
    EXPECT_EQ(stripQuantizationInPlace(*b), 3);
    for (Sequential* s : {a.get(), b.get()}) {
      EXPECT_FALSE(hasWrappers(*s));
      EXPECT_TRUE(allClose(predict(*s, data), wrapped, 0, 0));
      EXPECT_EQ(revivedZeros(before, kernels(*s)), 0);
      EXPECT_LE(mostDistinct(kernels(*s)), kClusters);
    }
  }
}

TEST(CollaborativeTest, SavedPcqatModelLoadsAndResumesKeepingItsMasksAndCodebooks) {
  setNumThreads(1);
  const auto data = friedmanClasses(256, 7);
  auto m = prunedAndStripped(data);
  cluster(*m, data, true);
  stripClusteringInPlace(*m);
  const std::vector<Tensor> before = kernels(*m);
  collaborativeQuantize(*m, {.preserveSparsity = true, .preserveClusters = true});
  train(*m, data, 1);
  const fs::path path = fs::temp_directory_path() / "shrink_collaborative_test.shrink";
  saveModel(*m, path.string());
  LoadedModel loaded = loadModel(path.string());
  fs::remove(path);
  auto& b = static_cast<Sequential&>(*loaded.model);
  EXPECT_EQ(architectureOf(b), architectureOf(*m));
  EXPECT_TRUE(allClose(predict(b, data), predict(*m, data), 0, 0));
  train(b, data, 2);  // the masks and assignments came from the file, not from the fresh layers
  EXPECT_EQ(revivedZeros(before, kernels(b)), 0);
  EXPECT_LE(mostDistinct(kernels(b)), kClusters);
}

TEST(CollaborativeTest, StripsNestedWrappersInAnyOrder) {
  setNumThreads(1);
  const auto data = friedmanClasses(256, 6);
  auto m = trainedMlp(data);
  prune(*m, data);
  clusterWeights(*m, ClusterOptions{.clusters = kClusters, .preserveSparsity = true, .seed = 1});
  quantizeModel(*m);
  EXPECT_EQ(static_cast<LayerWrapper&>(static_cast<LayerWrapper&>(m->at(1)).layer()).layer().typeName(),
            "PruneLowMagnitude");
  UpdatePruningStep step;
  train(*m, data, 1, {&step});
  const Tensor wrapped = predict(*m, data);
  using Strip = std::function<int(Sequential&)>;
  const std::array<Strip, 3> strips{stripPruningInPlace, stripClusteringInPlace, stripQuantizationInPlace};
  std::array<int, 3> order{0, 1, 2};
  do {
    SCOPED_TRACE(fmt::format("order {} {} {}", order[0], order[1], order[2]));
    std::unique_ptr<Sequential> s = copyModel(*m);
    int stripped = 0;
    for (int i : order) stripped += strips[i](*s);
    // Stripping the quantization first takes the clustering inside with it.
    EXPECT_EQ(stripped, order[0] == 2 || (order[1] == 2 && order[0] == 0) ? 6 : 9);
    EXPECT_FALSE(hasWrappers(*s));
    EXPECT_TRUE(allClose(predict(*s, data), wrapped, 0, 0));
  } while (std::next_permutation(order.begin(), order.end()));
}

TEST(CollaborativeTest, PruneClusterQuantizeKeepsAccuracyAndTheReportShowsIt) {
  setNumThreads(1);
  const auto trainData = friedmanClasses(512, 4), testData = friedmanClasses(256, 5);
  auto m = trainedMlp(trainData);
  const double floatAccuracy = evaluate(*m, Objective::classification(), testData)["accuracy"];
  std::vector<StepReport> steps{stepReport(*m, "float")};
  prune(*m, trainData);
  stripPruningInPlace(*m);
  steps.push_back(stepReport(*m, "pruned"));
  const std::vector<Tensor> pruned = kernels(*m);
  cluster(*m, trainData, true);
  stripClusteringInPlace(*m);
  steps.push_back(stepReport(*m, "clustered"));
  collaborativeQuantize(*m, {.preserveSparsity = true, .preserveClusters = true});
  train(*m, trainData, 3);
  steps.push_back(stepReport(*m, "PCQAT"));
  const double accuracy = evaluate(*m, Objective::classification(), testData)["accuracy"];
  stripQuantizationInPlace(*m);
  steps.push_back(stepReport(*m, "stripped"));
  const std::string table = formatSteps(steps);
  std::cout << table << fmt::format("test accuracy: float {:.4f}, PCQAT {:.4f}\n", floatAccuracy, accuracy);

  EXPECT_GT(accuracy, 0.65);  // chance: 1/3
  EXPECT_EQ(revivedZeros(pruned, kernels(*m)), 0);
  for (size_t w = 0; w < 3; ++w) {
    SCOPED_TRACE(steps[0].weights[w].name);
    EXPECT_EQ(steps[0].weights[w].sparsity, 0.0);
    EXPECT_NEAR(steps[1].weights[w].sparsity, 0.5, 0.01);
    EXPECT_GT(steps[1].weights[w].uniqueValues, kClusters);
    for (size_t s = 2; s < steps.size(); ++s) {
      EXPECT_GE(steps[s].weights[w].sparsity, steps[1].weights[w].sparsity) << steps[s].step;
      EXPECT_LE(steps[s].weights[w].uniqueValues, kClusters) << steps[s].step;
    }
  }
  for (const char* needle : {"float", "pruned", "clustered", "PCQAT", "stripped", "dense_1.weight", "sparsity / unique"})
    EXPECT_NE(table.find(needle), std::string::npos) << needle;
}

}  // namespace
}  // namespace shrink
