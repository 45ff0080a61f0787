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
}

}  // namespace
}  // namespace shrink
