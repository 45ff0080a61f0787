#include "datasets/Friedman.h"

#include <cmath>
#include <numbers>

#include <gtest/gtest.h>

#include "TestUtils.h"

namespace shrink::data {
namespace {

/// The Friedman #1 formula, recomputed here from the generated inputs.
double friedman(const float* r) {
  const double x0 = r[0], x1 = r[1], x2 = r[2], x3 = r[3], x4 = r[4];
  return 10.0 * std::sin(std::numbers::pi * x0 * x1) + 20.0 * (x2 - 0.5) * (x2 - 0.5) + 10.0 * x3 + 5.0 * x4;
}

TEST(FriedmanTest, ShapesAndFeatureRange) {
  const TensorDataset d = makeFriedman1({.nSamples = 500, .nFeatures = 7, .seed = 3});
  EXPECT_EQ(d.inputs().shape(), (Shape{500, 7}));
  EXPECT_EQ(d.targets().shape(), (Shape{500, 1}));
  EXPECT_EQ(d.exampleShape(), (Shape{7}));
  EXPECT_EQ(d.targetShape(), (Shape{1}));
  EXPECT_GE(d.inputs().array().minCoeff(), 0.0f);
  EXPECT_LE(d.inputs().array().maxCoeff(), 1.0f);
  const TensorDataset defaults = makeFriedman1();
  EXPECT_EQ(defaults.inputs().shape(), (Shape{100, 10}));  // scikit-learn's defaults
}

TEST(FriedmanTest, FeaturesLookUniform) {
  const TensorDataset d = makeFriedman1({.nSamples = 20000, .nFeatures = 5, .seed = 11});
  const auto x = d.inputs().matrix();
  for (int j = 0; j < 5; ++j) {
    const double mean = x.col(j).cast<double>().mean();
    const double var = (x.col(j).cast<double>().array() - mean).square().mean();
    EXPECT_NEAR(mean, 0.5, 0.01) << "feature " << j;
    EXPECT_NEAR(var, 1.0 / 12.0, 0.003) << "feature " << j;
  }
}

TEST(FriedmanTest, NoiseFreeTargetsFollowTheFormula) {
  const TensorDataset d = makeFriedman1({.nSamples = 1000, .nFeatures = 10, .noise = 0.0f, .seed = 5});
  for (int64_t i = 0; i < d.size(); ++i)
    ASSERT_FLOAT_EQ(d.targets()[i], static_cast<float>(friedman(d.inputs().data() + i * 10))) << "sample " << i;
}

TEST(FriedmanTest, NoiseIsGaussianWithTheGivenStddev) {
  const float noise = 1.5f;
  const TensorDataset noisy = makeFriedman1({.nSamples = 20000, .nFeatures = 5, .noise = noise, .seed = 9});
  const TensorDataset clean = makeFriedman1({.nSamples = 20000, .nFeatures = 5, .noise = 0.0f, .seed = 9});
  // X is drawn before the noise, so the inputs do not depend on the noise level.
  EXPECT_TRUE(test::allClose(noisy.inputs(), clean.inputs(), 0, 0));
  double sum = 0, sumSq = 0, maxAbs = 0;
  for (int64_t i = 0; i < noisy.size(); ++i) {
    const double r = noisy.targets()[i] - friedman(noisy.inputs().data() + i * 5);
    sum += r;
    sumSq += r * r;
    maxAbs = std::max(maxAbs, std::fabs(r));
  }
  const double n = static_cast<double>(noisy.size());
  const double mean = sum / n;
  const double sd = std::sqrt(sumSq / n - mean * mean);
  EXPECT_NEAR(mean, 0.0, 4 * noise / std::sqrt(n));
  EXPECT_NEAR(sd, noise, 0.03 * noise);
  EXPECT_GT(maxAbs, 3 * noise);  // Gaussian tails: 20000 draws almost surely pass 3 sigma
  EXPECT_LT(maxAbs, 6 * noise);
}

TEST(FriedmanTest, SeedReproducible) {
  const FriedmanOptions opts{.nSamples = 64, .nFeatures = 6, .noise = 0.5f, .seed = 1234};
  const TensorDataset a = makeFriedman1(opts);
  const TensorDataset b = makeFriedman1(opts);
  EXPECT_TRUE(test::allClose(a.inputs(), b.inputs(), 0, 0));
  EXPECT_TRUE(test::allClose(a.targets(), b.targets(), 0, 0));
  FriedmanOptions other = opts;
  other.seed = 1235;
  const TensorDataset c = makeFriedman1(other);
  EXPECT_FALSE(test::allClose(a.inputs(), c.inputs(), 1e-3f, 0));
}

TEST(FriedmanTest, RejectsInvalidOptions) {
  EXPECT_THROW(makeFriedman1({.nFeatures = 4}), std::invalid_argument);
  EXPECT_THROW(makeFriedman1({.nSamples = 0}), std::invalid_argument);
  EXPECT_THROW(makeFriedman1({.noise = -0.1f}), std::invalid_argument);
  EXPECT_THROW(makeFriedman1({.noise = std::nanf("")}), std::invalid_argument);
  EXPECT_NO_THROW(makeFriedman1({.nSamples = 1, .nFeatures = 5}));
}

}  // namespace
}  // namespace shrink::data
