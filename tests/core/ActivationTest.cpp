#include <gtest/gtest.h>

#include <cmath>

#include "GradCheck.h"
#include "TestUtils.h"
#include "core/Functions.h"
#include "core/Random.h"

namespace shrink {
namespace {

using test::allClose;
using test::awayFromZero;
using test::gradCheck;
using test::pattern;

const Tensor kPoints = Tensor::fromVector({-3.0f, -0.5f, 0.25f, 2.0f, -100.0f, 100.0f});

TEST(ActivationTest, PointwiseMatchPyTorch) {
  // F.relu, F.leaky_relu(x, 0.3), torch.sigmoid, torch.tanh in PyTorch 2.x float32 on
  // x = [-3, -0.5, 0.25, 2, -100, 100].
  const Variable x(kPoints);
  EXPECT_TRUE(allClose(relu(x).value(), Tensor::fromVector({0.0f, 0.0f, 0.25f, 2.0f, 0.0f, 100.0f})));
  EXPECT_TRUE(allClose(leakyRelu(x, 0.3f).value(),
                       Tensor::fromVector({-0.9000000357627869f, -0.15000000596046448f, 0.25f, 2.0f,
                                           -30.000001907348633f, 100.0f})));
  EXPECT_TRUE(allClose(sigmoid(x).value(), Tensor::fromVector({0.04742587357759476f, 0.3775406777858734f,
                                                               0.562176525592804f, 0.8807970285415649f, 0.0f,
                                                               1.0f})));
  EXPECT_TRUE(allClose(tanh(x).value(), Tensor::fromVector({-0.9950547814369202f, -0.46211716532707214f,
                                                            0.24491865932941437f, 0.9640275835990906f, -1.0f,
                                                            1.0f})));
}

TEST(ActivationTest, SoftmaxMatchesPyTorch) {
  // torch.softmax / torch.log_softmax(x, -1) in PyTorch 2.x float32 with x = pattern([2,4], 5, 1, 11) * 4.
  Tensor x = pattern({2, 4}, 5, 1, 11);
  x *= 4.0f;
  EXPECT_TRUE(allClose(softmax(Variable(x)).value(),
                       Tensor(Shape{2, 4}, {0.047218628227710724f, 0.5752406716346741f, 0.028639545664191246f,
                                            0.34890109300613403f, 0.5929386615753174f, 0.029520677402615547f,
                                            0.35963547229766846f, 0.01790519617497921f})));
  EXPECT_TRUE(allClose(logSoftmax(Variable(x)).value(),
                       Tensor(Shape{2, 4}, {-3.052966594696045f, -0.5529667139053345f, -3.552966594696045f,
                                            -1.0529667139053345f, -0.5226643085479736f, -3.5226643085479736f,
                                            -1.0226643085479736f, -4.0226640701293945f})));
}

TEST(ActivationTest, StableForHugeInputs) {
  const Variable x(Tensor(Shape{2, 3}, {1000.0f, -1000.0f, 0.0f, -1000.0f, -1000.0f, -1000.0f}));
  const Tensor s = softmax(x).value();
  const Tensor ls = logSoftmax(x).value();
  EXPECT_TRUE(allClose(s, Tensor(Shape{2, 3}, {1.0f, 0.0f, 0.0f, 1.0f / 3, 1.0f / 3, 1.0f / 3})));
  // Row 0 by hand: [0, -2000, -1000]; row 1: all -log 3.
  const float l3 = -std::log(3.0f);
  EXPECT_TRUE(allClose(ls, Tensor(Shape{2, 3}, {0.0f, -2000.0f, -1000.0f, l3, l3, l3})));
  const Tensor sg = sigmoid(Variable(Tensor::fromVector({-1000.0f, 1000.0f}))).value();
  EXPECT_EQ(sg[0], 0.0f);
  EXPECT_EQ(sg[1], 1.0f);
}

TEST(ActivationTest, ReluFamilyGradients) {
  // Magnitudes in [0.1, 2]: at least 10 eps away from the kink at 0.
  const Tensor x = awayFromZero({4, 5}, 1, 0.1f, 2.0f);
  EXPECT_TRUE(gradCheck([](std::vector<Variable>& in) { return relu(in[0]); }, {x}));
  EXPECT_TRUE(gradCheck([](std::vector<Variable>& in) { return leakyRelu(in[0]); }, {x}));
  EXPECT_TRUE(gradCheck([](std::vector<Variable>& in) { return leakyRelu(in[0], 0.01f); }, {x}));
}

TEST(ActivationTest, ReluGradientIsTheStep) {
  Variable x(Tensor::fromVector({-1.0f, 2.0f, -3.0f, 4.0f}), true);
  sum(leakyRelu(x, 0.25f)).backward();
  EXPECT_TRUE(allClose(x.grad(), Tensor::fromVector({0.25f, 1.0f, 0.25f, 1.0f})));
  Variable y(Tensor::fromVector({-1.0f, 2.0f}), true);
  sum(relu(y)).backward();
  EXPECT_TRUE(allClose(y.grad(), Tensor::fromVector({0.0f, 1.0f})));
}

TEST(ActivationTest, SmoothGradients) {
  Generator gen(5);
  const Tensor x = gen.uniformTensor({3, 5}, -3.0f, 3.0f);
  EXPECT_TRUE(gradCheck([](std::vector<Variable>& in) { return sigmoid(in[0]); }, {x}));
  EXPECT_TRUE(gradCheck([](std::vector<Variable>& in) { return tanh(in[0]); }, {x}));
  EXPECT_TRUE(gradCheck([](std::vector<Variable>& in) { return softmax(in[0]); }, {x}));
  EXPECT_TRUE(gradCheck([](std::vector<Variable>& in) { return logSoftmax(in[0]); }, {x}));
  // Over the last axis of a rank-3 tensor.
  const Tensor x3 = gen.uniformTensor({2, 3, 4}, -3.0f, 3.0f);
  EXPECT_TRUE(gradCheck([](std::vector<Variable>& in) { return softmax(in[0]); }, {x3}));
  EXPECT_TRUE(gradCheck([](std::vector<Variable>& in) { return logSoftmax(in[0]); }, {x3}));
}

TEST(ActivationTest, SoftmaxRowsSumToOneOverLastAxis) {
  Generator gen(9);
  const Tensor s = softmax(Variable(gen.uniformTensor({2, 3, 4}, -5.0f, 5.0f))).value();
  for (int64_t r = 0; r < 6; ++r) {
    float total = 0;
    for (int64_t k = 0; k < 4; ++k) total += s[r * 4 + k];
    EXPECT_NEAR(total, 1.0f, 1e-6f) << "row " << r;
  }
  EXPECT_THROW(softmax(Variable(Tensor::scalar(1.0f))), std::invalid_argument);
}

}  // namespace
}  // namespace shrink
