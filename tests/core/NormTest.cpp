#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <string>

#include "GradCheck.h"
#include "TestUtils.h"
#include "core/Functions.h"
#include "core/Random.h"
#include "core/Threads.h"

namespace shrink {
namespace {

using test::allClose;
using test::gradCheck;
using test::messageOf;

// Hand-worked batch: feature 0 holds {1, 2, 3, 6} (mean 3, squared deviations 4 + 1 + 0 + 9 = 14,
// biased variance 3.5, unbiased 14/3); feature 1 holds {4, 11, 15, 10} (mean 10, deviations
// -6, 1, 5, 0, squares 62, biased variance 15.5, unbiased 62/3). With epsilon 0.5 the inverse standard
// deviations are exactly 1/2 and 1/4. gamma {2, -1}, beta {0.5, 3}:
//   y0 = 2 (x - 3) / 2 + 0.5 = {-1.5, -0.5, 0.5, 3.5};  y1 = -(x - 10) / 4 + 3 = {4.5, 2.75, 1.75, 3}.
// Running statistics from {0.5, -1} and {1, 2} with momentum 0.9:
//   mean 0.9 * 0.5 + 0.1 * 3 = 0.75, 0.9 * -1 + 0.1 * 10 = 0.1;
//   var 0.9 * 1 + 0.1 * 14/3 = 1.3666667, 0.9 * 2 + 0.1 * 62/3 = 3.8666667.
const BatchNormOptions kHandOptions{.momentum = 0.9f, .epsilon = 0.5f};
Variable handGamma() { return Variable(Tensor::fromVector({2, -1})); }
Variable handBeta() { return Variable(Tensor::fromVector({0.5f, 3})); }
const Tensor kHandRunningMean = Tensor::fromVector({0.75f, 0.1f});
const Tensor kHandRunningVar = Tensor::fromVector({1.3666667f, 3.8666667f});

TEST(NormTest, BatchNormTrainingOnFeaturesByHand) {
  const Tensor x(Shape{4, 2}, {1, 4, 2, 11, 3, 15, 6, 10});
  Tensor mean = Tensor::fromVector({0.5f, -1}), var = Tensor::fromVector({1, 2});
  const Variable y = batchNorm(Variable(x), handGamma(), handBeta(), mean, var, true, kHandOptions);
  EXPECT_TRUE(allClose(y.value(), Tensor(Shape{4, 2}, {-1.5f, 4.5f, -0.5f, 2.75f, 0.5f, 1.75f, 3.5f, 3}), 1e-6f, 1e-6f));
  EXPECT_TRUE(allClose(mean, kHandRunningMean, 1e-6f, 1e-6f));
  EXPECT_TRUE(allClose(var, kHandRunningVar, 1e-6f, 1e-6f));
}

TEST(NormTest, BatchNormTrainingOnChannelsByHand) {
  // The same numbers as [N=2, C=2, H=1, W=2]: channel 0 is {1, 2 | 3, 6}, channel 1 {4, 11 | 15, 10}.
  const Tensor x(Shape{2, 2, 1, 2}, {1, 2, 4, 11, 3, 6, 15, 10});
  Tensor mean = Tensor::fromVector({0.5f, -1}), var = Tensor::fromVector({1, 2});
  const Variable y = batchNorm(Variable(x), handGamma(), handBeta(), mean, var, true, kHandOptions);
  EXPECT_TRUE(allClose(y.value(), Tensor(Shape{2, 2, 1, 2}, {-1.5f, -0.5f, 4.5f, 2.75f, 0.5f, 3.5f, 1.75f, 3}),
                       1e-6f, 1e-6f));
  EXPECT_TRUE(allClose(mean, kHandRunningMean, 1e-6f, 1e-6f));
  EXPECT_TRUE(allClose(var, kHandRunningVar, 1e-6f, 1e-6f));
}

TEST(NormTest, BatchNormInferenceUsesRunningStatisticsByHand) {
  // Running mean {1, -2} and variance {3.5, 15.5}, epsilon 0.5: inverse deviations 1/2 and 1/4, so
  // y0 = 2 (x - 1) / 2 + 0.5 and y1 = -(x + 2) / 4 + 3; x = {(3, 2), (-1, -6)} -> {(2.5, 2), (-1.5, 4)}.
  Tensor mean = Tensor::fromVector({1, -2}), var = Tensor::fromVector({3.5f, 15.5f});
  const Tensor meanBefore = mean, varBefore = var;
  const Variable y = batchNorm(Variable(Tensor(Shape{2, 2}, {3, 2, -1, -6})), handGamma(), handBeta(), mean, var,
                               false, kHandOptions);
  EXPECT_TRUE(allClose(y.value(), Tensor(Shape{2, 2}, {2.5f, 2, -1.5f, 4}), 1e-6f, 1e-6f));
  EXPECT_TRUE(allClose(mean, meanBefore, 0, 0));
  EXPECT_TRUE(allClose(var, varBefore, 0, 0));
}

// The textbook batch-norm forward and backward in double, per channel over M = N * H * W values:
// xhat = (x - mean) / sqrt(var + eps), y = gamma xhat + beta; dbeta = sum dy, dgamma = sum dy xhat,
// dx = gamma / (M sqrt(var + eps)) (M dy - dbeta - xhat dgamma).
void naiveBatchNorm(const Tensor& x, const Tensor& gamma, const Tensor& beta, const Tensor& dy, double eps, Tensor& y,
                    Tensor& dx, Tensor& dgamma, Tensor& dbeta) {
  const int64_t n = x.dim(0), c = x.dim(1), inner = x.numel() / (n * c), m = n * inner;
  y = Tensor(x.shape());
  dx = Tensor(x.shape());
  dgamma = Tensor(gamma.shape());
  dbeta = Tensor(beta.shape());
  auto at = [&](int64_t in, int64_t ch, int64_t i) { return (in * c + ch) * inner + i; };
  for (int64_t ch = 0; ch < c; ++ch) {
    double mean = 0, var = 0, sdy = 0, sdyx = 0;
    for (int64_t in = 0; in < n; ++in)
      for (int64_t i = 0; i < inner; ++i) mean += x[at(in, ch, i)];
    mean /= double(m);
    for (int64_t in = 0; in < n; ++in)
      for (int64_t i = 0; i < inner; ++i) var += std::pow(x[at(in, ch, i)] - mean, 2);
    var /= double(m);
    const double inv = 1.0 / std::sqrt(var + eps);
    for (int64_t in = 0; in < n; ++in)
      for (int64_t i = 0; i < inner; ++i) {
        const int64_t k = at(in, ch, i);
        const double xhat = (x[k] - mean) * inv;
        y[k] = static_cast<float>(gamma[ch] * xhat + beta[ch]);
        sdy += dy[k];
        sdyx += dy[k] * xhat;
      }
    dbeta[ch] = static_cast<float>(sdy);
    dgamma[ch] = static_cast<float>(sdyx);
    for (int64_t in = 0; in < n; ++in)
      for (int64_t i = 0; i < inner; ++i) {
        const int64_t k = at(in, ch, i);
        const double xhat = (x[k] - mean) * inv;
        dx[k] = static_cast<float>(gamma[ch] * inv / double(m) * (double(m) * dy[k] - sdy - xhat * sdyx));
      }
  }
}

TEST(NormTest, BatchNormThreadedAgreesWithTextbookFormula) {
  // [8, 4, 32, 32] and [4096, 16] are above the size at which the kernels spread channels over threads;
  // the input has an offset of 5 to exercise the centring.
  setNumThreads(2);
  for (const Shape& shape : {Shape{8, 4, 32, 32}, Shape{4096, 16}}) {
    SCOPED_TRACE(shape.str());
    const int64_t c = shape[1];
    Generator gen(17);
    Tensor xv = gen.normalTensor(shape, 5.0f, 2.0f);
    Variable x(xv, true), gamma(gen.uniformTensor({c}, 0.5f, 1.5f), true), beta(gen.uniformTensor({c}, -1, 1), true);
    Tensor mean = Tensor::zeros({c}), var = Tensor::ones({c});
    Variable y = batchNorm(x, gamma, beta, mean, var, true, {.momentum = 0.9f, .epsilon = 1e-3f});
    const Tensor dy = gen.uniformTensor(shape, -1, 1);
    y.backward(dy);
    Tensor yRef, dxRef, dgRef, dbRef;
    naiveBatchNorm(xv, gamma.value(), beta.value(), dy, 1e-3, yRef, dxRef, dgRef, dbRef);
    EXPECT_TRUE(allClose(y.value(), yRef, 1e-4f, 1e-4f));
    EXPECT_TRUE(allClose(x.grad(), dxRef, 1e-5f, 1e-3f));
    EXPECT_TRUE(allClose(gamma.grad(), dgRef, 1e-3f, 1e-4f));
    EXPECT_TRUE(allClose(beta.grad(), dbRef, 1e-3f, 1e-4f));
  }
}

// Central differences (eps 1e-2) against the analytic gradients of x, gamma and beta; relative error
// below 1e-2. Each training-mode forward also moves the running statistics, which the output ignores.
TEST(NormTest, BatchNormGradCheckTraining) {
  for (const Shape& shape : {Shape{5, 3}, Shape{2, 3, 3, 2}}) {
    Generator gen(23);
    Tensor mean = Tensor::zeros({3}), var = Tensor::ones({3});
    EXPECT_TRUE(gradCheck(
        [&](std::vector<Variable>& in) {
          return batchNorm(in[0], in[1], in[2], mean, var, true, {.momentum = 0.9f, .epsilon = 1e-3f});
        },
        {gen.uniformTensor(shape, -2, 2), gen.uniformTensor({3}, 0.5f, 1.5f), gen.uniformTensor({3}, -1, 1)}, 1e-2f,
        1e-2f))
        << shape.str();
  }
}

TEST(NormTest, BatchNormGradCheckInference) {
  for (const Shape& shape : {Shape{5, 3}, Shape{2, 3, 3, 2}}) {
    Generator gen(29);
    Tensor mean = gen.uniformTensor({3}, -1, 1), var = gen.uniformTensor({3}, 0.5f, 2);
    EXPECT_TRUE(gradCheck(
        [&](std::vector<Variable>& in) { return batchNorm(in[0], in[1], in[2], mean, var, false); },
        {gen.uniformTensor(shape, -2, 2), gen.uniformTensor({3}, 0.5f, 1.5f), gen.uniformTensor({3}, -1, 1)}, 1e-2f,
        1e-3f))
        << shape.str();
  }
}

TEST(NormTest, BatchNormBadInputsNameOpAndShapes) {
  Tensor mean = Tensor::zeros({3}), var = Tensor::ones({3});
  const Variable g3(Tensor::ones({3})), b3(Tensor::zeros({3}));
  EXPECT_EQ(messageOf([&] { batchNorm(Variable(Tensor::zeros({4, 3, 2})), g3, b3, mean, var, true); }),
            "batchNorm: expected an input [N, F] or [N, C, H, W], got [4, 3, 2]");
  EXPECT_EQ(messageOf([&] { batchNorm(Variable(Tensor::zeros({4, 3})), Variable(Tensor::ones({5})), b3, mean, var,
                                      true); }),
            "batchNorm: expected gamma [3] for input [4, 3], got [5]");
  EXPECT_EQ(messageOf([&] { batchNorm(Variable(Tensor::zeros({4, 3, 2, 2})), g3, Variable(Tensor::zeros({3, 1})),
                                      mean, var, false); }),
            "batchNorm: expected beta [3] for input [4, 3, 2, 2], got [3, 1]");
  Tensor var4 = Tensor::ones({4});
  EXPECT_EQ(messageOf([&] { batchNorm(Variable(Tensor::zeros({4, 3})), g3, b3, mean, var4, true); }),
            "batchNorm: expected runningVar [3] for input [4, 3], got [4]");
  EXPECT_EQ(messageOf([&] { batchNorm(Variable(Tensor::zeros({1, 3})), g3, b3, mean, var, true); }),
            "batchNorm: training needs more than one value per channel, got input [1, 3]");
  EXPECT_NO_THROW(batchNorm(Variable(Tensor::zeros({1, 3})), g3, b3, mean, var, false));
  EXPECT_NE(messageOf([&] { batchNorm(Variable(Tensor::zeros({4, 3})), g3, b3, mean, var, true, {.momentum = 1.5f}); })
                .find("batchNorm: momentum"),
            std::string::npos);
  EXPECT_NE(messageOf([&] { batchNorm(Variable(Tensor::zeros({4, 3})), g3, b3, mean, var, true, {.epsilon = 0}); })
                .find("batchNorm: epsilon"),
            std::string::npos);
}

TEST(NormTest, DropoutDropsAboutRateAndScalesKeptValuesExactly) {
  const float rate = 0.3f;
  Generator gen(4);
  const Tensor x = gen.uniformTensor({200, 500}, 0.5f, 2.0f);  // no zeros in x
  Variable v(x, true);
  Generator drop(77);
  Variable y = dropout(v, rate, true, drop);
  const float scale = 1.0f / (1.0f - rate);
  int64_t zeros = 0;
  for (int64_t i = 0; i < x.numel(); ++i) {
    if (y.value()[i] == 0.0f)
      ++zeros;
    else
      ASSERT_EQ(y.value()[i], x[i] * scale) << "element " << i;
  }
  // 100000 Bernoulli(0.3) draws: standard deviation 0.00145 of the fraction, so +-0.01 is ~7 sigma.
  EXPECT_NEAR(double(zeros) / double(x.numel()), rate, 0.01);

  // The gradient is the same mask times the scale.
  y.backward(Tensor::ones(y.shape()));
  for (int64_t i = 0; i < x.numel(); ++i) ASSERT_EQ(v.grad()[i], y.value()[i] == 0.0f ? 0.0f : scale);
}

TEST(NormTest, DropoutSameSeedSameMask) {
  const Tensor x = Tensor::ones({50, 40});
  Generator a(123), b(123);
  const Tensor first = dropout(Variable(x), 0.5f, true, a).value();
  EXPECT_TRUE(allClose(dropout(Variable(x), 0.5f, true, b).value(), first, 0, 0));
  EXPECT_FALSE(allClose(dropout(Variable(x), 0.5f, true, a).value(), first, 0, 0));  // the next draw differs
}

TEST(NormTest, DropoutIsIdentityInEvalModeAndAtRateZero) {
  Generator gen(1);
  const Tensor x = gen.uniformTensor({6, 7}, -1, 1);
  const std::string before = gen.state();
  EXPECT_TRUE(allClose(dropout(Variable(x), 0.5f, false, gen).value(), x, 0, 0));
  EXPECT_TRUE(allClose(dropout(Variable(x), 0.0f, true, gen).value(), x, 0, 0));
  EXPECT_EQ(gen.state(), before);  // no numbers drawn
  Variable v(x, true);
  sum(dropout(v, 0.5f, false, gen)).backward();
  EXPECT_TRUE(allClose(v.grad(), Tensor::ones(x.shape()), 0, 0));
}

TEST(NormTest, DropoutRejectsRatesOutsideZeroOne) {
  Generator gen(1);
  const Variable x(Tensor::ones({2, 3}));
  for (float rate : {1.0f, -0.1f, 1.5f, std::numeric_limits<float>::quiet_NaN()}) {
    EXPECT_THROW(dropout(x, rate, true, gen), std::invalid_argument) << rate;
    EXPECT_THROW(dropout(x, rate, false, gen), std::invalid_argument) << rate;
  }
  EXPECT_EQ(messageOf([&] { dropout(x, 1.0f, true, gen); }), "dropout: rate must be in [0, 1), got 1 (input [2, 3])");
}

TEST(NormTest, DropoutWithMaskForwardAndGradCheck) {
  // x * mask * 2 by hand.
  const Tensor mask(Shape{2, 3}, {1, 0, 1, 0, 0, 1});
  const Variable y = dropoutWithMask(Variable(Tensor(Shape{2, 3}, {1, 2, 3, 4, 5, -6})), mask, 2.0f);
  EXPECT_TRUE(allClose(y.value(), Tensor(Shape{2, 3}, {2, 0, 6, 0, 0, -12}), 0, 0));

  // Central differences (eps 1e-2) with a fixed random mask and scale 1 / (1 - 0.4); relative error below 1e-3.
  Generator gen(8);
  Tensor fixed({3, 7});
  for (float& m : fixed) m = gen.uniform01() < 0.4 ? 0.0f : 1.0f;
  EXPECT_TRUE(gradCheck([&](std::vector<Variable>& in) { return dropoutWithMask(in[0], fixed, 1.0f / 0.6f); },
                        {gen.uniformTensor({3, 7}, -1, 1)}, 1e-2f, 1e-3f));
}

TEST(NormTest, DropoutWithMaskRejectsMismatchedMask) {
  EXPECT_EQ(messageOf([] { dropoutWithMask(Variable(Tensor::ones({3, 5})), Tensor::ones({3, 4}), 1.0f); }),
            "dropoutWithMask: mask [3, 4] must have the shape of the input [3, 5]");
}

}  // namespace
}  // namespace shrink
