#include <gtest/gtest.h>

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
using test::pattern;

// C = A B in double, the plain triple loop.
Tensor naiveMatmul(const Tensor& a, const Tensor& b) {
  const int64_t m = a.dim(0), k = a.dim(1), n = b.dim(1);
  Tensor c(Shape{m, n});
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < n; ++j) {
      double s = 0;
      for (int64_t p = 0; p < k; ++p) s += double(a[i * k + p]) * double(b[p * n + j]);
      c[i * n + j] = static_cast<float>(s);
    }
  return c;
}

Tensor transposed(const Tensor& a) {
  Tensor t(Shape{a.dim(1), a.dim(0)});
  for (int64_t i = 0; i < a.dim(0); ++i)
    for (int64_t j = 0; j < a.dim(1); ++j) t[j * a.dim(0) + i] = a[i * a.dim(1) + j];
  return t;
}

TEST(MatmulTest, ForwardMatchesPyTorch) {
  // a @ b in PyTorch 2.15 (float32) with a = pattern([3,4], 7, 3, 17), b = pattern([4,5], 5, 1, 13).
  const Tensor expected(Shape{3, 5}, {-0.625f, 0.265625f, -0.671875f, 0.828125f, -0.109375f, -0.359375f, 0.296875f,
                                      0.140625f, 0.390625f, 0.234375f, -0.625f, -0.203125f, 0.421875f, -0.578125f,
                                      0.046875f});
  Variable c = matmul(Variable(pattern({3, 4}, 7, 3, 17)), Variable(pattern({4, 5}, 5, 1, 13)));
  EXPECT_TRUE(allClose(c.value(), expected));
}

TEST(MatmulTest, GradCheck) {
  Generator gen(11);
  EXPECT_TRUE(gradCheck([](std::vector<Variable>& in) { return matmul(in[0], in[1]); },
                        {gen.uniformTensor({3, 4}, -1, 1), gen.uniformTensor({4, 5}, -1, 1)}));
  // A row vector times a matrix, and a column times a row (k = 1).
  EXPECT_TRUE(gradCheck([](std::vector<Variable>& in) { return matmul(in[0], in[1]); },
                        {gen.uniformTensor({1, 6}, -1, 1), gen.uniformTensor({6, 2}, -1, 1)}));
  EXPECT_TRUE(gradCheck([](std::vector<Variable>& in) { return matmul(in[0], in[1]); },
                        {gen.uniformTensor({4, 1}, -1, 1), gen.uniformTensor({1, 3}, -1, 1)}));
}

TEST(MatmulTest, LargeProductsSplitAcrossThreadsAgreeWithNaive) {
  // Big enough for kernels::sgemm to split C across threads, both by rows (m > n) and by columns.
  setNumThreads(2);
  Generator gen(3);
  for (auto [m, k, n] : {std::tuple<int64_t, int64_t, int64_t>{150, 70, 40}, {40, 70, 150}}) {
    Variable a(gen.uniformTensor({m, k}, -1, 1), true);
    Variable b(gen.uniformTensor({k, n}, -1, 1), true);
    Variable c = matmul(a, b);
    EXPECT_TRUE(allClose(c.value(), naiveMatmul(a.value(), b.value()), 1e-4f, 1e-4f));
    const Tensor g = gen.uniformTensor({m, n}, -1, 1);
    c.backward(g);
    EXPECT_TRUE(allClose(a.grad(), naiveMatmul(g, transposed(b.value())), 1e-4f, 1e-4f));
    EXPECT_TRUE(allClose(b.grad(), naiveMatmul(transposed(a.value()), g), 1e-4f, 1e-4f));
  }
}

TEST(MatmulTest, BackwardAccumulatesAndSkipsInputsWithoutGrad) {
  Generator gen(5);
  Variable a(gen.uniformTensor({3, 4}, -1, 1), true);
  Variable b(gen.uniformTensor({4, 2}, -1, 1), false);
  const Tensor g = gen.uniformTensor({3, 2}, -1, 1);
  matmul(a, b).backward(g);
  const Tensor once = a.grad();
  matmul(a, b).backward(g);
  Tensor twice = once;
  twice *= 2.0f;
  EXPECT_TRUE(allClose(a.grad(), twice));
  EXPECT_FALSE(b.hasGrad());
}

TEST(MatmulTest, InnerDimensionMismatchNamesOpAndShapes) {
  Variable a(Tensor::zeros({3, 4})), b(Tensor::zeros({5, 2}));
  EXPECT_THROW(matmul(a, b), std::invalid_argument);
  const std::string msg = messageOf([&] { matmul(a, b); });
  EXPECT_NE(msg.find("matmul"), std::string::npos) << msg;
  EXPECT_NE(msg.find("[3, 4]"), std::string::npos) << msg;
  EXPECT_NE(msg.find("[5, 2]"), std::string::npos) << msg;
  EXPECT_THROW(matmul(Variable(Tensor::zeros({2, 3, 4})), b), std::invalid_argument);
}

TEST(LinearTest, ForwardMatchesPyTorch) {
  // F.linear(x, w, b) in PyTorch 2.15 with x = pattern([2,3], 7, 3, 17), w = pattern([4,3], 5, 1, 13),
  // b = pattern([4], 3, 2, 7).
  const Tensor expected(Shape{2, 4},
                        {-0.359375f, 1.296875f, 0.453125f, 0.484375f, -0.359375f, 0.859375f, 0.390625f, 0.796875f});
  Variable y = linear(Variable(pattern({2, 3}, 7, 3, 17)), Variable(pattern({4, 3}, 5, 1, 13)),
                      Variable(pattern({4}, 3, 2, 7)));
  EXPECT_TRUE(allClose(y.value(), expected));
}

TEST(LinearTest, GradCheckWithAndWithoutBias) {
  Generator gen(12);
  EXPECT_TRUE(gradCheck([](std::vector<Variable>& in) { return linear(in[0], in[1], in[2]); },
                        {gen.uniformTensor({5, 3}, -1, 1), gen.uniformTensor({4, 3}, -1, 1),
                         gen.uniformTensor({4}, -1, 1)}));
  EXPECT_TRUE(gradCheck([](std::vector<Variable>& in) { return linear(in[0], in[1]); },
                        {gen.uniformTensor({2, 6}, -1, 1), gen.uniformTensor({3, 6}, -1, 1)}));
}

TEST(LinearTest, ThreadedShapesAgreeWithMatmulOfTranspose) {
  // 128 x 784 -> 300, the MLP layer: each of the three products is split across threads.
  setNumThreads(2);
  Generator gen(8);
  Variable x(gen.uniformTensor({128, 784}, -1, 1), true);
  Variable w(gen.uniformTensor({300, 784}, -0.1f, 0.1f), true);
  Variable b(gen.uniformTensor({300}, -1, 1), true);
  Variable y = linear(x, w, b);
  Tensor ref = naiveMatmul(x.value(), transposed(w.value()));
  for (int64_t i = 0; i < 128; ++i)
    for (int64_t j = 0; j < 300; ++j) ref[i * 300 + j] += b.value()[j];
  EXPECT_TRUE(allClose(y.value(), ref, 1e-4f, 1e-4f));
  const Tensor g = gen.uniformTensor({128, 300}, -1, 1);
  y.backward(g);
  EXPECT_TRUE(allClose(x.grad(), naiveMatmul(g, w.value()), 1e-4f, 1e-4f));
  EXPECT_TRUE(allClose(w.grad(), naiveMatmul(transposed(g), x.value()), 1e-3f, 1e-4f));
  Tensor db(Shape{300});
  for (int64_t i = 0; i < 128; ++i)
    for (int64_t j = 0; j < 300; ++j) db[j] += g[i * 300 + j];
  EXPECT_TRUE(allClose(b.grad(), db, 1e-4f, 1e-4f));
}

TEST(LinearTest, BackwardAccumulatesIntoEveryGradient) {
  Generator gen(13);
  Variable x(gen.uniformTensor({4, 3}, -1, 1), true);
  Variable w(gen.uniformTensor({5, 3}, -1, 1), true);
  Variable b(gen.uniformTensor({5}, -1, 1), true);
  const Tensor g = gen.uniformTensor({4, 5}, -1, 1);
  linear(x, w, b).backward(g);
  Tensor dx = x.grad(), dw = w.grad(), db = b.grad();
  dx *= 2.0f;
  dw *= 2.0f;
  db *= 2.0f;
  linear(x, w, b).backward(g);
  EXPECT_TRUE(allClose(x.grad(), dx));
  EXPECT_TRUE(allClose(w.grad(), dw));
  EXPECT_TRUE(allClose(b.grad(), db));
}

TEST(LinearTest, BadShapesNameOpAndShapes) {
  Variable x(Tensor::zeros({2, 3})), w(Tensor::zeros({4, 5}));
  EXPECT_THROW(linear(x, w), std::invalid_argument);
  std::string msg = messageOf([&] { linear(x, w); });
  EXPECT_NE(msg.find("linear"), std::string::npos) << msg;
  EXPECT_NE(msg.find("[2, 3]"), std::string::npos) << msg;
  EXPECT_NE(msg.find("[4, 5]"), std::string::npos) << msg;
  msg = messageOf([&] { linear(x, Variable(Tensor::zeros({4, 3})), Variable(Tensor::zeros({3}))); });
  EXPECT_NE(msg.find("bias"), std::string::npos) << msg;
  EXPECT_NE(msg.find("[3]"), std::string::npos) << msg;
  EXPECT_THROW(linear(Variable(Tensor::zeros({3})), w), std::invalid_argument);
}

TEST(ThreadsTest, SetAndQuery) {
  const int before = numThreads();
  EXPECT_GE(before, 1);
  setNumThreads(1);
  EXPECT_EQ(numThreads(), 1);
  setNumThreads(before);
  EXPECT_EQ(numThreads(), before);
  EXPECT_THROW(setNumThreads(0), std::invalid_argument);
}

}  // namespace
}  // namespace shrink
