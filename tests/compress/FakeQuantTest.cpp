// The fake-quant op (TensorFlow FakeQuantWithMinMaxVars semantics) and the range trackers. Expected
// values are worked out by hand on ranges whose scale is a power of two, so every grid point is
// exact in float.
#include <cmath>
#include <limits>
#include <vector>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "compress/FakeQuant.h"
#include "core/Functions.h"
#include "tests/TestUtils.h"

namespace shrink {
namespace {

using test::messageOf;

/// fakeQuant of `values` with one range, as a vector.
std::vector<float> quantize(std::vector<float> values, float min, float max, FakeQuantOptions o = {}) {
  const Variable x(Tensor::fromVector(values));
  const Tensor y = fakeQuant(x, {&min, 1}, {&max, 1}, o).value();
  return {y.begin(), y.end()};
}

/// d(sum y)/dx of fakeQuant of `values` with one range.
std::vector<float> gradient(std::vector<float> values, float min, float max, FakeQuantOptions o = {}) {
  Variable x(Tensor::fromVector(values), true);
  sum(fakeQuant(x, {&min, 1}, {&max, 1}, o)).backward();
  return {x.grad().begin(), x.grad().end()};
}

constexpr float kStep = 1.0f / 128.0f;
// 8 bits on [-1, 127/128]: scale (255/128) / 255 = 1/128, zero point 128, already on the grid.
constexpr float kMin = -1.0f;
constexpr float kMax = 127.0f / 128.0f;

TEST(FakeQuantTest, GridEdgesAndClamping) {
  const QuantGrid g = nudgedGrid(kMin, kMax, {});
  EXPECT_EQ(g.scale, kStep);
  EXPECT_EQ(g.zeroPoint, 128.0f);
  EXPECT_EQ(g.min, kMin);
  EXPECT_EQ(g.max, kMax);
  // Below the range, its edges, 0, one step, a value rounding down (0.3 steps) and up (0.7 steps),
  // above the range.
  const std::vector<float> x = {-3.0f, kMin, kMax, 0.0f, kStep, 5.3f * kStep, -5.7f * kStep, 2.0f};
  const std::vector<float> want = {kMin, kMin, kMax, 0.0f, kStep, 5.0f * kStep, -6.0f * kStep, kMax};
  EXPECT_EQ(quantize(x, kMin, kMax), want);
  EXPECT_EQ(quantize(x, kMin, kMax, {.rounding = RoundingMode::HalfEven}), want);
}

TEST(FakeQuantTest, TiesRoundHalfUpLikeTensorFlowOrToEvenLikePyTorch) {
  // Halfway points k + 1/2 steps: TensorFlow goes up (towards +inf, also for negative values),
  // PyTorch's nearbyint to the even integer of x / scale.
  const std::vector<float> x = {0.5f * kStep, 1.5f * kStep, 2.5f * kStep, -0.5f * kStep, -1.5f * kStep,
                                -2.5f * kStep};
  EXPECT_EQ(quantize(x, kMin, kMax),
            (std::vector<float>{kStep, 2 * kStep, 3 * kStep, 0.0f, -kStep, -2 * kStep}));
  EXPECT_EQ(quantize(x, kMin, kMax, {.rounding = RoundingMode::HalfEven}),
            (std::vector<float>{0.0f, 2 * kStep, 2 * kStep, 0.0f, -2 * kStep, -2 * kStep}));
}

TEST(FakeQuantTest, HalfEvenIsEvenInXOverScaleNotInTheGridIndex) {
  // 2 bits on [-1, 2]: scale 1, zero point 1, grid {-1, 0, 1, 2}. x = 0.5 is grid index 1.5 from
  // the min; to even of x / scale gives 0 (PyTorch: nearbyint(0.5) + 1 = 1 -> (1 - 1) * 1 = 0), to
  // even of the index would give 1.
  const FakeQuantOptions even{.bits = 2, .rounding = RoundingMode::HalfEven};
  EXPECT_EQ(nudgedGrid(-1.0f, 2.0f, even).zeroPoint, 1.0f);
  EXPECT_EQ(quantize({0.5f, 1.5f, -0.5f}, -1.0f, 2.0f, even), (std::vector<float>{0.0f, 2.0f, 0.0f}));
  EXPECT_EQ(quantize({0.5f, 1.5f, -0.5f}, -1.0f, 2.0f, {.bits = 2}), (std::vector<float>{1.0f, 2.0f, 0.0f}));
}

TEST(FakeQuantTest, NarrowRangeGivesTheSymmetricInt8Grid) {
  // 8 bits narrow on [-127/64, 127/64]: qmin 1, scale (254/64) / 254 = 1/64, zero point
  // 1 + 127 = 128, grid -127/64 .. 127/64.
  const float m = 127.0f / 64.0f;
  const FakeQuantOptions narrow{.narrowRange = true};
  const QuantGrid g = nudgedGrid(-m, m, narrow);
  EXPECT_EQ(g.scale, 1.0f / 64.0f);
  EXPECT_EQ(g.zeroPoint, 128.0f);
  EXPECT_EQ(g.min, -m);
  EXPECT_EQ(g.max, m);
  EXPECT_EQ(quantize({-5.0f, 5.0f, 0.1f}, -m, m, narrow), (std::vector<float>{-m, m, 6.0f / 64.0f}));
}

TEST(FakeQuantTest, RangeIsNudgedSoThatZeroIsOnTheGrid) {
  // 8 bits on [-0.3, 1]: scale 1.3/255, zero point from min 0.3 / scale = 58.85 rounds to 59, so
  // the grid becomes [-59, 196] * scale and 0 is its point 59.
  const QuantGrid g = nudgedGrid(-0.3f, 1.0f, {});
  const float scale = (1.0f - -0.3f) / 255.0f;
  EXPECT_EQ(g.scale, scale);
  EXPECT_EQ(g.zeroPoint, 59.0f);
  EXPECT_EQ(g.min, -59.0f * scale);
  EXPECT_EQ(g.max, 196.0f * scale);
  const std::vector<float> y = quantize({0.0f, -0.3f, 1.0f}, -0.3f, 1.0f);
  EXPECT_EQ(y[0], 0.0f);
  EXPECT_NEAR(y[1], -59.0f * scale, 1e-6f);  // -0.3 is inside the nudged min -0.30078
  EXPECT_NEAR(y[2], g.max, 1e-6f);
  EXPECT_EQ(gradient({-0.3f, 1.0f}, -0.3f, 1.0f), (std::vector<float>{1.0f, 0.0f}))
      << "-0.3 is inside the nudged min, 1 above the nudged max 0.99922";
}

TEST(FakeQuantTest, RangeAboveZeroIsShiftedDownToStartAtZero) {
  // [0.5, 2]: zero point from min -85 clamps to 0: grid [0, 1.5], scale 1.5/255.
  const QuantGrid g = nudgedGrid(0.5f, 2.0f, {});
  EXPECT_EQ(g.zeroPoint, 0.0f);
  EXPECT_EQ(g.min, 0.0f);
  EXPECT_EQ(g.max, 255.0f * (1.5f / 255.0f));
  EXPECT_NEAR(g.max, 1.5f, 1e-6f);
  const std::vector<float> y = quantize({-0.2f, 0.0f, 0.1f, 1.8f}, 0.5f, 2.0f);
  EXPECT_EQ(y[0], 0.0f);
  EXPECT_EQ(y[1], 0.0f);
  EXPECT_NEAR(y[2], 17.0f * g.scale, 1e-6f);  // 0.1 / (1.5/255) = 17
  EXPECT_NEAR(y[3], g.max, 1e-6f);
  EXPECT_EQ(gradient({-0.2f, 0.0f, 0.1f, 1.8f}, 0.5f, 2.0f), (std::vector<float>{0.0f, 1.0f, 1.0f, 0.0f}));
}

TEST(FakeQuantTest, RangeBelowZeroIsShiftedUpToEndAtZero) {
  // [-2, -0.5]: zero point from min 340 clamps to 255: grid [-1.5, 0].
  const QuantGrid g = nudgedGrid(-2.0f, -0.5f, {});
  EXPECT_EQ(g.zeroPoint, 255.0f);
  EXPECT_EQ(g.max, 0.0f);
  EXPECT_EQ(g.min, -255.0f * (1.5f / 255.0f));
  const std::vector<float> y = quantize({-1.9f, -0.1f, 0.2f}, -2.0f, -0.5f);
  EXPECT_EQ(y[0], g.min);
  EXPECT_NEAR(y[1], g.min + 238.0f * g.scale, 1e-6f);  // (-0.1 + 1.5) / (1.5/255) = 238
  EXPECT_EQ(y[2], 0.0f);
  EXPECT_EQ(gradient({-1.9f, -0.1f, 0.2f}, -2.0f, -0.5f), (std::vector<float>{0.0f, 1.0f, 0.0f}));
}

TEST(FakeQuantTest, StraightThroughGradientIsOneInsideTheInclusiveBoundsAndZeroOutside) {
  const float below = std::nextafter(kMin, -2.0f), above = std::nextafter(kMax, 2.0f);
  const std::vector<float> x = {below, kMin, -0.3f, 0.0f, 0.77f, kMax, above, -50.0f, 50.0f};
  const std::vector<float> want = {0, 1, 1, 1, 1, 1, 0, 0, 0};
  EXPECT_EQ(gradient(x, kMin, kMax), want);
  EXPECT_EQ(gradient(x, kMin, kMax, {.rounding = RoundingMode::HalfEven}), want);
}

TEST(FakeQuantTest, GradientAccumulatesIntoAnExistingGradient) {
  Variable x(Tensor::fromVector({0.1f, 3.0f}), true);
  const float lo = kMin, hi = kMax;
  Variable y = add(fakeQuant(x, {&lo, 1}, {&hi, 1}), mul(x, 2.0f));
  sum(y).backward();
  EXPECT_EQ(x.grad()[0], 3.0f);
  EXPECT_EQ(x.grad()[1], 2.0f);
}

TEST(FakeQuantTest, PerAxisUsesOneRangePerSliceAlongAxisZero) {
  // Kernel [3, 2, 2, 2] with three output channels: scales 1/128, 1/64, and a one-point range.
  const Tensor w = test::uniform(Shape{3, 2, 2, 2}, 11, -3.0f, 3.0f);
  const std::vector<float> mins = {kMin, 2 * kMin, 0.0f}, maxs = {kMax, 2 * kMax, 0.0f};
  Variable x(w, true);
  const Tensor y = fakeQuant(x, mins, maxs).value();
  for (int64_t c = 0; c < 3; ++c) {
    Tensor slice(Shape{8});
    std::copy(w.data() + 8 * c, w.data() + 8 * c + 8, slice.data());
    const Tensor alone = fakeQuant(Variable(slice), {&mins[c], 1}, {&maxs[c], 1}).value();
    for (int64_t i = 0; i < 8; ++i) EXPECT_EQ(y[8 * c + i], alone[i]) << "channel " << c << " element " << i;
  }
  for (int64_t i = 16; i < 24; ++i) EXPECT_EQ(y[i], 0.0f) << "a zero range maps everything to 0";
  sum(fakeQuant(x, mins, maxs)).backward();
  for (int64_t i = 0; i < 24; ++i) {
    const int64_t c = i / 8;
    const bool inside = w[i] >= nudgedGrid(mins[c], maxs[c], {}).min && w[i] <= nudgedGrid(mins[c], maxs[c], {}).max;
    EXPECT_EQ(x.grad()[i], inside ? 1.0f : 0.0f) << "element " << i;
  }
}

TEST(FakeQuantTest, EveryOutputIsAGridPointWithinHalfAStepOfTheClampedInput) {
  const Tensor t = test::uniform(Shape{1000}, 3, -4.0f, 4.0f);
  for (int bits : {2, 4, 8}) {
    for (RoundingMode mode : {RoundingMode::HalfUp, RoundingMode::HalfEven}) {
      const FakeQuantOptions o{.bits = bits, .rounding = mode};
      const float lo = -1.3f, hi = 2.1f;
      const QuantGrid g = nudgedGrid(lo, hi, o);
      const Tensor y = fakeQuant(Variable(t), {&lo, 1}, {&hi, 1}, o).value();
      for (int64_t i = 0; i < t.numel(); ++i) {
        const float k = (y[i] - g.min) / g.scale;
        ASSERT_NEAR(k, std::round(k), 1e-3f) << "bits " << bits << " element " << i;
        ASSERT_GE(k, -1e-3f);
        ASSERT_LE(k, static_cast<float>((1 << bits) - 1) + 1e-3f);
        const float c = std::clamp(t[i], g.min, g.max);
        ASSERT_LE(std::fabs(y[i] - c), 0.5f * g.scale * (1.0f + 1e-5f)) << "bits " << bits << " element " << i;
      }
    }
  }
}

TEST(FakeQuantTest, BadBitsRangesAndShapesAreClearErrors) {
  const float lo = -1.0f, hi = 1.0f;
  const Variable x(Tensor::fromVector({0.0f, 1.0f}));
  for (int bits : {0, 1, 9, 16}) {
    const std::string msg = messageOf([&] { fakeQuant(x, {&lo, 1}, {&hi, 1}, {.bits = bits}); });
    EXPECT_NE(msg.find(fmt::format("quantization bits must be in [2, 8], got {}", bits)), std::string::npos) << msg;
  }
  EXPECT_NE(messageOf([&] { fakeQuant(x, {&hi, 1}, {&lo, 1}); }).find("min <= max, got [1, -1]"), std::string::npos);
  const float nan = std::numeric_limits<float>::quiet_NaN();
  EXPECT_NE(messageOf([&] { fakeQuant(x, {&nan, 1}, {&hi, 1}); }).find("finite"), std::string::npos);
  const std::vector<float> three = {-1, -1, -1};
  EXPECT_NE(messageOf([&] { fakeQuant(x, three, three); }).find("one per slice along axis 0 of input [2], got 3"),
            std::string::npos);
  EXPECT_NE(messageOf([&] { checkQuantBits(12, "QuantizeWrapper"); }).find("QuantizeWrapper: quantization bits"),
            std::string::npos);
}

TEST(FakeQuantTest, MovingAverageRangeStartsAtSixAndIsNotDebiased) {
  // Every batch spans [-1, 3]; r_n = b + (r_0 - b) 0.999^n.
  const Tensor batch = Tensor::fromVector({-1.0f, 0.5f, 3.0f});
  float lo = -kInitialActivationRange, hi = kInitialActivationRange, steps = 0;
  trackActivationRange(batch, RangeTracking::MovingAverage, lo, hi, steps);
  EXPECT_FLOAT_EQ(lo, -5.995f);  // -6 - (-6 + 1) * 0.001
  EXPECT_FLOAT_EQ(hi, 5.997f);   // 6 - (6 - 3) * 0.001
  EXPECT_EQ(steps, 1.0f);
  trackActivationRange(batch, RangeTracking::MovingAverage, lo, hi, steps);
  EXPECT_FLOAT_EQ(lo, -5.990005f);  // -5.995 - (-5.995 + 1) * 0.001
  EXPECT_FLOAT_EQ(hi, 5.994003f);   // 5.997 - (5.997 - 3) * 0.001
  for (int i = 2; i < 1000; ++i) trackActivationRange(batch, RangeTracking::MovingAverage, lo, hi, steps);
  EXPECT_EQ(steps, 1000.0f);
  EXPECT_NEAR(lo, -1.0f - 5.0f * std::pow(0.999, 1000), 1e-5);  // -2.83848
  EXPECT_NEAR(hi, 3.0f + 3.0f * std::pow(0.999, 1000), 1e-5);   // 4.10309
}

TEST(FakeQuantTest, MovingAverageRangeAlwaysContainsZero) {
  float lo = -kInitialActivationRange, hi = kInitialActivationRange, steps = 0;
  trackActivationRange(Tensor::fromVector({1.0f, 2.0f}), RangeTracking::MovingAverage, lo, hi, steps);
  EXPECT_FLOAT_EQ(lo, -5.994f);  // the batch min 1 counts as 0
}

TEST(FakeQuantTest, FirstBatchRangeThenAveragingLikePyTorchsObserver) {
  const Tensor first = Tensor::fromVector({0.5f, 2.0f}), later = Tensor::fromVector({-1.0f, 4.0f});
  float lo = -kInitialActivationRange, hi = kInitialActivationRange, steps = 0;
  trackActivationRange(first, RangeTracking::FirstBatchMovingAverage, lo, hi, steps);
  EXPECT_EQ(lo, 0.5f) << "the raw batch min, 0 is added only when quantizing";
  EXPECT_EQ(hi, 2.0f);
  trackActivationRange(later, RangeTracking::FirstBatchMovingAverage, lo, hi, steps);
  EXPECT_FLOAT_EQ(lo, 0.485f);  // 0.5 + 0.01 (-1 - 0.5)
  EXPECT_FLOAT_EQ(hi, 2.02f);   // 2 + 0.01 (4 - 2)
  for (int i = 2; i < 1000; ++i) trackActivationRange(later, RangeTracking::FirstBatchMovingAverage, lo, hi, steps);
  EXPECT_NEAR(lo, -1.0f + 1.5f * std::pow(0.99, 999), 1e-5);
  EXPECT_NEAR(hi, 4.0f - 2.0f * std::pow(0.99, 999), 1e-5);
}

TEST(FakeQuantTest, LastValueRangeOfAWeightPerTensorAndPerChannel) {
  // Two output channels: [0.5, 2] (all positive) and [-3, 1].
  const Tensor w(Shape{2, 2}, {0.5f, 2.0f, -3.0f, 1.0f});
  float lo = 0, hi = 0;
  lastValueRange(w, false, {&lo, 1}, {&hi, 1});
  EXPECT_EQ(lo, -3.0f);
  EXPECT_EQ(hi, 2.0f);
  lastValueRange(w, true, {&lo, 1}, {&hi, 1});
  EXPECT_EQ(lo, -3.0f);
  EXPECT_EQ(hi, 3.0f);
  std::vector<float> mins(2), maxs(2);
  lastValueRange(w, false, mins, maxs);
  EXPECT_EQ(mins, (std::vector<float>{0.0f, -3.0f})) << "widened to contain 0";
  EXPECT_EQ(maxs, (std::vector<float>{2.0f, 1.0f}));
  lastValueRange(w, true, mins, maxs);
  EXPECT_EQ(mins, (std::vector<float>{-2.0f, -3.0f}));
  EXPECT_EQ(maxs, (std::vector<float>{2.0f, 3.0f}));
}

TEST(FakeQuantTest, NamesRoundTrip) {
  for (RoundingMode m : {RoundingMode::HalfUp, RoundingMode::HalfEven})
    EXPECT_EQ(parseRoundingMode(roundingModeName(m)), m);
  for (RangeTracking t : {RangeTracking::MovingAverage, RangeTracking::FirstBatchMovingAverage})
    EXPECT_EQ(parseRangeTracking(rangeTrackingName(t)), t);
  EXPECT_NE(messageOf([] { parseRoundingMode("nearest"); }).find("got 'nearest'"), std::string::npos);
}

}  // namespace
}  // namespace shrink
