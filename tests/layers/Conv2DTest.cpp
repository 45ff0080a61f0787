#include <cmath>

#include <gtest/gtest.h>

#include "LayerTestUtils.h"
#include "TestUtils.h"
#include "layers/Conv2D.h"

using namespace shrink;
using namespace shrink::test;

// References from PyTorch 2.x (script ref_dense_conv.py, quoted in the layers report): tensors built
// as in pattern(), then F.conv2d; TensorFlow's 'same' padding reproduced with an explicit F.pad
// (the odd padded row/column goes to the bottom/right); outputs printed with 7 significant digits.

namespace {

void set(Parameter& p, const Tensor& t) {
  NoGradGuard g;
  p.leaf().mutableValue() = t;
}

}  // namespace

TEST(Conv2DTest, ParametersShapesAndNames) {
  Conv2D c({.in = 3, .out = 8, .kernel = {5, 3}, .seed = 1});
  auto named = c.namedParameters();
  ASSERT_EQ(named.size(), 2u);
  EXPECT_EQ(named[0].first, "weight");
  EXPECT_EQ(named[0].second->shape(), Shape({8, 3, 5, 3}));
  EXPECT_EQ(named[1].first, "bias");
  EXPECT_EQ(named[1].second->shape(), Shape({8}));
  ASSERT_EQ(c.compressibleWeights().size(), 1u);
  EXPECT_EQ(c.compressibleWeights()[0], &c.weight());
  // Glorot uniform with Keras' fans for [out, in, kh, kw]: fanIn = 3*15, fanOut = 8*15.
  const float limit = std::sqrt(6.0f / (45 + 120));
  float hi = 0;
  for (float v : c.weight().leaf().value()) hi = std::max(hi, std::fabs(v));
  EXPECT_LE(hi, limit);
  EXPECT_GT(hi, 0.8f * limit);

  Conv2D noBias({.in = 1, .out = 2, .kernel = {3, 3}, .useBias = false});
  EXPECT_EQ(noBias.bias(), nullptr);
  EXPECT_EQ(noBias.parameterCount(), 18);
}

TEST(Conv2DTest, ValidForwardMatchesPyTorch) {
  // x = pattern([2, 3, 5, 6], 0.31, 0.1), weight = pattern([4, 3, 3, 3], 0.53, -0.4), bias = pattern([4], 0.9, 0.2)
  Conv2D c({.in = 3, .out = 4, .kernel = {3, 3}, .seed = 1});
  set(c.weight(), pattern({4, 3, 3, 3}, 0.53, -0.4));
  set(*c.bias(), pattern({4}, 0.9, 0.2));
  const Tensor y = c.forward(Variable(pattern({2, 3, 5, 6}, 0.31, 0.1))).value();
  const Tensor expected = values(
      {2, 4, 3, 4},
      {2.032636f,   2.988792f,   3.678958f,  4.037338f,   2.954477f,  1.989268f,  0.8533556f, -0.3449692f,
       -3.20715f,   -3.612772f,  -3.655039f, -3.32992f,   -1.116502f, -1.156671f, -1.00161f,  -0.6661021f,
       1.036891f,   1.65573f,    2.201684f,  2.622707f,   2.815821f,  2.503019f,  2.036558f,  1.460908f,
       -0.2341219f, -1.176462f,  -1.919961f, -2.393739f,  -1.896618f, -1.144257f, -0.1961245f, 0.8573908f,
       3.65315f,    4.166359f,   4.369065f,  4.24194f,    2.640235f,  3.00452f,   3.105185f,  2.932631f,
       1.058653f,   0.1810423f,  -0.6910199f, -1.474397f, -2.629107f, -2.492822f, -2.096081f, -1.476706f,
       -0.2574364f, -1.411575f,  -2.412205f, -3.163933f,  -3.365779f, -2.727167f, -1.809625f, -0.7006267f,
       2.687859f,   3.477747f,   3.95503f,   4.07421f,    2.597028f,  2.866129f,  2.946956f,  2.831802f,
       1.505694f,   0.8777051f,  0.2510036f, -0.3146654f, -1.165102f, -1.076013f, -0.7993828f, -0.3615838f,
       0.7786902f,  1.840272f,   2.813102f,  3.604436f,   4.262395f,  3.839777f,  3.137788f,  2.223351f,
       -0.8726287f, -1.693159f,  -2.265589f, -2.535348f,  -1.421649f, -2.055879f, -2.471308f, -2.628332f,
       -1.528528f,  -0.7551803f, 0.1129687f, 0.9931567f,  2.908449f,  3.101579f,  3.021835f,  2.676819f});
  EXPECT_TRUE(allClose(y, expected, 1e-5f, 1e-5f));
}

TEST(Conv2DTest, SameStride2WithReluMatchesPyTorch) {
  // x = pattern([1, 2, 6, 5], 0.23, 0.7), weight = pattern([3, 2, 3, 3], 0.61, 0.05), bias = pattern([3], 1.1, -0.3);
  // TF 'same', stride 2: 6 rows pad 0 top / 1 bottom, 5 columns pad 1 / 1; then ReLU.
  Conv2D c({.in = 2, .out = 3, .kernel = {3, 3}, .stride = {2, 2}, .padding = Padding::Same,
            .activation = Activation::ReLU, .seed = 1});
  set(c.weight(), pattern({3, 2, 3, 3}, 0.61, 0.05));
  set(*c.bias(), pattern({3}, 1.1, -0.3));
  const Tensor y = c.forward(Variable(pattern({1, 2, 6, 5}, 0.23, 0.7))).value();
  const Tensor expected =
      values({1, 3, 3, 3}, {3.42481f, 4.514764f, 1.247864f, 0.0f, 0.0f, 0.0f,       0.0f,      2.497134f, 2.487351f,
                            0.0f,     0.0f,      0.0f,      0.0f, 0.5505326f, 3.235864f, 3.225547f, 3.293261f, 0.8524846f,
                            0.0f,     0.0f,      0.0f,      1.812168f, 4.545519f, 3.205803f, 0.6004555f, 0.0f, 0.0f});
  EXPECT_TRUE(allClose(y, expected, 1e-5f, 1e-5f));
}

TEST(Conv2DTest, SameStride1EvenKernelWithoutBiasMatchesPyTorch) {
  // x = pattern([1, 1, 3, 4], 0.8, 0), weight = pattern([2, 1, 2, 2], 0.3, 0.9), no bias;
  // a 2x2 kernel pads one row/column at the bottom/right only.
  Conv2D c({.in = 1, .out = 2, .kernel = {2, 2}, .padding = Padding::Same, .useBias = false, .seed = 1});
  set(c.weight(), pattern({2, 1, 2, 2}, 0.3, 0.9));
  const Tensor y = c.forward(Variable(pattern({1, 1, 3, 4}, 0.8, 0.0))).value();
  const Tensor expected = values(
      {1, 2, 3, 4}, {-0.1266343f, -0.2314532f, -0.1958758f, -0.1005768f, 0.1380732f, 0.2338758f, 0.1878123f, 0.08896381f,
                     0.8310256f,  1.543822f,   1.320157f,   0.4581814f,  0.3527997f, 0.8303828f, 0.8042668f, 0.3132755f,
                     -0.3997682f, -0.8473358f, -0.7809207f, -0.2949334f, 0.6366998f, 1.353377f,  1.249113f,  0.504906f});
  EXPECT_TRUE(allClose(y, expected, 1e-5f, 1e-5f));
}

TEST(Conv2DTest, GradientsWithRespectToInputWeightAndBias) {
  Conv2D valid({.in = 2, .out = 3, .kernel = {3, 2}, .seed = 4});
  set(*valid.bias(), pattern({3}, 0.7, 0.2));
  EXPECT_TRUE(gradCheckLayer(valid, pattern({2, 2, 4, 5}, 0.37, 0.1)));

  Conv2D same({.in = 2, .out = 2, .kernel = {3, 3}, .stride = {2, 1}, .padding = Padding::Same,
               .activation = Activation::Tanh, .seed = 5});
  EXPECT_TRUE(gradCheckLayer(same, pattern({1, 2, 5, 4}, 0.53, 0.3)));
}

TEST(Conv2DTest, RejectsNonImageInputs) {
  Conv2D c({.in = 3, .out = 4, .kernel = {3, 3}, .seed = 1});
  std::string msg = invalidArgumentMessage([&] { c.forward(Variable(Tensor::zeros({3, 5, 6}))); });
  EXPECT_EQ(msg, "Conv2D::forward: expected a 4-D NCHW input [N, C, H, W], got [3, 5, 6]");

  msg = invalidArgumentMessage([&] { c.forward(Variable(Tensor::zeros({2, 1, 5, 6}))); });
  EXPECT_NE(msg.find("expected 3 input channels"), std::string::npos) << msg;
  EXPECT_NE(msg.find("[2, 1, 5, 6]"), std::string::npos) << msg;

  msg = invalidArgumentMessage([&] { c.forward(Variable(Tensor::zeros({1, 3, 2, 6}))); });
  EXPECT_NE(msg.find("smaller than the 3x3 kernel"), std::string::npos) << msg;
}

TEST(Conv2DTest, RejectsBadOptions) {
  EXPECT_NE(invalidArgumentMessage([] { Conv2D({.in = 1, .out = 2}); }).find("kernel must be positive, got 0x0"),
            std::string::npos);
  EXPECT_NE(invalidArgumentMessage([] { Conv2D({.in = 1, .out = 2, .kernel = {3, 3}, .stride = {0, 1}}); })
                .find("strides must be positive"),
            std::string::npos);
  EXPECT_NE(invalidArgumentMessage([] { Conv2D({.in = 1, .out = 2, .kernel = {3, 3}, .activation = Activation::Softmax}); })
                .find("softmax"),
            std::string::npos);
}

TEST(Conv2DTest, ConfigDescribesTheOptions) {
  Conv2D c({.in = 1, .out = 6, .kernel = {5, 3}, .stride = {2, 1}, .padding = Padding::Same,
            .activation = Activation::ReLU});
  const nlohmann::json expected = {{"in", 1},
                                   {"out", 6},
                                   {"kernel_size", {5, 3}},
                                   {"strides", {2, 1}},
                                   {"padding", "same"},
                                   {"use_bias", true},
                                   {"activation", "relu"},
                                   {"kernel_initializer", "glorot_uniform"}};
  EXPECT_EQ(c.config(), expected);
}
