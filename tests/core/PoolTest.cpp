#include <gtest/gtest.h>

#include <algorithm>
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

/// Values 0.05 apart in a seeded random order: no max-pool window holds a tie, and a +-1e-2 probe
/// never changes which cell wins.
Tensor distinct(Shape shape, uint64_t seed) {
  Tensor t(std::move(shape));
  for (int64_t i = 0; i < t.numel(); ++i) t[i] = 0.05f * static_cast<float>(i) - 1.0f;
  Generator gen(seed);
  for (int64_t i = t.numel() - 1; i > 0; --i)
    std::swap(t[i], t[static_cast<int64_t>(gen.below(static_cast<uint64_t>(i + 1)))]);
  return t;
}

// The 3x3 grid -1 .. -9 (row-major) used by the padding examples: every value is negative, so a padded
// cell counted as 0 would win every max and shift every mean.
Tensor negativeGrid() { return Tensor(Shape{1, 1, 3, 3}, {-1, -2, -3, -4, -5, -6, -7, -8, -9}); }

TEST(Pool2dTest, ValidHandComputed) {
  // 2x2 windows, stride 2 (0 = kernel size): maxima and means of the four quadrants, worked by hand.
  const Tensor x(Shape{1, 1, 4, 4}, {1, 5, 2, 0, -3, 4, 8, 7, 6, -1, -2, 3, 0, 2, 9, -4});
  EXPECT_TRUE(allClose(maxPool2d(Variable(x)).value(), Tensor(Shape{1, 1, 2, 2}, {5, 8, 6, 9}), 0, 0));
  // (1+5-3+4)/4, (2+0+8+7)/4, (6-1+0+2)/4, (-2+3+9-4)/4
  EXPECT_TRUE(allClose(avgPool2d(Variable(x)).value(), Tensor(Shape{1, 1, 2, 2}, {1.75f, 4.25f, 1.75f, 1.5f}), 0, 0));
}

TEST(Pool2dTest, SameStride2IgnoresPaddedCells) {
  // 2x2, stride 2, 'same' on 3x3: output 2x2, total padding 1 per axis, all of it bottom/right
  // (TensorFlow). Windows by hand: {-1,-2,-4,-5}, {-3,-6}, {-7,-8}, {-9}.
  const Pool2dOptions o{.padding = Padding::Same};
  EXPECT_TRUE(allClose(maxPool2d(Variable(negativeGrid()), o).value(), Tensor(Shape{1, 1, 2, 2}, {-1, -3, -7, -9}),
                       0, 0));
  EXPECT_TRUE(allClose(avgPool2d(Variable(negativeGrid()), o).value(),
                       Tensor(Shape{1, 1, 2, 2}, {-3, -4.5f, -7.5f, -9}), 0, 0));
}

TEST(Pool2dTest, SameStride1PadsBothSides) {
  // 3x3, stride 1, 'same' on 3x3: one padded row/column on each side. The max of a window is its
  // top-left input cell; the mean of cell -(3r + c + 1) over rows R and columns C is
  // -(3 mean(R) + mean(C) + 1), with mean(R) = 0.5, 1, 1.5 for the top, middle and bottom windows.
  const Pool2dOptions o{.kernelH = 3, .kernelW = 3, .strideH = 1, .strideW = 1, .padding = Padding::Same};
  EXPECT_TRUE(allClose(maxPool2d(Variable(negativeGrid()), o).value(),
                       Tensor(Shape{1, 1, 3, 3}, {-1, -1, -2, -1, -1, -2, -4, -4, -5}), 0, 0));
  EXPECT_TRUE(allClose(avgPool2d(Variable(negativeGrid()), o).value(),
                       Tensor(Shape{1, 1, 3, 3}, {-3, -3.5f, -4, -4.5f, -5, -5.5f, -6, -6.5f, -7}), 1e-6f, 0));
}

TEST(Pool2dTest, MaxPoolRoutesGradientToTheMaximum) {
  const Tensor x(Shape{1, 1, 2, 4}, {1, 5, 2, 0, -3, 4, 8, 7});
  Variable v(x, true);
  maxPool2d(v).backward(Tensor(Shape{1, 1, 1, 2}, {10, 20}));
  EXPECT_TRUE(allClose(v.grad(), Tensor(Shape{1, 1, 2, 4}, {0, 10, 0, 0, 0, 0, 20, 0}), 0, 0));
}

// Direct pooling in double over an explicitly padded plane (padding marked invalid), and its gradients
// for a given dy: the reference the kernels are compared with at sizes that use several threads.
struct NaivePool {
  int64_t kh, kw, sh, sw, padTop, padLeft, oh, ow;

  void run(const Tensor& x, const Tensor& dy, bool isMax, Tensor& y, Tensor& dx) const {
    const int64_t planes = x.dim(0) * x.dim(1), h = x.dim(2), w = x.dim(3);
    y = Tensor(Shape{x.dim(0), x.dim(1), oh, ow});
    dx = Tensor::zeros(x.shape());
    for (int64_t p = 0; p < planes; ++p)
      for (int64_t oy = 0; oy < oh; ++oy)
        for (int64_t ox = 0; ox < ow; ++ox) {
          double best = -std::numeric_limits<double>::infinity(), sum = 0;
          int64_t at = -1, count = 0;
          for (int64_t i = 0; i < kh; ++i)
            for (int64_t j = 0; j < kw; ++j) {
              const int64_t iy = oy * sh - padTop + i, ix = ox * sw - padLeft + j;
              if (iy < 0 || iy >= h || ix < 0 || ix >= w) continue;
              const int64_t idx = (p * h + iy) * w + ix;
              sum += x[idx];
              ++count;
              if (x[idx] > best) best = x[idx], at = idx;
            }
          const int64_t o = (p * oh + oy) * ow + ox;
          y[o] = static_cast<float>(isMax ? best : sum / double(count));
          for (int64_t i = 0; i < kh && !isMax; ++i)
            for (int64_t j = 0; j < kw; ++j) {
              const int64_t iy = oy * sh - padTop + i, ix = ox * sw - padLeft + j;
              if (iy >= 0 && iy < h && ix >= 0 && ix < w) dx[(p * h + iy) * w + ix] += dy[o] / float(count);
            }
          if (isMax) dx[at] += dy[o];
        }
  }
};

TEST(Pool2dTest, ThreadedKernelsAgreeWithDirectLoops) {
  // [4, 8, 32, 33] is above the size at which the kernels spread planes over threads.
  setNumThreads(2);
  struct Case {
    const char* name;
    Pool2dOptions o;
    NaivePool ref;
  };
  // Geometry worked out by hand: 'same' 3x3 stride 2 on 32x33 gives 16x17 with total padding 1 (rows:
  // 15*2+3-32) and 2 (columns: 16*2+3-33), leading 0 and 1.
  const Case cases[] = {
      {"valid 2x2", {}, {2, 2, 2, 2, 0, 0, 16, 16}},
      {"same 3x3 stride 2", {3, 3, 2, 2, Padding::Same}, {3, 3, 2, 2, 0, 1, 16, 17}},
      {"valid 3x2 stride (1, 3)", {3, 2, 1, 3, Padding::Valid}, {3, 2, 1, 3, 0, 0, 30, 11}},
  };
  for (const Case& c : cases) {
    const Tensor x = distinct({4, 8, 32, 33}, 3);
    for (bool isMax : {true, false}) {
      SCOPED_TRACE(std::string(c.name) + (isMax ? " max" : " avg"));
      Variable v(x, true);
      Variable y = isMax ? maxPool2d(v, c.o) : avgPool2d(v, c.o);
      Generator gen(5);
      const Tensor dy = gen.uniformTensor(y.shape(), -1, 1);
      Tensor yRef, dxRef;
      c.ref.run(x, dy, isMax, yRef, dxRef);
      EXPECT_TRUE(allClose(y.value(), yRef, 1e-5f, 1e-5f));
      y.backward(dy);
      EXPECT_TRUE(allClose(v.grad(), dxRef, 1e-5f, 1e-5f));
    }
  }
}

struct GradCase {
  const char* name;
  Shape x;
  Pool2dOptions options;
};

// Central differences with eps 1e-2 against the analytic gradient; relative error below 1e-3 (both ops
// are piecewise linear and the probes never cross a tie, so only float rounding remains).
TEST(Pool2dTest, GradCheck) {
  const GradCase cases[] = {
      {"valid 2x2, stride = kernel", {2, 2, 5, 5}, {}},
      {"valid 3x3, stride 1", {1, 2, 5, 6}, {3, 3, 1, 1, Padding::Valid}},
      {"valid 2x3, stride (1, 2), non-square", {1, 2, 4, 7}, {2, 3, 1, 2, Padding::Valid}},
      {"valid 2x2, stride 3 (gaps)", {1, 1, 7, 7}, {2, 2, 3, 3, Padding::Valid}},
      {"same 2x2, stride 2", {2, 2, 5, 5}, {.padding = Padding::Same}},
      {"same 3x3, stride 1", {1, 2, 4, 5}, {3, 3, 1, 1, Padding::Same}},
      {"same 3x2, stride (2, 1), non-square", {2, 1, 5, 6}, {3, 2, 2, 1, Padding::Same}},
  };
  uint64_t seed = 11;
  for (const GradCase& c : cases) {
    const Pool2dOptions o = c.options;
    EXPECT_TRUE(gradCheck([o](std::vector<Variable>& in) { return maxPool2d(in[0], o); }, {distinct(c.x, seed++)},
                          1e-2f, 1e-3f))
        << "maxPool2d " << c.name;
    Generator gen(seed++);
    EXPECT_TRUE(gradCheck([o](std::vector<Variable>& in) { return avgPool2d(in[0], o); },
                          {gen.uniformTensor(c.x, -1, 1)}, 1e-2f, 1e-3f))
        << "avgPool2d " << c.name;
  }
}

TEST(Pool2dTest, NoGraphWithoutGradient) {
  Variable x(distinct({1, 1, 4, 4}, 2), false);
  EXPECT_FALSE(maxPool2d(x).requiresGrad());
  NoGradGuard guard;
  Variable xg(distinct({1, 1, 4, 4}, 2), true);
  EXPECT_FALSE(maxPool2d(xg).requiresGrad());
  EXPECT_TRUE(allClose(maxPool2d(xg).value(), maxPool2d(x).value(), 0, 0));
}

TEST(Pool2dTest, BadInputsNameOpAndShapes) {
  EXPECT_EQ(messageOf([] { maxPool2d(Variable(Tensor::zeros({2, 3, 4}))); }),
            "maxPool2d: expected a 4-D input [N, C, H, W], got [2, 3, 4]");
  EXPECT_EQ(messageOf([] { avgPool2d(Variable(Tensor::zeros({2, 3, 4}))); }),
            "avgPool2d: expected a 4-D input [N, C, H, W], got [2, 3, 4]");
  EXPECT_EQ(messageOf([] { avgPool2d(Variable(Tensor::zeros({1, 1, 1, 4}))); }),
            "avgPool2d: input [1, 1, 1, 4] is smaller than the 2x2 kernel with 'valid' padding");
  std::string msg = messageOf([] { maxPool2d(Variable(Tensor::zeros({1, 2, 5, 5})), {.kernelH = 3, .kernelW = 6}); });
  EXPECT_NE(msg.find("maxPool2d"), std::string::npos) << msg;
  EXPECT_NE(msg.find("[1, 2, 5, 5]"), std::string::npos) << msg;
  EXPECT_NE(msg.find("3x6"), std::string::npos) << msg;
  // The same kernel is fine with 'same' padding: one window of the whole (padded) input per row.
  EXPECT_EQ(maxPool2d(Variable(Tensor::zeros({1, 2, 5, 5})), {.kernelH = 3, .kernelW = 6, .padding = Padding::Same})
                .shape(),
            Shape({1, 2, 2, 1}));
  msg = messageOf([] { maxPool2d(Variable(Tensor::zeros({1, 1, 4, 4})), {.kernelH = 0}); });
  EXPECT_NE(msg.find("maxPool2d: kernel must be positive, got 0x2"), std::string::npos) << msg;
  msg = messageOf([] { avgPool2d(Variable(Tensor::zeros({1, 1, 4, 4})), {.strideW = -1}); });
  EXPECT_NE(msg.find("avgPool2d: strides"), std::string::npos) << msg;
  EXPECT_NE(messageOf([] { maxPool2d(Variable()); }).find("maxPool2d: undefined input"), std::string::npos);
}

}  // namespace
}  // namespace shrink
