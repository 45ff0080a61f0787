// QuantizeWrapper and ActivationQuantizer on single layers: weight ranges, when they are tracked,
// the straight-through gradient, composition with a pruning mask, errors.
#include <algorithm>
#include <cmath>
#include <memory>
#include <set>

#include <gtest/gtest.h>

#include "compress/compress.h"
#include "core/Functions.h"
#include "layers/layers.h"
#include "optim/ModelFile.h"
#include "tests/TestUtils.h"

namespace shrink {
namespace {

using test::allClose;
using test::messageOf;

std::unique_ptr<Dense> dense(Activation activation = Activation::None) {
  return std::make_unique<Dense>(DenseOptions{.in = 6, .out = 4, .activation = activation, .seed = 3});
}

float largestMagnitude(const Tensor& t) {
  float m = 0;
  for (float v : t) m = std::max(m, std::fabs(v));
  return m;
}

std::vector<std::string> bufferNames(const Module& m) {
  std::vector<std::string> out;
  for (const auto& [name, b] : m.namedBuffers()) out.push_back(name);
  return out;
}

TEST(QuantizeWrapperTest, DenseKernelGoesThroughFakeQuantOnItsSymmetricRange) {
  auto inner = dense();
  Dense& d = *inner;
  const Tensor w = d.weight().leaf().value();
  QuantizeWrapper q(std::move(inner), {});
  EXPECT_EQ(bufferNames(q), (std::vector<std::string>{"weight_min", "weight_max", "output_quantizer.min",
                                                      "output_quantizer.max", "output_quantizer.steps"}));
  const QuantizedWeight& qw = q.quantizedWeights()[0];
  EXPECT_FALSE(qw.perAxis);
  const float m = largestMagnitude(w);
  EXPECT_EQ((*qw.min)[0], -m) << "set from the weight when wrapping";
  EXPECT_EQ((*qw.max)[0], m);
  EXPECT_EQ(d.weight().transforms().size(), 1u);
  EXPECT_EQ(d.weight().transforms()[0]->stage(), TransformStage::Quantize);

  NoGradGuard noGrad;
  const Tensor value = d.weight().value().value();
  const float lo = -m;
  const Tensor expected = fakeQuant(Variable(w), {&lo, 1}, {&m, 1}, {.narrowRange = true}).value();
  EXPECT_TRUE(allClose(value, expected, 0, 0));
  // On the int8 grid [-127, 127] * m / 127: the largest weight is exactly +-m.
  for (float v : value) EXPECT_NEAR(v / (m / 127.0f), std::round(v / (m / 127.0f)), 1e-3f);
  EXPECT_EQ(largestMagnitude(value), m);
}

TEST(QuantizeWrapperTest, ConvolutionKernelsGetOneRangePerOutputChannelByDefault) {
  auto conv = [] { return std::make_unique<Conv2D>(Conv2DOptions{.in = 2, .out = 3, .kernel = {3, 3}, .seed = 4}); };
  QuantizeWrapper perChannel(conv(), {});
  const QuantizedWeight& w = perChannel.quantizedWeights()[0];
  EXPECT_TRUE(w.perAxis);
  ASSERT_EQ(w.min->shape(), Shape{3});
  const Tensor& leaf = w.parameter->leaf().value();
  for (int64_t c = 0; c < 3; ++c) {
    float m = 0;
    for (int64_t i = 0; i < 18; ++i) m = std::max(m, std::fabs(leaf[c * 18 + i]));
    EXPECT_EQ((*w.max)[c], m) << "channel " << c;
    EXPECT_EQ((*w.min)[c], -m) << "channel " << c;
  }
  QuantizeWrapper perTensor(conv(), {.perAxis = false});
  EXPECT_EQ(perTensor.quantizedWeights()[0].min->shape(), Shape{1});
  QuantizeWrapper denseAxis(dense(), {.perAxis = true, .symmetricWeights = false});
  EXPECT_EQ(denseAxis.quantizedWeights()[0].min->shape(), Shape{4});
  EXPECT_EQ(denseAxis.config()["per_axis"], true);
  EXPECT_FALSE(perChannel.config().contains("per_axis")) << "the default stays implicit";
}

TEST(QuantizeWrapperTest, EvalForwardIsTheLayerOnQuantizedWeightsThenTheOutputQuantizer) {
  auto inner = dense(Activation::ReLU);
  Dense& d = *inner;
  QuantizeWrapper q(std::move(inner), {.activationBits = 4});
  q.eval();
  const Variable x(test::uniform(Shape{5, 6}, 8, -2.0f, 2.0f));
  NoGradGuard noGrad;
  const Variable layerOut = relu(linear(x, d.weight().value(), d.bias()->value()));
  const float lo = -kInitialActivationRange, hi = kInitialActivationRange;
  const Tensor expected = fakeQuant(layerOut, {&lo, 1}, {&hi, 1}, {.bits = 4}).value();
  EXPECT_TRUE(allClose(q.forward(x).value(), expected, 0, 0));
  EXPECT_EQ(q.outputQuantizer()->steps(), 0) << "eval does not track";
}

TEST(QuantizeWrapperTest, WeightRangesFollowTheWeightsOnlyInTheWrappersTrainingForward) {
  auto inner = dense();
  Dense& d = *inner;
  QuantizeWrapper q(std::move(inner), {});
  const float m = largestMagnitude(d.weight().leaf().value());
  {
    NoGradGuard noGrad;
    d.weight().leaf().mutableValue() *= 2.0f;  // as an optimizer step would move it
  }
  const Variable x(test::uniform(Shape{3, 6}, 9));
  q.eval();
  q.forward(x);
  EXPECT_EQ(q.quantizedWeights()[0].max->item(), m);
  q.train();
  d.weight().value();  // read outside the wrapper's forward (summaries, strip): ranges stay
  EXPECT_EQ(q.quantizedWeights()[0].max->item(), m);
  q.forward(x);
  EXPECT_EQ(q.quantizedWeights()[0].max->item(), 2.0f * m);
  EXPECT_EQ(q.quantizedWeights()[0].min->item(), -2.0f * m);
  EXPECT_EQ(q.outputQuantizer()->steps(), 1);
}

TEST(QuantizeWrapperTest, GradientReachesTheLeafStraightThroughAndIsClippedOutsideTheRange) {
  auto inner = dense();
  Dense& d = *inner;
  const Tensor w = d.weight().leaf().value();
  QuantizeWrapper q(std::move(inner), {.quantizeOutput = false});
  const Variable x(test::uniform(Shape{5, 6}, 10));
  const Tensor r = test::uniform(Shape{5, 4}, 11);
  // y = x W^T + b, so dL/dW = R^T x whatever W is: the float layer's gradient.
  Tensor expected(Shape{4, 6});
  expected.matrix() = r.matrix().transpose() * x.value().matrix();

  q.train();
  sum(mul(q.forward(x), Variable(r))).backward();
  EXPECT_TRUE(allClose(d.weight().leaf().grad(), expected, 1e-5f, 1e-5f)) << "every weight is inside its own range";

  // Weights doubled after the last range update: in eval those beyond the stored range get no gradient.
  q.zeroGrad();
  const float m = largestMagnitude(w);
  {
    NoGradGuard noGrad;
    d.weight().leaf().mutableValue() *= 2.0f;
  }
  q.eval();
  sum(mul(q.forward(x), Variable(r))).backward();
  const Tensor& g = d.weight().leaf().grad();
  int clipped = 0;
  for (int64_t i = 0; i < g.numel(); ++i) {
    const bool inside = std::fabs(2.0f * w[i]) <= m;
    EXPECT_EQ(g[i], inside ? expected[i] : 0.0f) << "element " << i;
    clipped += inside ? 0 : 1;
  }
  EXPECT_GT(clipped, 0);
}

TEST(QuantizeWrapperTest, QuantizesThePrunedWeightAfterItsMask) {
  auto inner = std::make_unique<PruneLowMagnitude>(
      dense(), PruneOptions{.schedule = std::make_shared<ConstantSparsity>(ConstantSparsity::Options{.sparsity = 0.5})});
  PruneLowMagnitude& pruned = *inner;
  Parameter& weight = *pruned.prunedWeights()[0].parameter;
  QuantizeWrapper q(std::move(inner), {});
  pruned.setStep(1);
  // Mask out the largest weight: the range must come from what survives the mask.
  const Tensor& w = weight.leaf().value();
  const int64_t largest = std::max_element(w.begin(), w.end(), [](float a, float b) { return std::fabs(a) < std::fabs(b); }) - w.begin();
  Tensor mask = Tensor::ones(w.shape());
  mask[largest] = 0.0f;
  pruned.setMask(0, mask, 0.0f);
  q.train();
  q.forward(Variable(test::uniform(Shape{2, 6}, 12)));

  Tensor masked = w;
  masked.array() *= mask.array();
  EXPECT_EQ(q.quantizedWeights()[0].max->item(), largestMagnitude(masked));
  EXPECT_EQ(weight.transforms()[0]->stage(), TransformStage::Prune);
  EXPECT_EQ(weight.transforms()[1]->stage(), TransformStage::Quantize);
  NoGradGuard noGrad;
  const Tensor value = weight.value().value();
  for (int64_t i = 0; i < value.numel(); ++i) {
    if (mask[i] == 0.0f) {
      EXPECT_EQ(value[i], 0.0f) << "a pruned weight quantizes to exactly 0";
    }
  }
}

TEST(QuantizeWrapperTest, ReleaseBakesTheQuantizedWeightsAndGivesUpTheParts) {
  auto inner = dense();
  Dense& d = *inner;
  auto q = std::make_unique<QuantizeWrapper>(std::move(inner), QuantizeOptions{.weightBits = 3});
  Tensor quantized;
  {
    NoGradGuard noGrad;
    quantized = d.weight().value().value();
  }
  QuantizeWrapper::Released parts = q->release();
  q.reset();
  ASSERT_EQ(parts.layer.get(), &d);
  ASSERT_NE(parts.outputQuantizer, nullptr);
  EXPECT_EQ(parts.outputQuantizer->typeName(), "ActivationQuantizer");
  EXPECT_TRUE(d.weight().transforms().empty());
  EXPECT_TRUE(allClose(d.weight().leaf().value(), quantized, 0, 0));
  std::set<float> levels(quantized.begin(), quantized.end());
  EXPECT_LE(levels.size(), 7u) << "3-bit narrow grid: 7 levels";
}

TEST(QuantizeWrapperTest, ActivationQuantizerTracksInTrainingAndQuantizesOnARangeWithZero) {
  ActivationQuantizer a({.tracking = RangeTracking::FirstBatchMovingAverage});
  const Variable x(Tensor::fromVector({0.5f, 1.0f, 2.0f}));
  const Tensor y = a.forward(x).value();
  EXPECT_EQ(a.min(), 0.5f);
  EXPECT_EQ(a.max(), 2.0f);
  EXPECT_EQ(a.steps(), 1);
  // Quantized on [0, 2]: scale 2/255, 0.5 -> 64 steps (63.75 rounded), 2 -> 255 steps.
  EXPECT_NEAR(y[0], 64.0f * (2.0f / 255.0f), 1e-6f);
  EXPECT_NEAR(y[2], 2.0f, 1e-6f);
  a.eval();
  a.forward(Variable(Tensor::fromVector({-9.0f, 9.0f})));
  EXPECT_EQ(a.steps(), 1);
  EXPECT_EQ(a.max(), 2.0f);
}

/// A Conv2D and a BatchNorm of its 3 filters with parameters and running statistics away from their
/// initial values.
struct ConvBatchNorm {
  std::unique_ptr<Conv2D> conv;
  std::unique_ptr<BatchNorm> batchNorm;
};

ConvBatchNorm convBatchNorm(bool bias) {
  ConvBatchNorm p{std::make_unique<Conv2D>(Conv2DOptions{.in = 2, .out = 3, .kernel = {3, 3}, .useBias = bias, .seed = 5}),
                  std::make_unique<BatchNorm>(BatchNorm::Options{.features = 3})};
  if (bias) p.conv->bias()->leaf().mutableValue() = Tensor::fromVector({0.3f, -0.2f, 0.1f});
  p.batchNorm->gamma().leaf().mutableValue() = Tensor::fromVector({1.5f, 0.7f, -0.9f});
  p.batchNorm->beta().leaf().mutableValue() = Tensor::fromVector({0.2f, -0.4f, 0.05f});
  p.batchNorm->runningMean() = Tensor::fromVector({0.1f, -0.3f, 0.25f});
  p.batchNorm->runningVar() = Tensor::fromVector({0.8f, 1.7f, 0.4f});
  return p;
}

/// w / scale per output channel of a [C, ...] kernel.
Tensor unscaled(const Tensor& w, const Tensor& scale) {
  Tensor out = w;
  const int64_t inner = w.numel() / w.dim(0);
  for (int64_t i = 0; i < w.numel(); ++i) out[i] /= scale[i / inner];
  return out;
}

TEST(QuantizeWrapperTest, FoldedForwardInEvalEqualsConvolutionThenBatchNorm) {
  for (bool bias : {true, false}) {
    auto [conv, batchNorm] = convBatchNorm(bias);
    Conv2D& c = *conv;
    BatchNorm& bn = *batchNorm;
    QuantizeWrapper q(std::move(conv), std::move(batchNorm), {.quantizeOutput = false});
    q.eval();
    const Variable x(test::uniform(Shape{4, 2, 6, 6}, 13, -2.0f, 2.0f));
    NoGradGuard noGrad;
    const Tensor folded = q.forward(x).value();
    // Unfolded: the quantized folded kernel divided back by gamma / sqrt(running_var + eps), the
    // convolution's own bias, then the BatchNorm with its running statistics.
    Tensor scale(Shape{3});
    for (int64_t ch = 0; ch < 3; ++ch)
      scale[ch] = bn.gamma().leaf().value()[ch] / std::sqrt(bn.runningVar()[ch] + bn.options().epsilon);
    const Tensor kernel = unscaled(c.weight().value().value(), scale);
    const Variable z = conv2d(x, Variable(kernel), bias ? c.bias()->value() : Variable(), c.opOptions());
    EXPECT_TRUE(allClose(folded, bn.forward(z).value(), 1e-5f, 0)) << (bias ? "with" : "without") << " bias";
    // The unfolded kernel is the float one up to half a quantization step of the folded kernel.
    const Tensor& w = c.weight().leaf().value();
    const QuantizedWeight& qw = q.quantizedWeights()[0];
    for (int64_t i = 0; i < w.numel(); ++i) {
      const float step = (*qw.max)[i / 18] / 127.0f / std::fabs(scale[i / 18]);
      EXPECT_LE(std::fabs(kernel[i] - w[i]), 0.5f * step * 1.001f) << "element " << i;
    }
  }
}

TEST(QuantizeWrapperTest, FoldedTrainingUsesBatchStatisticsAndMovesTheRunningOnes) {
  auto [conv, batchNorm] = convBatchNorm(true);
  Conv2D& c = *conv;
  BatchNorm& bn = *batchNorm;
  BatchNorm reference({.features = 3});
  restoreState(reference, captureState(bn));
  QuantizeWrapper q(std::move(conv), std::move(batchNorm), {.quantizeOutput = false});
  q.train();
  const Variable x(test::uniform(Shape{4, 2, 6, 6}, 14, -2.0f, 2.0f));
  const Tensor y = q.forward(x).value();

  // By hand: batch statistics of z = conv(x, w) + b (biased variance, in double), the folded
  // kernel w * s quantized per channel on its own symmetric range, the folded bias.
  NoGradGuard noGrad;
  const Variable z = conv2d(x, c.weight().leaf(), c.bias()->leaf(), c.opOptions());
  const Tensor& zv = z.value();
  Tensor mean(Shape{3}), scale(Shape{3}), bias(Shape{3});
  std::vector<float> mins(3), maxs(3);
  const Tensor& gamma = bn.gamma().leaf().value();
  for (int64_t ch = 0; ch < 3; ++ch) {
    double s = 0, s2 = 0;
    for (int64_t n = 0; n < 4; ++n)
      for (int64_t k = 0; k < 16; ++k) s += zv[(n * 3 + ch) * 16 + k];
    const double m = s / 64.0;
    for (int64_t n = 0; n < 4; ++n)
      for (int64_t k = 0; k < 16; ++k) s2 += std::pow(zv[(n * 3 + ch) * 16 + k] - m, 2);
    mean[ch] = static_cast<float>(m);
    scale[ch] = static_cast<float>(gamma[ch] / std::sqrt(s2 / 64.0 + bn.options().epsilon));
    bias[ch] = bn.beta().leaf().value()[ch] + (c.bias()->leaf().value()[ch] - mean[ch]) * scale[ch];
  }
  Tensor foldedKernel = c.weight().leaf().value();
  for (int64_t i = 0; i < foldedKernel.numel(); ++i) foldedKernel[i] *= scale[i / 18];
  lastValueRange(foldedKernel, true, mins, maxs);
  for (int64_t ch = 0; ch < 3; ++ch) EXPECT_NEAR((*q.quantizedWeights()[0].max)[ch], maxs[ch], 1e-5f);
  const Tensor quantized = fakeQuant(Variable(foldedKernel), mins, maxs, {.narrowRange = true}).value();
  const Tensor expected = conv2d(x, Variable(quantized), Variable(bias), c.opOptions()).value();
  EXPECT_TRUE(allClose(y, expected, 1e-4f, 1e-4f));

  reference.forward(z);
  EXPECT_TRUE(allClose(bn.runningMean(), reference.runningMean(), 0, 0));
  EXPECT_TRUE(allClose(bn.runningVar(), reference.runningVar(), 0, 0));
}

TEST(QuantizeWrapperTest, FoldedTrainingGradientsAreThoseOfConvolutionThenBatchNorm) {
  // With the straight-through fake-quant, the folded graph is BatchNorm(conv(x, w) + b) as a
  // function of w, b, gamma and beta: their gradients agree (the input's differs: it sees the
  // quantized kernel).
  auto [conv, batchNorm] = convBatchNorm(true);
  auto plain = convBatchNorm(true);
  Conv2D& c = *conv;
  BatchNorm& bn = *batchNorm;
  QuantizeWrapper q(std::move(conv), std::move(batchNorm), {.quantizeOutput = false});
  q.train();
  plain.batchNorm->train();
  const Variable x(test::uniform(Shape{4, 2, 6, 6}, 15, -2.0f, 2.0f));
  const Tensor r = test::uniform(Shape{4, 3, 4, 4}, 16);
  sum(mul(q.forward(x), Variable(r))).backward();
  sum(mul(plain.batchNorm->forward(plain.conv->forward(x)), Variable(r))).backward();
  EXPECT_TRUE(allClose(c.weight().leaf().grad(), plain.conv->weight().leaf().grad(), 1e-3f, 1e-3f));
  EXPECT_TRUE(allClose(c.bias()->leaf().grad(), plain.conv->bias()->leaf().grad(), 1e-4f, 0));
  EXPECT_TRUE(allClose(bn.gamma().leaf().grad(), plain.batchNorm->gamma().leaf().grad(), 1e-3f, 1e-3f));
  EXPECT_TRUE(allClose(bn.beta().leaf().grad(), plain.batchNorm->beta().leaf().grad(), 1e-4f, 1e-4f));
}

TEST(QuantizeWrapperTest, ReleasingAFoldedWrapperGivesAConvolutionWithTheFoldedBias) {
  for (bool bias : {true, false}) {
    auto [conv, batchNorm] = convBatchNorm(bias);
    auto q = std::make_unique<QuantizeWrapper>(std::move(conv), std::move(batchNorm), QuantizeOptions{});
    q->eval();
    const Variable x(test::uniform(Shape{2, 2, 5, 5}, 17));
    NoGradGuard noGrad;
    const Tensor before = q->forward(x).value();
    EXPECT_TRUE(q->config().contains("batch_norm"));
    QuantizeWrapper::Released parts = q->release();
    q.reset();
    auto& plain = static_cast<Conv2D&>(*parts.layer);
    ASSERT_NE(plain.bias(), nullptr);
    plain.eval();
    parts.outputQuantizer->eval();
    EXPECT_TRUE(allClose(parts.outputQuantizer->forward(plain.forward(x)).value(), before, 0, 0))
        << (bias ? "with" : "without") << " bias";
  }
}

TEST(QuantizeWrapperTest, BadLayersAndOptionsAreClearErrors) {
  EXPECT_NE(messageOf([] { QuantizeWrapper(std::make_unique<ReLU>(), {}); }).find("'ReLU' has no weights to quantize"),
            std::string::npos);
  EXPECT_NE(messageOf([] { QuantizeWrapper(std::make_unique<QuantizeWrapper>(dense(), QuantizeOptions{}), {}); })
                .find("already wrapped for quantization"),
            std::string::npos);
  EXPECT_NE(messageOf([] { QuantizeWrapper(dense(), {.weightBits = 9}); })
                .find("weightBits: quantization bits must be in [2, 8], got 9"),
            std::string::npos);
  EXPECT_NE(messageOf([] { QuantizeWrapper(dense(), {.activationBits = 1}); }).find("activationBits"),
            std::string::npos);
  EXPECT_NE(messageOf([] { ActivationQuantizer({.bits = 12}); }).find("got 12"), std::string::npos);
  EXPECT_NE(messageOf([] {
              QuantizeWrapper(std::make_unique<Conv2D>(Conv2DOptions{.in = 1, .out = 2, .kernel = {3, 3},
                                                                     .activation = Activation::ReLU}),
                              std::make_unique<BatchNorm>(BatchNorm::Options{.features = 2}), {});
            }).find("cannot fold a BatchNorm into a Conv2D with activation 'relu'"),
            std::string::npos);
  EXPECT_NE(messageOf([] {
              QuantizeWrapper(std::make_unique<Conv2D>(Conv2DOptions{.in = 1, .out = 2, .kernel = {3, 3}}),
                              std::make_unique<BatchNorm>(BatchNorm::Options{.features = 3}), {});
            }).find("BatchNorm of 3 features into a Conv2D of 2 filters"),
            std::string::npos);
}

}  // namespace
}  // namespace shrink
