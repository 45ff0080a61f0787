#include <cmath>

#include <gtest/gtest.h>

#include "LayerTestUtils.h"
#include "TestUtils.h"
#include "core/Functions.h"
#include "layers/Dense.h"

using namespace shrink;
using namespace shrink::test;

namespace {

// x = pattern([2, 4], 0.7, 0.3), weight = pattern([3, 4], 0.45, -0.2), bias = pattern([3], 1.3, 0.5).
// References from PyTorch 2.x: y = F.linear(x, w, b), then F.relu / F.leaky_relu(y, 0.3) / sigmoid /
// tanh / softmax(y, -1), printed with 7 significant digits (script: ref_dense_conv.py, quoted in the
// report of the layers work; the tensors are rebuilt with numpy's sin as in pattern()).
Dense makeDense(Activation act) {
  return Dense({.in = 4, .out = 3, .activation = act, .seed = 1});
}

void setWeights(Dense& d) {
  NoGradGuard g;
  d.weight().leaf().mutableValue() = pattern({3, 4}, 0.45, -0.2);
  d.bias()->leaf().mutableValue() = pattern({3}, 1.3, 0.5);
}

Tensor input() { return pattern({2, 4}, 0.7, 0.3); }

}  // namespace

TEST(DenseTest, ParametersShapesAndNames) {
  Dense d({.in = 5, .out = 7, .seed = 3});
  auto named = d.namedParameters();
  ASSERT_EQ(named.size(), 2u);
  EXPECT_EQ(named[0].first, "weight");
  EXPECT_EQ(named[0].second->shape(), Shape({7, 5}));
  EXPECT_EQ(named[1].first, "bias");
  EXPECT_EQ(named[1].second->shape(), Shape({7}));
  EXPECT_EQ(d.parameterCount(), 7 * 5 + 7);
  for (float b : named[1].second->leaf().value()) EXPECT_EQ(b, 0.0f);
  auto weights = d.compressibleWeights();
  ASSERT_EQ(weights.size(), 1u);
  EXPECT_EQ(weights[0], &d.weight());

  Dense noBias({.in = 5, .out = 7, .useBias = false, .seed = 3});
  EXPECT_EQ(noBias.bias(), nullptr);
  EXPECT_EQ(noBias.parameters().size(), 1u);
}

TEST(DenseTest, GlorotUniformInitIsBoundedSpreadAndSeeded) {
  Dense d({.in = 300, .out = 100, .seed = 11});
  const float limit = std::sqrt(6.0f / (300 + 100));
  const Tensor& w = d.weight().leaf().value();
  float lo = 1, hi = -1;
  double mean = 0;
  for (float v : w) {
    lo = std::min(lo, v);
    hi = std::max(hi, v);
    mean += v;
  }
  mean /= double(w.numel());
  EXPECT_LE(hi, limit);
  EXPECT_GE(lo, -limit);
  EXPECT_GT(hi, 0.95f * limit);  // 30000 uniform draws reach close to both ends
  EXPECT_LT(lo, -0.95f * limit);
  EXPECT_NEAR(mean, 0.0, 0.01);

  Dense same({.in = 300, .out = 100, .seed = 11});
  Dense other({.in = 300, .out = 100, .seed = 12});
  EXPECT_TRUE(allClose(same.weight().leaf().value(), w, 0, 0));
  EXPECT_FALSE(allClose(other.weight().leaf().value(), w, 0, 0));

  // A borrowed generator advances: two layers from one generator differ, and match a replay.
  Generator g1(5), g2(5);
  Dense a({.in = 3, .out = 2, .generator = &g1});
  Dense b({.in = 3, .out = 2, .generator = &g1});
  Dense a2({.in = 3, .out = 2, .generator = &g2});
  EXPECT_FALSE(allClose(a.weight().leaf().value(), b.weight().leaf().value(), 0, 0));
  EXPECT_TRUE(allClose(a.weight().leaf().value(), a2.weight().leaf().value(), 0, 0));
}

TEST(DenseTest, ForwardMatchesPyTorch) {
  Dense d = makeDense(Activation::None);
  setWeights(d);
  const Tensor y = d.forward(Variable(input())).value();
  EXPECT_TRUE(allClose(y, values({2, 3}, {1.884284f, 2.738039f, -2.164934f, -1.116339f, -0.2807834f, 2.207455f}),
                       1e-5f, 1e-5f));
}

TEST(DenseTest, FusedActivationsMatchPyTorch) {
  struct Case {
    Activation act;
    std::vector<float> expected;
  };
  const std::vector<Case> cases = {
      {Activation::ReLU, {1.884284f, 2.738039f, 0.0f, 0.0f, 0.0f, 2.207455f}},
      {Activation::LeakyReLU, {1.884284f, 2.738039f, -0.6494803f, -0.3349018f, -0.08423503f, 2.207455f}},
      {Activation::Sigmoid, {0.8681025f, 0.9392342f, 0.1029439f, 0.246691f, 0.4302617f, 0.9009169f}},
      {Activation::Tanh, {0.9548717f, 0.9916635f, -0.9740038f, -0.8062918f, -0.27363f, 0.9760978f}},
      {Activation::Softmax, {0.2970988f, 0.697721f, 0.005180213f, 0.03218374f, 0.07421876f, 0.8935975f}},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(activationName(c.act));
    Dense d = makeDense(c.act);
    setWeights(d);
    EXPECT_TRUE(allClose(d.forward(Variable(input())).value(), values({2, 3}, c.expected), 1e-5f, 1e-5f));
  }
}

TEST(DenseTest, GradientsWithRespectToInputWeightAndBias) {
  for (Activation act : {Activation::None, Activation::Tanh, Activation::Softmax}) {
    SCOPED_TRACE(activationName(act));
    Dense d({.in = 5, .out = 4, .activation = act, .seed = 21});
    {
      NoGradGuard g;
      d.bias()->leaf().mutableValue() = pattern({4}, 0.8, 0.1);
    }
    EXPECT_TRUE(gradCheckLayer(d, pattern({3, 5}, 0.61, 0.2)));
  }
  Dense noBias({.in = 3, .out = 2, .useBias = false, .seed = 2});
  EXPECT_TRUE(gradCheckLayer(noBias, pattern({2, 3}, 0.3, 0.4)));
}

TEST(DenseTest, ReadsTheWeightThroughItsTransforms) {
  // A transform zeroing the first output row must reach the forward (layers read weight_->value()).
  struct ZeroFirstRow : WeightTransform {
    Tensor mask;
    Variable apply(const Variable& w) const override { return mul(w, Variable(mask)); }
    TransformStage stage() const override { return TransformStage::Prune; }
  } t;
  t.mask = Tensor::ones({3, 4});
  for (int k = 0; k < 4; ++k) t.mask[k] = 0.0f;
  Dense d = makeDense(Activation::None);
  setWeights(d);
  d.weight().addTransform(&t);
  const Tensor y = d.forward(Variable(input())).value();
  d.weight().removeTransform(&t);
  const Tensor b = pattern({3}, 1.3, 0.5);
  EXPECT_FLOAT_EQ(y.at({0, 0}), b[0]);  // only the bias is left in the masked column
  EXPECT_FLOAT_EQ(y.at({1, 0}), b[0]);
  EXPECT_NEAR(y.at({0, 1}), 2.738039f, 1e-5f);  // the other rows are untouched
  EXPECT_NEAR(y.at({1, 2}), 2.207455f, 1e-5f);
}

TEST(DenseTest, RejectsWrongInputShapes) {
  Dense d({.in = 4, .out = 3, .seed = 1});
  std::string msg = invalidArgumentMessage([&] { d.forward(Variable(Tensor::zeros({2, 5}))); });
  EXPECT_NE(msg.find("Dense::forward"), std::string::npos) << msg;
  EXPECT_NE(msg.find("[N, 4]"), std::string::npos) << msg;
  EXPECT_NE(msg.find("[2, 5]"), std::string::npos) << msg;

  msg = invalidArgumentMessage([&] { d.forward(Variable(Tensor::zeros({2, 1, 2, 2}))); });
  EXPECT_NE(msg.find("[2, 1, 2, 2]"), std::string::npos) << msg;
  EXPECT_NE(msg.find("Flatten"), std::string::npos) << msg;

  msg = invalidArgumentMessage([&] { d.forward(Variable(Tensor::zeros({4}))); });
  EXPECT_NE(msg.find("got [4]"), std::string::npos) << msg;
}

TEST(DenseTest, RejectsBadOptions) {
  std::string msg = invalidArgumentMessage([] { Dense({.in = 0, .out = 3}); });
  EXPECT_NE(msg.find("Dense: in and out must be positive, got in=0 out=3"), std::string::npos) << msg;
  msg = invalidArgumentMessage([] { Dense({.in = 2, .out = -1}); });
  EXPECT_NE(msg.find("out=-1"), std::string::npos) << msg;
}

TEST(DenseTest, ConfigDescribesTheOptions) {
  Dense d({.in = 8, .out = 2, .useBias = false, .activation = Activation::Sigmoid, .init = Initializer::HeNormal,
           .seed = 9});
  const nlohmann::json expected = {{"in", 8},         {"out", 2},          {"use_bias", false},
                                   {"activation", "sigmoid"}, {"kernel_initializer", "he_normal"}, {"seed", 9}};
  EXPECT_EQ(d.config(), expected);
  EXPECT_EQ(d.typeName(), "Dense");
}
