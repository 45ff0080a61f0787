// Quantization-aware training of whole models: quantizeModel's placement of wrappers and quantizers,
// training, strip, save and resume, and quantizing a pruned model.
#include <filesystem>
#include <memory>
#include <set>

#include <gtest/gtest.h>

#include "compress/compress.h"
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
using test::messageOf;
using test::friedmanClasses;
using test::friedmanClassifier;


/// Conv2D -> BatchNorm -> ReLU, a Conv2D with fused ReLU -> BatchNorm, then a Dense classifier.
std::unique_ptr<Sequential> convNet() {
  auto m = std::make_unique<Sequential>();
  m->add<Conv2D>({.in = 1, .out = 4, .kernel = {3, 3}, .seed = 1});
  m->add<BatchNorm>({.features = 4});
  m->add<ReLU>({});
  m->add<Conv2D>({.in = 4, .out = 6, .kernel = {3, 3}, .activation = Activation::ReLU, .seed = 2});
  m->add<BatchNorm>({.features = 6});
  m->add<Flatten>({});
  m->add<Dense>({.in = 6 * 4 * 4, .out = 3, .seed = 3});
  return m;
}

/// Images [n, 1, 8, 8] whose class is the quadrant (of three) holding a bright blob.
data::TensorDataset blobs(int64_t n, uint64_t seed) {
  Generator gen(seed);
  Tensor x = gen.uniformTensor(Shape{n, 1, 8, 8}, 0.0f, 0.3f);
  Tensor y(Shape{n});
  for (int64_t i = 0; i < n; ++i) {
    const int64_t c = static_cast<int64_t>(gen.uniform01() * 3.0) % 3;
    y[i] = static_cast<float>(c);
    const int64_t r0 = c == 2 ? 4 : 0, c0 = c == 1 ? 4 : 0;
    for (int64_t r = r0; r < r0 + 4; ++r)
      for (int64_t k = c0; k < c0 + 4; ++k) x[i * 64 + r * 8 + k] += 1.0f;
  }
  return data::TensorDataset(std::move(x), std::move(y));
}

std::vector<std::string> namesOf(const Sequential& s) {
  std::vector<std::string> out;
  for (size_t i = 0; i < s.size(); ++i) out.push_back(s.name(i));
  return out;
}

void expectSameState(const Module& a, const Module& b) {
  const ModelState sa = captureState(a), sb = captureState(b);
  ASSERT_EQ(sa.parameters.size(), sb.parameters.size());
  for (size_t i = 0; i < sa.parameters.size(); ++i) EXPECT_TRUE(allClose(sa.parameters[i], sb.parameters[i], 0, 0));
  ASSERT_EQ(sa.buffers.size(), sb.buffers.size());
  for (size_t i = 0; i < sa.buffers.size(); ++i) EXPECT_TRUE(allClose(sa.buffers[i], sb.buffers[i], 0, 0)) << i;
}

TEST(QuantizeTest, WrapsLayersWithWeightsAndInsertsTheInputQuantizer) {
  auto model = friedmanClassifier();
  EXPECT_EQ(quantizeModel(*model), 3);
  EXPECT_EQ(namesOf(*model), (std::vector<std::string>{"input_quantizer", "dense", "dense_1", "dense_2"}));
  EXPECT_EQ(model->at(0).typeName(), "ActivationQuantizer");
  for (const auto& [name, w] : quantizeWrappers(*model)) {
    EXPECT_NE(w->outputQuantizer(), nullptr) << name;
    EXPECT_FALSE(w->quantizedWeights()[0].perAxis) << name;
  }
  EXPECT_EQ(quantizeWrappers(*model)[0].first, "dense");
  EXPECT_NE(messageOf([&] { quantizeModel(*model); }).find("already quantized (layer 'input_quantizer'"),
            std::string::npos);
}

TEST(QuantizeTest, BatchNormTakesTheOutputQuantizerOfTheLayerItFoldsInto) {
  auto model = convNet();
  EXPECT_EQ(quantizeModel(*model), 3);
  EXPECT_EQ(namesOf(*model),
            (std::vector<std::string>{"input_quantizer", "conv2d", "batch_normalization", "batch_normalization_quantizer",
                                      "re_lu", "conv2d_1", "batch_normalization_1", "batch_normalization_1_quantizer",
                                      "flatten", "dense"}));
  const auto wrappers = quantizeWrappers(*model);
  EXPECT_EQ(wrappers[0].second->outputQuantizer(), nullptr) << "conv2d feeds a BatchNorm: quantized after it";
  EXPECT_NE(wrappers[1].second->outputQuantizer(), nullptr) << "conv2d_1 has a fused ReLU: no folding";
  EXPECT_TRUE(wrappers[0].second->quantizedWeights()[0].perAxis);
  EXPECT_EQ(wrappers[1].second->quantizedWeights()[0].min->shape(), Shape{6});
  EXPECT_FALSE(wrappers[2].second->quantizedWeights()[0].perAxis);
}

TEST(QuantizeTest, PerLayerOptionsSkipsAndUnknownNames) {
  auto model = friedmanClassifier();
  QuantizeScheme scheme;
  scheme.layers["dense_1"] = {.weightBits = 4, .activationBits = 6, .perAxis = true, .symmetricWeights = false};
  scheme.skip = {"dense_2"};
  scheme.quantizeInput = false;
  EXPECT_EQ(quantizeModel(*model, scheme), 2);
  EXPECT_EQ(model->at(0).typeName(), "QuantizeWrapper");
  EXPECT_EQ(model->at(2).typeName(), "Dense");
  const QuantizeWrapper& w = static_cast<QuantizeWrapper&>(model->at(1));
  EXPECT_EQ(w.options().weightBits, 4);
  EXPECT_EQ(static_cast<QuantizeWrapper&>(model->at(1)).outputQuantizer()->options().bits, 6);
  EXPECT_EQ(w.quantizedWeights()[0].min->shape(), Shape{16});
  EXPECT_EQ(static_cast<QuantizeWrapper&>(model->at(0)).options().weightBits, 8);

  auto other = friedmanClassifier();
  QuantizeScheme typo;
  typo.skip = {"dense_9"};
  EXPECT_NE(messageOf([&] { quantizeModel(*other, typo); })
                .find("quantizeModel: no layer named 'dense_9'; the model has: dense, dense_1, dense_2"),
            std::string::npos);
  QuantizeScheme badBits;
  badBits.layers["dense"] = {.activationBits = 9};
  EXPECT_NE(messageOf([&] { quantizeModel(*other, badBits); }).find("got 9"), std::string::npos);
  EXPECT_EQ(other->at(0).typeName(), "Dense") << "nothing is wrapped when the scheme is invalid";
  QuantizeScheme all;
  all.skip = {"dense", "dense_1", "dense_2"};
  EXPECT_NE(messageOf([&] { quantizeModel(*other, all); }).find("no layer to quantize"), std::string::npos);
}

TEST(QuantizeTest, QuantizationAwareTrainingLearnsAndStripGivesTheSamePredictions) {
  setNumThreads(1);
  const auto train = friedmanClasses(512, 4), test = friedmanClasses(256, 5);
  auto model = friedmanClassifier();
  quantizeModel(*model);
  Adam adam(model->parameters(), {.lr = 0.01f});
  const History h = fit(*model, adam, Objective::classification(), train, {.epochs = 10, .verbose = 0});
  EXPECT_LT(h["loss"].back(), 0.6 * h["loss"].front()) << "first " << h["loss"].front() << " last " << h["loss"].back();
  EXPECT_GT(evaluate(*model, Objective::classification(), test)["accuracy"], 0.65);  // chance: 1/3
  const auto* input = static_cast<ActivationQuantizer*>(&model->at(0));
  EXPECT_EQ(input->steps(), 10 * 16);
  EXPECT_GT(input->max(), 0.9f) << "features are in [0, 1]; the range moved from [-6, 6] towards them";
  EXPECT_LT(input->max(), 6.0f);

  const Tensor before = predict(*model, test);
  std::unique_ptr<Sequential> stripped = stripQuantization(*model);
  EXPECT_EQ(quantizeWrappers(*stripped).size(), 0u);
  EXPECT_EQ(namesOf(*stripped), (std::vector<std::string>{"input_quantizer", "dense", "dense_quantizer", "dense_1",
                                                          "dense_1_quantizer", "dense_2", "dense_2_quantizer"}));
  EXPECT_TRUE(allClose(predict(*stripped, test), before, 0, 0));
  for (size_t i : {1, 3, 5}) {
    const Tensor& k = static_cast<Dense&>(stripped->at(i)).weight().leaf().value();
    EXPECT_TRUE(static_cast<Dense&>(stripped->at(i)).weight().transforms().empty());
    EXPECT_LE(std::set<float>(k.begin(), k.end()).size(), 255u) << "layer " << i << " holds int8 levels";
  }
  EXPECT_EQ(quantizeWrappers(*model).size(), 3u) << "the original stays wrapped";
  EXPECT_EQ(stripQuantizationInPlace(*model), 3);
  EXPECT_TRUE(allClose(predict(*model, test), before, 0, 0));
}

TEST(QuantizeTest, ConvNetWithBatchNormStripsToTheSamePredictions) {
  setNumThreads(1);
  const auto data = blobs(96, 6);
  auto model = convNet();
  quantizeModel(*model);
  Adam adam(model->parameters(), {.lr = 0.01f});
  fit(*model, adam, Objective::classification(), data, {.epochs = 2, .verbose = 0});
  const Tensor before = predict(*model, data);
  std::unique_ptr<Sequential> stripped = stripQuantization(*model);
  EXPECT_TRUE(allClose(predict(*stripped, data), before, 0, 0));
  EXPECT_EQ(stripped->at(1).typeName(), "Conv2D");
  EXPECT_EQ(stripped->at(2).typeName(), "BatchNorm") << "conv2d had no output quantizer to leave behind";
  // Each output channel of the first kernel lies on its own symmetric grid.
  auto& conv = static_cast<Conv2D&>(stripped->at(1));
  const Tensor& k = conv.weight().leaf().value();
  const Tensor& m = *quantizeWrappers(*model)[0].second->quantizedWeights()[0].max;
  for (int64_t c = 0; c < 4; ++c)
    for (int64_t i = 0; i < 9; ++i) {
      const float level = k[c * 9 + i] / (m[c] / 127.0f);
      EXPECT_NEAR(level, std::round(level), 1e-3f) << "channel " << c;
    }
}

TEST(QuantizeTest, FoldedBatchNormTrainsSavesAndStripsToAConvolution) {
  setNumThreads(1);
  const auto data = blobs(96, 10);
  auto model = convNet();
  QuantizeScheme scheme;
  scheme.foldBatchNorm = true;
  EXPECT_EQ(quantizeModel(*model, scheme), 3);
  EXPECT_EQ(namesOf(*model), (std::vector<std::string>{"input_quantizer", "conv2d", "re_lu", "conv2d_1",
                                                      "batch_normalization_1", "batch_normalization_1_quantizer",
                                                      "flatten", "dense"}))
      << "conv2d_1 has a fused ReLU: its BatchNorm stays";
  auto& folded = *quantizeWrappers(*model)[0].second;
  ASSERT_NE(folded.foldedBatchNorm(), nullptr);
  EXPECT_NE(folded.outputQuantizer(), nullptr);
  EXPECT_EQ(quantizeWrappers(*model)[1].second->foldedBatchNorm(), nullptr);

  Adam adam(model->parameters(), {.lr = 0.01f});
  const History h = fit(*model, adam, Objective::classification(), data, {.epochs = 4, .verbose = 0});
  EXPECT_LT(h["loss"].back(), h["loss"].front());
  EXPECT_NE(folded.foldedBatchNorm()->runningVar()[0], 1.0f) << "running statistics moved";
  const Tensor before = predict(*model, data);

  const fs::path path = fs::temp_directory_path() / "shrink-folded.shrink";
  saveModel(*model, path.string());
  LoadedModel loaded = loadModel(path.string());
  fs::remove(path);
  EXPECT_EQ(architectureOf(*loaded.model), architectureOf(*model));
  EXPECT_TRUE(allClose(predict(*loaded.model, data), before, 0, 0));

  std::unique_ptr<Sequential> stripped = stripQuantization(*model);
  EXPECT_EQ(namesOf(*stripped), (std::vector<std::string>{"input_quantizer", "conv2d", "conv2d_quantizer", "re_lu",
                                                         "conv2d_1", "conv2d_1_quantizer", "batch_normalization_1",
                                                         "batch_normalization_1_quantizer", "flatten", "dense",
                                                         "dense_quantizer"}));
  EXPECT_NE(static_cast<Conv2D&>(stripped->at(1)).bias(), nullptr);
  EXPECT_TRUE(allClose(predict(*stripped, data), before, 0, 0));
}

TEST(QuantizeTest, SavedQuantizedModelLoadsWithItsRangesAndPredictsTheSame) {
  const auto data = blobs(32, 7);
  auto model = convNet();
  QuantizeScheme scheme;
  scheme.defaults.outputTracking = RangeTracking::FirstBatchMovingAverage;
  scheme.defaults.rounding = RoundingMode::HalfEven;
  QuantizeOptions dense = scheme.defaults;
  dense.weightBits = 5;
  dense.perAxis = true;
  scheme.layers["dense"] = dense;
  quantizeModel(*model, scheme);
  {
    NoGradGuard noGrad;
    model->forward(Variable(data.inputs()));  // training mode: ranges move
  }
  model->eval();
  const fs::path path = fs::temp_directory_path() / "shrink-quantized.shrink";
  saveModel(*model, path.string());
  LoadedModel loaded = loadModel(path.string());
  fs::remove(path);
  EXPECT_EQ(architectureOf(*loaded.model), architectureOf(*model));
  expectSameState(*loaded.model, *model);
  loaded.model->eval();
  EXPECT_TRUE(allClose(predict(*loaded.model, data), predict(*model, data), 0, 0));
  const auto& wrapper = *quantizeWrappers(*loaded.model)[2].second;
  EXPECT_EQ(wrapper.options().weightBits, 5);
  EXPECT_EQ(wrapper.options().rounding, RoundingMode::HalfEven);
  EXPECT_EQ(wrapper.quantizedWeights()[0].min->shape(), Shape{3});
  EXPECT_EQ(static_cast<ActivationQuantizer&>(static_cast<Sequential&>(*loaded.model).at(0)).steps(), 1);
}

TEST(QuantizeTest, SaveInTheMiddleOfTrainingLoadAndContinueEqualsAnUninterruptedRun) {
  setNumThreads(1);
  const auto data = friedmanClasses(256, 8);
  auto model = friedmanClassifier();
  quantizeModel(*model);
  Adam adam(model->parameters(), {.lr = 0.01f});
  fit(*model, adam, Objective::classification(), data, {.epochs = 2, .verbose = 0});

  const fs::path path = fs::temp_directory_path() / "shrink-qat-resume.shrink";
  saveModel(*model, path.string(), {.optimizer = &adam});
  LoadedModel loaded = loadModel(path.string());
  fs::remove(path);
  Adam resumed(loaded.model->parameters(), {.lr = 0.01f});
  loadOptimizerState(resumed, loaded.archive, path.string());
  expectSameState(*loaded.model, *model);

  const FitOptions more{.epochs = 3, .verbose = 0};
  const History a = fit(*model, adam, Objective::classification(), data, more);
  const History b = fit(*loaded.model, resumed, Objective::classification(), data, more);
  EXPECT_EQ(a["loss"], b["loss"]);
  EXPECT_EQ(a["accuracy"], b["accuracy"]);
  expectSameState(*loaded.model, *model);  // weights, weight ranges, activation ranges and steps
  EXPECT_EQ(static_cast<ActivationQuantizer&>(static_cast<Sequential&>(*loaded.model).at(0)).steps(), 5 * 8);
}

TEST(QuantizeTest, QuantizingAPrunedModelKeepsItsZeros) {
  setNumThreads(1);
  const auto data = friedmanClasses(256, 9);
  auto model = friedmanClassifier();
  pruneLowMagnitude(*model, {.schedule = std::make_shared<ConstantSparsity>(
                                 ConstantSparsity::Options{.sparsity = 0.5, .beginStep = 0, .frequency = 4})});
  quantizeModel(*model);
  EXPECT_EQ(model->at(1).typeName(), "QuantizeWrapper");
  EXPECT_EQ(static_cast<QuantizeWrapper&>(model->at(1)).layer().typeName(), "PruneLowMagnitude");
  Adam adam(model->parameters(), {.lr = 0.01f});
  UpdatePruningStep step;
  fit(*model, adam, Objective::classification(), data, {.epochs = 3, .verbose = 0}, {&step});
  const Tensor before = predict(*model, data);

  std::unique_ptr<Sequential> plain = stripQuantization(*model);
  EXPECT_EQ(stripPruningInPlace(*plain), 3);
  EXPECT_TRUE(allClose(predict(*plain, data), before, 0, 0));
  for (size_t i : {1, 3, 5}) {
    const Tensor& k = static_cast<Dense&>(plain->at(i)).weight().leaf().value();
    int64_t zeros = 0;
    for (float v : k) zeros += v == 0.0f ? 1 : 0;
    EXPECT_GE(zeros, k.numel() / 2) << "layer " << i;
  }
}

}  // namespace
}  // namespace shrink
