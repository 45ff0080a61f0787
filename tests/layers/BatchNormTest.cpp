#include <memory>

#include <gtest/gtest.h>

#include "LayerTestUtils.h"
#include "TestUtils.h"
#include "layers/BatchNorm.h"

using namespace shrink;
using namespace shrink::test;

// References from PyTorch 2.x (script ref_bn_pool.py, quoted in the layers report): torch.nn.BatchNorm1d /
// BatchNorm2d(3, eps=1e-3, momentum=0.1) — torch's momentum is 1 - Keras' (0.9 here) — with
// weight = pattern([3], 0.9, 0.4) + 1 and bias = pattern([3], 0.5, -1), one training forward (output,
// running_mean, running_var: torch stores the unbiased batch variance), then eval; 7 significant digits.

namespace {

std::unique_ptr<BatchNorm> makeBatchNorm() {
  auto bn = std::make_unique<BatchNorm>(BatchNorm::Options{.features = 3, .momentum = 0.9f, .epsilon = 1e-3f});
  NoGradGuard g;
  Tensor gamma = pattern({3}, 0.9, 0.4);
  gamma.array() += 1.0f;
  bn->gamma().leaf().mutableValue() = gamma;
  bn->beta().leaf().mutableValue() = pattern({3}, 0.5, -1.0);
  return bn;
}

}  // namespace

TEST(BatchNormTest, ParametersAndBuffers) {
  BatchNorm bn({.features = 5});
  auto params = bn.namedParameters();
  ASSERT_EQ(params.size(), 2u);
  EXPECT_EQ(params[0].first, "gamma");
  EXPECT_EQ(params[1].first, "beta");
  EXPECT_TRUE(allClose(params[0].second->leaf().value(), Tensor::ones({5}), 0, 0));
  EXPECT_TRUE(allClose(params[1].second->leaf().value(), Tensor::zeros({5}), 0, 0));
  auto buffers = bn.namedBuffers();
  ASSERT_EQ(buffers.size(), 2u);
  EXPECT_EQ(buffers[0].first, "running_mean");
  EXPECT_EQ(buffers[1].first, "running_var");
  EXPECT_TRUE(allClose(*buffers[0].second, Tensor::zeros({5}), 0, 0));
  EXPECT_TRUE(allClose(*buffers[1].second, Tensor::ones({5}), 0, 0));
  EXPECT_TRUE(bn.compressibleWeights().empty());
  const nlohmann::json expected = {{"features", 5}, {"momentum", 0.99}, {"epsilon", 0.001}};
  EXPECT_EQ(bn.config(), expected);
}

TEST(BatchNormTest, TrainingAndEvalOnFeaturesMatchPyTorch) {
  auto bnPtr = makeBatchNorm();
  BatchNorm& bn = *bnPtr;
  Tensor x = pattern({4, 3}, 0.77, 0.2);
  x.array() = x.array() * 2.0f + 0.5f;
  bn.train();
  const Tensor y = bn.forward(Variable(x)).value();
  EXPECT_TRUE(allClose(y,
                       values({4, 3}, {-0.7139742f, 1.15426f, 1.989207f, 0.08322737f, -1.638862f, -2.742102f,
                                       -3.141394f, -3.092277f, -0.4347346f, 0.4062568f, 1.659176f, 1.18763f}),
                       1e-4f, 1e-4f));
  EXPECT_TRUE(allClose(bn.runningMean(), values({3}, {0.07720295f, 0.1023435f, 0.097953f}), 1e-5f, 1e-4f));
  EXPECT_TRUE(allClose(bn.runningVar(), values({3}, {1.148507f, 1.144224f, 1.145167f}), 1e-5f, 1e-4f));

  bn.eval();
  const Tensor stats = bn.runningMean();
  const Tensor ye = bn.forward(Variable(pattern({2, 3}, 0.41, 1.0))).value();
  EXPECT_TRUE(allClose(ye, values({2, 3}, {0.1489568f, 1.143963f, 1.4716f, 0.082877f, 0.2150236f, -0.01096046f}),
                       1e-4f, 1e-4f));
  EXPECT_TRUE(allClose(bn.runningMean(), stats, 0, 0));  // eval leaves the statistics alone
}

TEST(BatchNormTest, TrainingAndEvalOnChannelsMatchPyTorch) {
  auto bnPtr = makeBatchNorm();
  BatchNorm& bn = *bnPtr;
  Tensor x = pattern({2, 3, 2, 2}, 0.37, 0.6);
  x *= 3.0f;
  bn.train();
  const Tensor y = bn.forward(Variable(x)).value();
  EXPECT_TRUE(allClose(
      y,
      values({2, 3, 2, 2}, {-0.0356142f, 0.4448405f, 0.7191801f, 0.7502739f, 1.43878f,   0.04846011f, -1.851742f, -4.004643f,
                            -0.8880165f, -1.600396f, -2.087036f, -2.282073f, -2.826029f, -2.492914f, -1.968304f, -1.323201f,
                            -2.332988f, -0.3503268f, 1.176426f,  2.04063f,   2.394116f,  2.112933f,  1.554908f,  0.7955656f}),
      1e-4f, 1e-4f));
  EXPECT_TRUE(allClose(bn.runningMean(), values({3}, {0.03844262f, 0.1645195f, -0.008608103f}), 1e-5f, 1e-4f));
  EXPECT_TRUE(allClose(bn.runningVar(), values({3}, {1.482464f, 1.013541f, 1.508188f}), 1e-5f, 1e-4f));

  bn.eval();
  const Tensor ye = bn.forward(Variable(x)).value();
  EXPECT_TRUE(allClose(
      ye,
      values({2, 3, 2, 2}, {1.047041f,  1.937667f, 2.446214f, 2.503853f, 4.306206f, 2.929699f, 1.048376f, -1.083136f,
                            -1.781732f, -3.119569f, -4.033473f, -4.399749f, -4.125588f, -3.50809f, -2.535612f, -1.339776f,
                            0.5719107f, 2.534874f, 4.046458f, 4.902077f, 4.382062f, 3.854006f, 2.806042f, 1.38001f}),
      1e-4f, 1e-4f));
}

TEST(BatchNormTest, GradientsInTrainingAndEvalMode) {
  for (bool training : {true, false}) {
    SCOPED_TRACE(training ? "training" : "eval");
    auto flatPtr = makeBatchNorm();
    BatchNorm& flat = *flatPtr;
    flat.train(training);
    EXPECT_TRUE(gradCheckLayer(flat, pattern({5, 3}, 0.83, 0.1), 1e-2f, 2e-2f));
    auto imagePtr = makeBatchNorm();
    BatchNorm& image = *imagePtr;
    image.train(training);
    EXPECT_TRUE(gradCheckLayer(image, pattern({2, 3, 3, 2}, 0.29, 0.5), 1e-2f, 2e-2f));
  }
}

TEST(BatchNormTest, RejectsWrongInputs) {
  BatchNorm bn({.features = 3});
  std::string msg = invalidArgumentMessage([&] { bn.forward(Variable(Tensor::zeros({4, 5}))); });
  EXPECT_EQ(msg, "BatchNorm::forward: expected [N, 3] or [N, 3, H, W], got [4, 5]");
  msg = invalidArgumentMessage([&] { bn.forward(Variable(Tensor::zeros({4, 3, 2}))); });
  EXPECT_NE(msg.find("got [4, 3, 2]"), std::string::npos) << msg;
  EXPECT_NE(invalidArgumentMessage([] { BatchNorm({.features = 0}); }).find("features must be positive"),
            std::string::npos);
  EXPECT_NE(invalidArgumentMessage([] { BatchNorm({.features = 2, .epsilon = 0.0f}); }).find("epsilon"),
            std::string::npos);
}
