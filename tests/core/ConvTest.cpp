#include <gtest/gtest.h>

#include <algorithm>
#include <string>

#include "GradCheck.h"
#include "TestUtils.h"
#include "core/Functions.h"
#include "core/Random.h"
#include "core/Threads.h"
#include "core/kernels/Conv.h"

namespace shrink {
namespace {

using test::allClose;
using test::gradCheck;
using test::messageOf;
using test::pattern;

// Direct convolution in double with explicit leading padding (trailing padding implied by oh, ow):
// forward, and the gradients for a given dy. The reference the kernels are compared with.
struct NaiveConv {
  int64_t strideH, strideW, padTop, padLeft, oh, ow;

  Tensor forward(const Tensor& x, const Tensor& w, const Tensor* b) const {
    const int64_t n = x.dim(0), c = x.dim(1), h = x.dim(2), wd = x.dim(3), f = w.dim(0), kh = w.dim(2),
                  kw = w.dim(3);
    Tensor y(Shape{n, f, oh, ow});
    for (int64_t in = 0; in < n; ++in)
      for (int64_t of = 0; of < f; ++of)
        for (int64_t oy = 0; oy < oh; ++oy)
          for (int64_t ox = 0; ox < ow; ++ox) {
            double s = b ? (*b)[of] : 0.0;
            for (int64_t ic = 0; ic < c; ++ic)
              for (int64_t i = 0; i < kh; ++i)
                for (int64_t j = 0; j < kw; ++j) {
                  const int64_t iy = oy * strideH - padTop + i, ix = ox * strideW - padLeft + j;
                  if (iy < 0 || iy >= h || ix < 0 || ix >= wd) continue;
                  s += double(x[((in * c + ic) * h + iy) * wd + ix]) * double(w[((of * c + ic) * kh + i) * kw + j]);
                }
            y[((in * f + of) * oh + oy) * ow + ox] = static_cast<float>(s);
          }
    return y;
  }

  void backward(const Tensor& x, const Tensor& w, const Tensor& dy, Tensor& dx, Tensor& dw) const {
    const int64_t n = x.dim(0), c = x.dim(1), h = x.dim(2), wd = x.dim(3), f = w.dim(0), kh = w.dim(2),
                  kw = w.dim(3);
    dx = Tensor::zeros(x.shape());
    dw = Tensor::zeros(w.shape());
    for (int64_t in = 0; in < n; ++in)
      for (int64_t of = 0; of < f; ++of)
        for (int64_t oy = 0; oy < oh; ++oy)
          for (int64_t ox = 0; ox < ow; ++ox) {
            const float g = dy[((in * f + of) * oh + oy) * ow + ox];
            for (int64_t ic = 0; ic < c; ++ic)
              for (int64_t i = 0; i < kh; ++i)
                for (int64_t j = 0; j < kw; ++j) {
                  const int64_t iy = oy * strideH - padTop + i, ix = ox * strideW - padLeft + j;
                  if (iy < 0 || iy >= h || ix < 0 || ix >= wd) continue;
                  const int64_t xi = ((in * c + ic) * h + iy) * wd + ix, wi = ((of * c + ic) * kh + i) * kw + j;
                  dx[xi] += g * w[wi];
                  dw[wi] += g * x[xi];
                }
          }
  }
};

TEST(ConvTest, SameStride1WithBiasMatchesPyTorch) {
  // F.conv2d(x, w, b, padding=1) in PyTorch 2.15 (3x3 'same', even total padding 2 per axis) with
  // x = pattern([2,2,5,6], 7, 3, 17), w = pattern([3,2,3,3], 5, 1, 13), b = pattern([3], 3, 2, 7).
  const Tensor expected(
      Shape{2, 3, 5, 6},
      {0.421875f,  -0.53125f,  -0.65625f,  0.546875f,  -0.109375f, -0.0625f,   1.03125f,   -0.953125f, 0.0f,
       1.484375f,  -0.75f,     -0.4375f,   -1.484375f, -1.34375f,  1.734375f,  -0.765625f, 0.1875f,    -0.46875f,
       -0.28125f,  1.1875f,    0.015625f,  0.171875f,  -0.734375f, -0.5f,      -0.078125f, -1.421875f, 2.65625f,
       -2.03125f,  1.515625f,  -1.234375f, 1.3125f,    -1.609375f, -0.5625f,   2.078125f,  -0.59375f,  0.375f,
       0.0625f,    -0.515625f, 1.484375f,  1.09375f,   0.4375f,    0.078125f,  -0.734375f, 0.59375f,   1.53125f,
       0.34375f,   -0.3125f,   0.140625f,  -1.53125f,  1.171875f,  1.3125f,    -0.40625f,  0.53125f,   0.203125f,
       0.328125f,  0.296875f,  2.359375f,  -0.890625f, 0.90625f,   -0.609375f, 1.125f,     -0.3125f,   -1.546875f,
       2.53125f,   -2.15625f,  0.34375f,   -1.984375f, -2.171875f, 2.296875f,  -2.0f,      0.34375f,   -0.484375f,
       -1.0625f,   2.0625f,    -1.171875f, 0.375f,     -0.46875f,  -0.53125f,  -0.40625f,  -1.140625f, 1.734375f,
       -0.4375f,   0.3125f,    -0.578125f, -0.34375f,  1.34375f,   -0.640625f, -1.03125f,  0.4375f,    -1.671875f,
       -0.125f,    -0.0625f,   0.609375f,  -0.578125f, -0.703125f, 0.3125f,    -0.75f,     0.1875f,    -0.71875f,
       -1.09375f,  1.1875f,    0.578125f,  0.984375f,  -0.734375f, 0.21875f,   -0.953125f, 0.0f,       1.078125f,
       -0.734375f, 0.734375f,  -1.5f,      -1.34375f,  1.734375f,  -0.28125f,  1.78125f,   -1.90625f,  -0.21875f,
       2.0f,       -1.359375f, 0.4375f,    -0.421875f, 1.171875f,  -0.171875f, 0.078125f,  1.125f,     0.578125f,
       0.59375f,   -0.3125f,   0.359375f,  -2.15625f,  1.171875f,  0.703125f,  0.59375f,   0.53125f,   -0.65625f,
       -0.515625f, 1.484375f,  1.296875f,  0.59375f,   0.046875f,  -0.609375f, 0.59375f,   1.53125f,   -0.234375f,
       1.265625f,  -1.0625f,   -1.390625f, 2.0f,       0.078125f,  0.625f,     -1.796875f, 1.328125f,  -2.03125f,
       -0.34375f,  1.875f,     -0.640625f, 0.859375f,  -0.46875f,  -0.25f,     -0.03125f,  -1.140625f, 1.171875f,
       -0.875f,    0.3125f,    -1.59375f,  -2.171875f, 2.296875f,  -1.796875f, 0.84375f,   -0.5f,      -1.609375f,
       2.0625f,    -1.171875f, -0.25f,     -0.328125f, -1.90625f,  0.625f,     -0.296875f, 0.640625f,  0.546875f});
  Variable y = conv2d(Variable(pattern({2, 2, 5, 6}, 7, 3, 17)), Variable(pattern({3, 2, 3, 3}, 5, 1, 13)),
                      Variable(pattern({3}, 3, 2, 7)), {.padding = Padding::Same});
  EXPECT_TRUE(allClose(y.value(), expected));
}

TEST(ConvTest, SameWithOddTotalPaddingMatchesPyTorch) {
  // Kernel 2x3, stride 1, 'same' on 4x5: total padding 1 in H (TensorFlow: 0 top, 1 bottom) and 2 in W.
  // PyTorch 2.15: F.conv2d(F.pad(x, (1, 1, 0, 1)), w) with x = pattern([1,2,4,5], 7, 3, 17),
  // w = pattern([2,2,2,3], 5, 1, 13).
  const Tensor expected(
      Shape{1, 2, 4, 5},
      {-0.90625f, 2.09375f,  -1.421875f, 1.96875f,   -0.6875f,  -0.828125f, 2.046875f, -1.46875f,
       1.921875f, -0.625f,   -0.21875f,  0.40625f,   -1.78125f, 3.46875f,   -1.09375f, 1.015625f,
       -0.703125f, -0.546875f, 0.40625f, -0.5f,      1.71875f,  -1.484375f, 0.859375f, -1.046875f,
       -1.359375f, 1.78125f, -1.453125f, 0.890625f,  -1.015625f, -1.515625f, 0.25f,     -1.6875f,
       1.984375f, -1.515625f, -0.875f,   -0.375f,    -0.609375f, 1.765625f, -0.640625f, 0.21875f});
  Variable y = conv2d(Variable(pattern({1, 2, 4, 5}, 7, 3, 17)), Variable(pattern({2, 2, 2, 3}, 5, 1, 13)), {},
                      {.padding = Padding::Same});
  EXPECT_TRUE(allClose(y.value(), expected));
}

TEST(ConvTest, SameStride2MatchesPyTorch) {
  // 3x3, stride 2, 'same' on 6x7: output 3x4; total padding 1 in H (0 top, 1 bottom), 2 in W (1, 1).
  // PyTorch 2.15: F.conv2d(F.pad(x, (1, 1, 0, 1)), w, b, stride=2) with x = pattern([2,1,6,7], 7, 3, 17),
  // w = pattern([2,1,3,3], 5, 1, 13), b = pattern([2], 3, 2, 7).
  const Tensor expected(
      Shape{2, 2, 3, 4},
      {0.4375f,    0.796875f,  1.171875f,  0.5625f,    0.90625f,   0.234375f, -1.25f,     -0.3125f,
       0.21875f,   0.75f,      -1.046875f, -0.875f,    -0.171875f, -1.53125f, -0.265625f, -0.46875f,
       0.21875f,   0.15625f,   1.15625f,   1.21875f,   0.65625f,   -0.296875f, 0.625f,    0.546875f,
       -0.546875f, -1.421875f, 0.015625f,  0.328125f,  -0.609375f, 0.671875f, 1.046875f,  0.515625f,
       0.296875f,  0.46875f,   -0.796875f, -0.015625f, 0.46875f,   1.140625f, 0.015625f,  0.078125f,
       0.59375f,   -1.421875f, -0.15625f,  -0.359375f, -1.015625f, 0.46875f,  0.328125f,  0.671875f});
  Variable y = conv2d(Variable(pattern({2, 1, 6, 7}, 7, 3, 17)), Variable(pattern({2, 1, 3, 3}, 5, 1, 13)),
                      Variable(pattern({2}, 3, 2, 7)), {.strideH = 2, .strideW = 2, .padding = Padding::Same});
  EXPECT_TRUE(allClose(y.value(), expected));
}

TEST(ConvTest, ValidNonSquareStrideMatchesPyTorch) {
  // PyTorch 2.15: F.conv2d(x, w, stride=(2, 1)) with x = pattern([1,2,5,5], 7, 3, 17),
  // w = pattern([2,2,3,2], 5, 1, 13).
  const Tensor expected(Shape{1, 2, 2, 4}, {0.40625f, -0.453125f, 0.015625f, -1.109375f, -1.015625f, 0.78125f,
                                            -0.078125f, 1.1875f, -1.15625f, -0.40625f, 0.34375f, 0.296875f,
                                            0.234375f, 0.1875f, 0.40625f, -1.5f});
  Variable y = conv2d(Variable(pattern({1, 2, 5, 5}, 7, 3, 17)), Variable(pattern({2, 2, 3, 2}, 5, 1, 13)), {},
                      {.strideH = 2, .strideW = 1});
  EXPECT_TRUE(allClose(y.value(), expected));
}

struct GradCase {
  const char* name;
  Shape x, w;
  Conv2dOptions options;
  bool bias;
};

TEST(ConvTest, GradCheck) {
  const GradCase cases[] = {
      {"same stride 1, bias", {2, 2, 5, 5}, {3, 2, 3, 3}, {.padding = Padding::Same}, true},
      {"same stride 1, 2x3 kernel, no bias", {1, 2, 4, 5}, {2, 2, 2, 3}, {.padding = Padding::Same}, false},
      {"same stride 2, odd total padding", {3, 1, 6, 7}, {2, 1, 3, 3}, {2, 2, Padding::Same}, true},
      {"same stride (1, 2), 4x1 kernel", {2, 2, 5, 6}, {2, 2, 4, 1}, {1, 2, Padding::Same}, false},
      {"valid stride 1, 3x2 kernel, bias", {2, 3, 5, 4}, {2, 3, 3, 2}, {.padding = Padding::Valid}, true},
      {"valid stride 2, no bias", {3, 2, 7, 6}, {2, 2, 3, 3}, {2, 2, Padding::Valid}, false},
      {"valid 1x1 (pointwise)", {2, 3, 3, 4}, {2, 3, 1, 1}, {.padding = Padding::Valid}, true},
  };
  for (const GradCase& c : cases) {
    Generator gen(21);
    std::vector<Tensor> inputs{gen.uniformTensor(c.x, -1, 1), gen.uniformTensor(c.w, -1, 1)};
    if (c.bias) inputs.push_back(gen.uniformTensor({c.w[0]}, -1, 1));
    const Conv2dOptions opts = c.options;
    EXPECT_TRUE(gradCheck(
        [opts](std::vector<Variable>& in) { return conv2d(in[0], in[1], in.size() > 2 ? in[2] : Variable(), opts); },
        inputs))
        << c.name;
  }
}

struct KernelCase {
  const char* name;
  int64_t batch, c, h, w, f, kh, kw, stride;
  Padding padding;
};

// Output size and leading padding of one axis, written out independently of functions/Conv.cpp:
// TensorFlow's SAME puts the odd padding element at the end.
void expectedAxis(Padding p, int64_t in, int64_t k, int64_t s, int64_t& out, int64_t& pad) {
  if (p == Padding::Valid) {
    out = (in - k) / s + 1;
    pad = 0;
  } else {
    out = (in + s - 1) / s;
    pad = std::max<int64_t>((out - 1) * s + k - in, 0) / 2;
  }
}

TEST(ConvTest, EveryKernelPathAgreesWithDirectConvolution) {
  // Forward, input, weight and bias gradients against the double-precision loops. The cases cover
  // both implementations: the AVX2 direct kernels (batch >= threads, >= 8 channels; 20 and 9 channels
  // leave partly filled 16-channel panels) and im2col + sgemm (batch 1, few channels, the input
  // gradient of strided convolutions, 1x1 kernels).
  setNumThreads(2);
  const KernelCase cases[] = {
      {"direct, same, 5x5", 4, 9, 7, 6, 20, 5, 5, 1, Padding::Same},
      {"direct, same, 4x2 (odd/even total padding)", 3, 16, 6, 5, 16, 4, 2, 1, Padding::Same},
      {"direct, valid, stride 2", 5, 8, 9, 8, 12, 3, 3, 2, Padding::Valid},
      {"direct forward, same, stride 2, 3x5", 5, 10, 9, 8, 9, 3, 5, 2, Padding::Same},
      {"im2col, batch 1", 1, 9, 7, 6, 20, 5, 5, 1, Padding::Same},
      {"im2col, few channels, stride 2", 5, 3, 9, 8, 4, 3, 5, 2, Padding::Same},
      {"pointwise", 3, 9, 4, 5, 10, 1, 1, 1, Padding::Valid},
  };
  for (const KernelCase& k : cases) {
    Generator gen(4);
    NaiveConv ref{k.stride, k.stride, 0, 0, 0, 0};
    expectedAxis(k.padding, k.h, k.kh, k.stride, ref.oh, ref.padTop);
    expectedAxis(k.padding, k.w, k.kw, k.stride, ref.ow, ref.padLeft);
    Variable x(gen.uniformTensor({k.batch, k.c, k.h, k.w}, -1, 1), true);
    Variable w(gen.uniformTensor({k.f, k.c, k.kh, k.kw}, -1, 1), true);
    Variable b(gen.uniformTensor({k.f}, -1, 1), true);
    Variable y = conv2d(x, w, b, {static_cast<int>(k.stride), static_cast<int>(k.stride), k.padding});
    EXPECT_TRUE(allClose(y.value(), ref.forward(x.value(), w.value(), &b.value()), 1e-4f, 1e-4f)) << k.name;
    const Tensor dy = gen.uniformTensor(y.shape(), -1, 1);
    y.backward(dy);
    Tensor dx, dw;
    ref.backward(x.value(), w.value(), dy, dx, dw);
    EXPECT_TRUE(allClose(x.grad(), dx, 1e-4f, 1e-4f)) << k.name;
    EXPECT_TRUE(allClose(w.grad(), dw, 2e-4f, 1e-4f)) << k.name;
    Tensor db = Tensor::zeros({k.f});
    const int64_t pixels = ref.oh * ref.ow;
    for (int64_t i = 0; i < dy.numel(); ++i) db[(i / pixels) % k.f] += dy[i];
    EXPECT_TRUE(allClose(b.grad(), db, 1e-4f, 1e-4f)) << k.name;
  }
}

TEST(ConvTest, GradCheckThroughDirectKernels) {
  // Batch 2 with 8 channels in and out: forward, input and weight gradients all take the AVX2 path.
  setNumThreads(2);
  Generator gen(31);
  EXPECT_TRUE(gradCheck(
      [](std::vector<Variable>& in) { return conv2d(in[0], in[1], in[2], {.padding = Padding::Same}); },
      {gen.uniformTensor({2, 8, 4, 4}, -1, 1), gen.uniformTensor({8, 8, 3, 3}, -1, 1),
       gen.uniformTensor({8}, -1, 1)}));
}

TEST(ConvTest, BackwardAccumulatesAndSkipsInputsWithoutGrad) {
  setNumThreads(2);
  Generator gen(6);
  Variable x(gen.uniformTensor({2, 1, 6, 6}, -1, 1), false);  // a first layer: no input gradient
  Variable w(gen.uniformTensor({3, 1, 3, 3}, -1, 1), true);
  const Tensor dy = gen.uniformTensor({2, 3, 6, 6}, -1, 1);
  conv2d(x, w, {}, {.padding = Padding::Same}).backward(dy);
  Tensor twice = w.grad();
  twice *= 2.0f;
  conv2d(x, w, {}, {.padding = Padding::Same}).backward(dy);
  EXPECT_TRUE(allClose(w.grad(), twice, 1e-5f, 1e-5f));
  EXPECT_FALSE(x.hasGrad());

  // The same through the direct kernels (batch 2, 8 channels in and out), input gradient included.
  Variable x8(gen.uniformTensor({2, 8, 5, 5}, -1, 1), true);
  Variable w8(gen.uniformTensor({8, 8, 3, 3}, -1, 1), true);
  const Tensor dy8 = gen.uniformTensor({2, 8, 5, 5}, -1, 1);
  conv2d(x8, w8, {}, {.padding = Padding::Same}).backward(dy8);
  Tensor dx2 = x8.grad(), dw2 = w8.grad();
  dx2 *= 2.0f;
  dw2 *= 2.0f;
  conv2d(x8, w8, {}, {.padding = Padding::Same}).backward(dy8);
  EXPECT_TRUE(allClose(x8.grad(), dx2, 1e-5f, 1e-5f));
  EXPECT_TRUE(allClose(w8.grad(), dw2, 1e-5f, 1e-5f));
}

TEST(ConvTest, Col2imIsTheAdjointOfIm2col) {
  // <im2col(x), c> == <x, col2im(c)> for every geometry, padding and stride included.
  kernels::Conv2dGeometry g;
  g.batch = 1, g.inChannels = 2, g.inH = 7, g.inW = 6, g.outChannels = 1, g.kernelH = 3, g.kernelW = 4;
  g.strideH = 2, g.strideW = 3, g.padTop = 1, g.padLeft = 2, g.outH = 4, g.outW = 2;
  Generator gen(9);
  const Tensor x = gen.uniformTensor({g.inChannels * g.inH * g.inW}, -1, 1);
  const Tensor c = gen.uniformTensor({g.colRows() * g.outPixels()}, -1, 1);
  Tensor col(Shape{g.colRows() * g.outPixels()}, 123.0f);  // im2col must overwrite every entry
  kernels::im2col(g, x.data(), col.data());
  Tensor back = Tensor::zeros({x.numel()});
  kernels::col2im(g, c.data(), back.data());
  double lhs = 0, rhs = 0;
  for (int64_t i = 0; i < col.numel(); ++i) lhs += double(col[i]) * c[i];
  for (int64_t i = 0; i < x.numel(); ++i) rhs += double(x[i]) * back[i];
  EXPECT_NEAR(lhs, rhs, 1e-4);
}

TEST(ConvTest, BadInputsNameOpAndShapes) {
  Variable w(Tensor::zeros({4, 3, 3, 3}));
  std::string msg = messageOf([&] { conv2d(Variable(Tensor::zeros({3, 8, 8})), w); });
  EXPECT_NE(msg.find("conv2d"), std::string::npos) << msg;
  EXPECT_NE(msg.find("[3, 8, 8]"), std::string::npos) << msg;
  EXPECT_THROW(conv2d(Variable(Tensor::zeros({3, 8, 8})), w), std::invalid_argument);

  msg = messageOf([&] { conv2d(Variable(Tensor::zeros({2, 2, 8, 8})), w); });
  EXPECT_NE(msg.find("conv2d"), std::string::npos) << msg;
  EXPECT_NE(msg.find("[2, 2, 8, 8]"), std::string::npos) << msg;
  EXPECT_NE(msg.find("[4, 3, 3, 3]"), std::string::npos) << msg;
  EXPECT_THROW(conv2d(Variable(Tensor::zeros({2, 2, 8, 8})), w), std::invalid_argument);

  msg = messageOf([&] { conv2d(Variable(Tensor::zeros({1, 3, 8, 8})), w, Variable(Tensor::zeros({3}))); });
  EXPECT_NE(msg.find("bias"), std::string::npos) << msg;
  msg = messageOf([&] { conv2d(Variable(Tensor::zeros({1, 3, 2, 8})), w); });
  EXPECT_NE(msg.find("[1, 3, 2, 8]"), std::string::npos) << msg;
  EXPECT_THROW(conv2d(Variable(Tensor::zeros({1, 3, 8, 8})), w, {}, {.strideH = 0}), std::invalid_argument);
}

}  // namespace
}  // namespace shrink
