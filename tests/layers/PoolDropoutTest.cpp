#include <algorithm>
#include <numeric>

#include <gtest/gtest.h>

#include "LayerTestUtils.h"
#include "TestUtils.h"
#include "layers/Dropout.h"
#include "layers/Flatten.h"
#include "layers/Pool2D.h"

using namespace shrink;
using namespace shrink::test;

// Pool references from PyTorch 2.x (script ref_bn_pool.py, quoted in the layers report):
// x = pattern([1, 2, 5, 5], 0.9, 0.1); F.max_pool2d / F.avg_pool2d; TensorFlow 'same' (one padded
// row/column at the bottom/right, ignored) via F.pad with -inf for max and a window-count division for
// the average; 7 significant digits.

namespace {

Tensor poolInput() { return pattern({1, 2, 5, 5}, 0.9, 0.1); }

/// Distinct values at least 0.07 apart in a scrambled order, so no max-pool window has a near tie.
Tensor distinct(const Shape& shape) {
  Tensor t(shape);
  for (int64_t i = 0; i < t.numel(); ++i) t[i] = 0.07f * float((i * 7 + 3) % t.numel()) - 1.0f;
  return t;
}

}  // namespace

TEST(PoolTest, MaxAndAvgValidMatchPyTorch) {
  MaxPool2D maxPool;
  AvgPool2D avgPool;
  EXPECT_TRUE(allClose(maxPool.forward(Variable(poolInput())).value(),
                       values({1, 2, 2, 2}, {0.841471f, 0.9463001f, 0.934895f, 0.3031183f, 0.9224328f, 0.16648f,
                                             0.8838704f, 0.9158096f}),
                       1e-6f, 1e-5f));
  EXPECT_TRUE(allClose(avgPool.forward(Variable(poolInput())).value(),
                       values({1, 2, 2, 2}, {-0.1894817f, 0.5620685f, 0.3922835f, -0.4859738f, -0.09416726f,
                                             -0.5217623f, -0.1440578f, 0.5654104f}),
                       1e-6f, 1e-5f));
}

TEST(PoolTest, SamePaddingIgnoresPaddedCells) {
  MaxPool2D maxPool({.padding = Padding::Same});
  AvgPool2D avgPool({.padding = Padding::Same});
  EXPECT_TRUE(allClose(maxPool.forward(Variable(poolInput())).value(),
                       values({1, 2, 3, 3}, {0.841471f, 0.9463001f, 0.9407306f, 0.934895f, 0.3031183f, 0.133232f,
                                             0.1498772f, 0.9287952f, 0.2870527f, 0.9224328f, 0.16648f, 0.8758811f,
                                             0.8838704f, 0.9158096f, 0.9089274f, 0.2383869f, -0.6305776f, 0.2159873f}),
                       1e-6f, 1e-5f));
  EXPECT_TRUE(allClose(avgPool.forward(Variable(poolInput())).value(),
                       values({1, 2, 3, 3}, {-0.1894817f, 0.5620685f, 0.2054472f, 0.3922835f, -0.4859738f, -0.431834f,
                                             -0.2657183f, 0.8982196f, 0.2870527f, -0.09416726f, -0.5217623f, 0.1097822f,
                                             -0.1440578f, 0.5654104f, 0.154872f, -0.1870866f, -0.8152557f, 0.2159873f}),
                       1e-6f, 1e-5f));
}

TEST(PoolTest, OverlappingWindowsMatchPyTorch) {
  MaxPool2D maxPool({.kernelH = 3, .kernelW = 3, .strideH = 1, .strideW = 1});
  AvgPool2D avgPool({.kernelH = 3, .kernelW = 3, .strideH = 1, .strideW = 1});
  EXPECT_TRUE(allClose(maxPool.forward(Variable(poolInput())).value(),
                       values({1, 2, 3, 3}, {0.9463001f, 0.9463001f, 0.9463001f, 0.934895f, 0.934895f, 0.9407306f,
                                             0.934895f, 0.934895f, 0.9287952f, 0.9224328f, 0.9158096f, 0.9158096f,
                                             0.9224328f, 0.9158096f, 0.9158096f, 0.9158096f, 0.9158096f, 0.9158096f}),
                       1e-6f, 1e-5f));
  EXPECT_TRUE(allClose(avgPool.forward(Variable(poolInput())).value(),
                       values({1, 2, 3, 3}, {-0.1017152f, 0.01680246f, 0.1226044f, -0.07842955f, -0.1435084f,
                                             -0.09998298f, 0.1347804f, 0.04369948f, -0.08045238f, 0.0390555f,
                                             -0.08442921f, -0.1440196f, 0.1274244f, 0.132029f, 0.03671663f,
                                             -0.09277654f, 0.0287669f, 0.1285401f}),
                       1e-6f, 1e-5f));
}

TEST(PoolTest, Gradients) {
  for (Padding p : {Padding::Valid, Padding::Same}) {
    SCOPED_TRACE(p == Padding::Same ? "same" : "valid");
    MaxPool2D maxPool({.padding = p});
    AvgPool2D avgPool({.padding = p});
    EXPECT_TRUE(gradCheckLayer(maxPool, distinct({2, 2, 5, 5})));
    EXPECT_TRUE(gradCheckLayer(avgPool, pattern({2, 2, 5, 5}, 0.4, 0.3)));
  }
  MaxPool2D overlapping({.kernelH = 3, .kernelW = 2, .strideH = 1, .strideW = 2});
  EXPECT_TRUE(gradCheckLayer(overlapping, distinct({1, 2, 5, 6})));
}

TEST(PoolTest, ConfigAndErrors) {
  MaxPool2D p({.kernelH = 3, .kernelW = 2});
  const nlohmann::json expected = {{"pool_size", {3, 2}}, {"strides", {3, 2}}, {"padding", "valid"}};
  EXPECT_EQ(p.config(), expected);  // strides 0 resolve to the pool size, as Keras
  EXPECT_TRUE(p.parameters().empty());
  EXPECT_EQ(invalidArgumentMessage([&] { p.forward(Variable(Tensor::zeros({2, 5, 5}))); }),
            "MaxPool2D::forward: expected a 4-D NCHW input [N, C, H, W], got [2, 5, 5]");
  AvgPool2D a;
  EXPECT_NE(invalidArgumentMessage([&] { a.forward(Variable(Tensor::zeros({1, 1, 1, 4}))); })
                .find("AvgPool2D::forward: input [1, 1, 1, 4] is smaller than the 2x2 pool"),
            std::string::npos);
  EXPECT_NE(invalidArgumentMessage([] { MaxPool2D({.kernelH = 0}); }).find("pool size must be positive"),
            std::string::npos);
}

TEST(DropoutTest, IdentityInEvalMode) {
  Dropout d({.rate = 0.5f, .seed = 3});
  d.eval();
  const Tensor x = pattern({4, 10}, 0.3, 0.2);
  EXPECT_TRUE(allClose(d.forward(Variable(x)).value(), x, 0, 0));
}

TEST(DropoutTest, TrainingDropsAboutRateAndScalesTheRest) {
  const float rate = 0.3f;
  Dropout d({.rate = rate, .seed = 3});
  d.train();
  const Tensor x = Tensor::full({100, 100}, 2.0f);
  const Tensor y = d.forward(Variable(x)).value();
  int64_t dropped = 0;
  for (float v : y) {
    if (v == 0.0f)
      ++dropped;
    else
      EXPECT_FLOAT_EQ(v, 2.0f / (1.0f - rate));
  }
  // 10000 Bernoulli(0.3) draws: standard deviation 46, so +-300 is a 6.5-sigma band.
  EXPECT_NEAR(double(dropped), 3000.0, 300.0);

  // The same seed gives the same mask; the next call draws a new one.
  Dropout again({.rate = rate, .seed = 3});
  EXPECT_TRUE(allClose(again.forward(Variable(x)).value(), y, 0, 0));
  EXPECT_FALSE(allClose(again.forward(Variable(x)).value(), y, 0, 0));
}

TEST(DropoutTest, GradientWithAFixedMask) {
  Dropout d({.rate = 0.4f, .seed = 8});
  d.train();
  EXPECT_TRUE(gradCheckLayer(d, pattern({3, 7}, 0.5, 0.1), 1e-2f, 1e-2f, [&] { d.generator().seed(99); }));
}

TEST(DropoutTest, OptionsConfigAndErrors) {
  Dropout d({.rate = 0.25f, .seed = 17});
  const nlohmann::json expected = {{"rate", 0.25}, {"seed", 17}};
  EXPECT_EQ(d.config(), expected);
  EXPECT_TRUE(d.parameters().empty());
  manualSeed(5);
  Dropout a({.rate = 0.1f});
  manualSeed(5);
  Dropout b({.rate = 0.1f});
  EXPECT_EQ(a.seed(), b.seed());  // unseeded layers draw their seed from the default generator
  EXPECT_NE(invalidArgumentMessage([] { Dropout({.rate = 1.0f}); }).find("Dropout: rate must be in [0, 1), got 1"),
            std::string::npos);
  EXPECT_NE(invalidArgumentMessage([] { Dropout({.rate = -0.1f}); }).find("rate must be in [0, 1)"),
            std::string::npos);
}

TEST(FlattenTest, KeepsTheBatchAndRowMajorOrder) {
  Flatten f;
  const Tensor x = pattern({2, 3, 4, 5}, 0.1, 0.0);
  const Tensor y = f.forward(Variable(x)).value();
  ASSERT_EQ(y.shape(), Shape({2, 60}));
  for (int64_t i = 0; i < x.numel(); ++i) EXPECT_EQ(y[i], x[i]);
  EXPECT_EQ(f.forward(Variable(Tensor::zeros({3, 7}))).shape(), Shape({3, 7}));
  EXPECT_TRUE(gradCheckLayer(f, pattern({2, 2, 3}, 0.7, 0.1)));
  EXPECT_NE(invalidArgumentMessage([&] { f.forward(Variable(Tensor::scalar(1.0f))); }).find("Flatten::forward"),
            std::string::npos);
}
