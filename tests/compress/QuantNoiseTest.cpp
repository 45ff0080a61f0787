// Quant-Noise (scalar and block): identity at p = 0, full fake-quant at p = 1, the stored weights
// untouched by the noise, whole blocks dropped, fairseq's size checks, save and resume.
#include <cstring>
#include <filesystem>
#include <memory>
#include <set>
#include <vector>

#include <gtest/gtest.h>

#include "compress/compress.h"
#include "core/Functions.h"
#include "core/Threads.h"
#include "datasets/datasets.h"
#include "layers/layers.h"
#include "optim/optim.h"
#include "tests/TestUtils.h"

namespace shrink {
namespace {

namespace fs = std::filesystem;
using test::messageOf;

std::unique_ptr<Sequential> denseModel(QuantNoiseOptions options) {
  auto m = std::make_unique<Sequential>();
  m->add<Dense>({.in = 16, .out = 8, .seed = 1});
  quantNoiseModel(*m, options);
  return m;
}

Dense& innerDense(Sequential& m) { return static_cast<Dense&>(static_cast<QuantNoiseWrapper&>(m.at(0)).layer()); }

/// The layer's output with its kernel replaced by `kernel`, computed without the wrapper.
Tensor denseWith(Dense& layer, const Tensor& kernel, const Tensor& x) {
  NoGradGuard noGrad;
  return linear(Variable(x), Variable(kernel), layer.bias()->leaf()).value();
}

Tensor fullyQuantized(const Tensor& w, int bits) {
  std::vector<float> min(1), max(1);
  lastValueRange(w, true, min, max);
  NoGradGuard noGrad;
  return fakeQuant(Variable(w), min, max, {.bits = bits, .narrowRange = true}).value();
}

TEST(QuantNoiseTest, ScalarPZeroIsTheIdentityAndPOneIsFullFakeQuant) {
  const Tensor x = test::uniform(Shape{5, 16}, 3);
  for (QuantNoiseKind kind : {QuantNoiseKind::Scalar, QuantNoiseKind::Block}) {
    auto m = denseModel({.kind = kind, .p = 0.0, .blockSize = 4});
    const Tensor w = innerDense(*m).weight().leaf().value();
    EXPECT_TRUE(test::allClose((*m)(Variable(x)).value(), denseWith(innerDense(*m), w, x), 0, 0))
        << quantNoiseKindName(kind);
  }
  auto m = denseModel({.kind = QuantNoiseKind::Scalar, .p = 1.0, .bits = 4});
  const Tensor w = innerDense(*m).weight().leaf().value();
  const Tensor expected = denseWith(innerDense(*m), fullyQuantized(w, 4), x);
  EXPECT_TRUE(test::allClose((*m)(Variable(x)).value(), expected, 0, 0));
  m->eval();
  EXPECT_TRUE(test::allClose((*m)(Variable(x)).value(), expected, 0, 0)) << "evaluation is fully quantized";
}

TEST(QuantNoiseTest, ScalarNoiseQuantizesAboutPOfTheWeightsAndPassesTheRest) {
  Generator gen(1);
  const Variable w(gen.uniformTensor(Shape{64, 64}, -1, 1), true);
  std::vector<float> min(1), max(1);
  lastValueRange(w.value(), true, min, max);
  Tensor keep(w.shape());
  for (float& k : keep) k = gen.uniform01() < 0.3 ? 1.0f : 0.0f;
  const Variable y = scalarQuantNoise(w, keep, min, max, {.bits = 3, .narrowRange = true});
  const Tensor q = fullyQuantized(w.value(), 3);
  int64_t quantized = 0;
  for (int64_t i = 0; i < w.numel(); ++i) {
    EXPECT_EQ(y.value()[i], keep[i] == 1.0f ? q[i] : w.value()[i]) << i;
    quantized += keep[i] == 1.0f;
  }
  EXPECT_NEAR(double(quantized) / double(w.numel()), 0.3, 0.03);
  // Straight through: the range is the weight's own, so every entry gets the gradient unchanged.
  sum(y).backward();
  for (float g : w.grad()) ASSERT_EQ(g, 1.0f);
}

TEST(QuantNoiseTest, StoredWeightsAreByteIdenticalAfterANoisyForwardAndBackward) {
  for (QuantNoiseKind kind : {QuantNoiseKind::Scalar, QuantNoiseKind::Block}) {
    auto m = denseModel({.kind = kind, .p = 0.5, .bits = 2, .blockSize = 4});
    const Tensor before = innerDense(*m).weight().leaf().value();
    const Variable y = (*m)(Variable(test::uniform(Shape{5, 16}, 3)));
    sum(y).backward();
    const Tensor& after = innerDense(*m).weight().leaf().value();
    EXPECT_EQ(std::memcmp(before.data(), after.data(), sizeof(float) * before.numel()), 0) << quantNoiseKindName(kind);
    EXPECT_EQ(static_cast<QuantNoiseWrapper&>(m->at(0)).noiseStep(), 1);
  }
}

TEST(QuantNoiseTest, BlockNoiseDropsWholeBlocksAndScalesTheRest) {
  Generator gen(9);
  const Tensor dense = blockNoiseMask(Shape{32, 16}, 4, 0.25, gen);
  int64_t dropped = 0;
  for (int64_t b = 0; b < dense.numel(); b += 4) {
    for (int64_t i = b; i < b + 4; ++i) ASSERT_EQ(dense[i], dense[b]) << "block at " << b << " split";
    dropped += dense[b] == 0.0f;
  }
  EXPECT_NEAR(double(dropped) / double(dense.numel() / 4), 0.25, 0.06);
  const Tensor conv = blockNoiseMask(Shape{4, 3, 3, 3}, 3, 0.5, gen);  // a block is a whole 3x3 kernel
  for (int64_t b = 0; b < conv.numel(); b += 9)
    for (int64_t i = b; i < b + 9; ++i) ASSERT_EQ(conv[i], conv[b]) << "kernel at " << b << " split";

  // Through the wrapper: the kernel actually used is w * mask / (1 - p), and the gradient follows.
  auto m = denseModel({.kind = QuantNoiseKind::Block, .p = 0.5, .blockSize = 8});
  Parameter& w = innerDense(*m).weight();
  const Variable x(test::uniform(Shape{1, 16}, 5));
  sum((*m)(x)).backward();
  const Tensor& g = w.leaf().grad();  // d sum(y) / dW[o][i] = x[i] * mask[o][i] * 2
  int64_t zeroBlocks = 0;
  for (int64_t o = 0; o < 8; ++o)
    for (int64_t b = 0; b < 16; b += 8) {
      const bool kept = g[o * 16 + b] != 0.0f;
      zeroBlocks += !kept;
      for (int64_t i = b; i < b + 8; ++i) EXPECT_FLOAT_EQ(g[o * 16 + i], kept ? 2 * x.value()[i] : 0.0f);
    }
  EXPECT_GT(zeroBlocks, 0);
  EXPECT_LT(zeroBlocks, 16);
  m->eval();
  EXPECT_TRUE(test::allClose((*m)(x).value(), denseWith(innerDense(*m), w.leaf().value(), x.value()), 0, 0))
      << "no block noise in evaluation";
}

TEST(QuantNoiseTest, SizeChecksAndBadOptionsNameTheProblem) {
  auto wrap = [](std::unique_ptr<Module> layer, QuantNoiseOptions o) { QuantNoiseWrapper w(std::move(layer), o); };
  EXPECT_EQ(messageOf([&] {
              wrap(std::make_unique<Dense>(DenseOptions{.in = 10, .out = 4}), {.kind = QuantNoiseKind::Block, .blockSize = 4});
            }),
            "QuantNoise: 'weight' of Dense has 10 inputs, not a multiple of the block size 4 (in_features % block_size "
            "must be 0)");
  EXPECT_EQ(messageOf([&] {
              wrap(std::make_unique<Conv2D>(Conv2DOptions{.in = 2, .out = 4, .kernel = {3, 3}}),
                   {.kind = QuantNoiseKind::Block, .blockSize = 4});
            }),
            "QuantNoise: the 3x3 kernels of 'weight' of Conv2D are not a multiple of the block size 4 (kh * kw % "
            "block_size must be 0)");
  EXPECT_EQ(messageOf([&] {
              wrap(std::make_unique<Conv2D>(Conv2DOptions{.in = 6, .out = 4, .kernel = {1, 1}}),
                   {.kind = QuantNoiseKind::Block, .blockSize = 4});
            }),
            "QuantNoise: 'weight' of Conv2D has 6 inputs, not a multiple of the block size 4 (in_features % "
            "block_size must be 0)");
  EXPECT_EQ(messageOf([&] { wrap(std::make_unique<Dense>(DenseOptions{.in = 8, .out = 4}), {.p = 1.5}); }),
            "QuantNoise: scalar noise p must be in [0, 1], got 1.5");
  EXPECT_EQ(messageOf([&] {
              wrap(std::make_unique<Dense>(DenseOptions{.in = 8, .out = 4}), {.kind = QuantNoiseKind::Block, .p = 1.0});
            }),
            "QuantNoise: block noise p must be in [0, 1), got 1");
  EXPECT_NE(messageOf([&] { wrap(std::make_unique<Dense>(DenseOptions{.in = 8, .out = 4}), {.bits = 9}); }).find("got 9"),
            std::string::npos);
  EXPECT_EQ(messageOf([&] { wrap(std::make_unique<Dropout>(DropoutOptions{.rate = 0.5}), {}); }),
            "QuantNoiseWrapper: layer 'Dropout' has no weights to quantize");
  EXPECT_EQ(messageOf([] { parseQuantNoiseKind("pq"); }), "quant-noise kind must be 'scalar' or 'block', got 'pq'");
}

TEST(QuantNoiseTest, TrainsSavesAndResumesWithTheSameNoise) {
  setNumThreads(1);
  auto data = data::makeFriedman1({.nSamples = 256, .seed = 5});
  auto build = [] {
    auto m = std::make_unique<Sequential>();
    m->add<Dense>({.in = 10, .out = 32, .activation = Activation::ReLU, .seed = 1});
    m->add<Dense>({.in = 32, .out = 1, .seed = 2});
    quantNoiseModel(*m, {.p = 0.5, .bits = 4, .seed = 7});
    return m;
  };
  auto a = build();
  Adam adamA(a->trainableParameters(), {.lr = 0.01f});
  const FitOptions two{.epochs = 2, .batchSize = 32, .verbose = 0};
  const History first = fit(*a, adamA, Objective::regression(), data, two);
  const fs::path path = fs::temp_directory_path() / "shrink_quant_noise_test.shrink";
  saveModel(*a, path.string(), {.optimizer = &adamA});
  const History second = fit(*a, adamA, Objective::regression(), data, {.epochs = 2, .batchSize = 32, .seed = 43, .verbose = 0});
  EXPECT_LT(second["loss"].back(), first["loss"].front()) << "training with noise reduces the loss";

  LoadedModel loaded = loadModel(path.string());
  auto& b = static_cast<Sequential&>(*loaded.model);
  EXPECT_EQ(static_cast<QuantNoiseWrapper&>(b.at(0)).noiseStep(), 16);
  Adam adamB(b.trainableParameters(), {.lr = 0.01f});
  loadOptimizerState(adamB, loaded.archive, path.string());
  const History resumed = fit(b, adamB, Objective::regression(), data, {.epochs = 2, .batchSize = 32, .seed = 43, .verbose = 0});
  EXPECT_EQ(resumed["loss"], second["loss"]) << "the resumed run draws the same noise";

  // Strip: plain Dense layers whose weights are on the 4-bit grid; predictions equal the eval ones.
  a->eval();
  const Tensor x = test::uniform(Shape{7, 10}, 11);
  const Tensor wrapped = (*a)(Variable(x)).value();
  EXPECT_EQ(stripQuantNoiseInPlace(*a), 2);
  EXPECT_EQ(a->at(0).typeName(), "Dense");
  EXPECT_TRUE(test::allClose((*a)(Variable(x)).value(), wrapped, 0, 0));
  std::set<float> levels(static_cast<Dense&>(a->at(0)).weight().leaf().value().begin(),
                         static_cast<Dense&>(a->at(0)).weight().leaf().value().end());
  EXPECT_LE(levels.size(), 15u);  // narrow 4-bit grid: -7..7
}

}  // namespace
}  // namespace shrink
