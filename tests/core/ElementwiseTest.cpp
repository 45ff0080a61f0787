#include <gtest/gtest.h>

#include <cmath>
#include <string>

#include "GradCheck.h"
#include "TestUtils.h"
#include "core/Functions.h"

namespace shrink {
namespace {

using test::allClose;
using test::awayFromZero;
using test::gradCheck;
using test::messageOf;
using test::pattern;
using test::uniform;

using Binary = Variable (*)(const Variable&, const Variable&);
struct NamedBinary {
  const char* name;
  Binary op;
};
const NamedBinary kBinaryOps[] = {{"add", static_cast<Binary>(add)},
                                  {"sub", static_cast<Binary>(sub)},
                                  {"mul", static_cast<Binary>(mul)},
                                  {"div", static_cast<Binary>(div)}};

// Every binary op under one broadcasting pattern; the second operand stays away from 0 for div.
void checkAllBinaryGrads(const Shape& sa, const Shape& sb) {
  for (const NamedBinary& op : kBinaryOps) {
    SCOPED_TRACE(std::string(op.name) + " " + sa.str() + " with " + sb.str());
    EXPECT_TRUE(gradCheck([&](std::vector<Variable>& in) { return op.op(in[0], in[1]); },
                          {uniform(sa, 1), awayFromZero(sb, 2)}));
    // Broadcast operand first as well.
    EXPECT_TRUE(gradCheck([&](std::vector<Variable>& in) { return op.op(in[0], in[1]); },
                          {uniform(sb, 3), awayFromZero(sa, 4)}));
  }
}

TEST(ElementwiseTest, BroadcastForwardByHand) {
  const Variable a(Tensor(Shape{2, 3}, {1, 2, 3, 4, 5, 6}));
  EXPECT_TRUE(allClose(add(a, Variable(Tensor::fromVector({10, 20, 30}))).value(),
                       Tensor(Shape{2, 3}, {11, 22, 33, 14, 25, 36})));
  EXPECT_TRUE(allClose(sub(a, Variable(Tensor(Shape{2, 1}, {1, 2}))).value(),
                       Tensor(Shape{2, 3}, {0, 1, 2, 2, 3, 4})));
  EXPECT_TRUE(allClose(mul(Variable(Tensor::fromVector({2})), a).value(),
                       Tensor(Shape{2, 3}, {2, 4, 6, 8, 10, 12})));
  EXPECT_TRUE(allClose(div(a, Variable(Tensor::scalar(2))).value(),
                       Tensor(Shape{2, 3}, {0.5f, 1, 1.5f, 2, 2.5f, 3})));
  // Outer-product pattern [3, 1] + [1, 2] -> [3, 2].
  const Variable col(Tensor(Shape{3, 1}, {1, 2, 3}));
  const Variable row(Tensor(Shape{1, 2}, {10, 20}));
  EXPECT_TRUE(allClose(add(col, row).value(), Tensor(Shape{3, 2}, {11, 21, 12, 22, 13, 23})));
  // Rank-0 with rank-0 stays rank 0.
  EXPECT_EQ(mul(Variable(Tensor::scalar(3)), Variable(Tensor::scalar(4))).shape(), Shape{});
}

TEST(ElementwiseTest, ChannelBroadcastMatchesPyTorch) {
  // y = a * b, y.backward(gy) in PyTorch 2.x float32 with a = pattern([2,3,2,2], 5, 1, 11),
  // b = pattern([1,3,1,1], 3, 2, 7), gy = pattern([2,3,2,2], 7, 3, 13) (script: same pattern in numpy).
  const Tensor expectedY(Shape{2, 3, 2, 2},
                         {0.0625f, -0.015625f, 0.078125f, -0.0f, 0.15625f, -0.03125f, 0.125f, -0.0625f,
                          -0.09375f, 0.09375f, -0.0625f, 0.125f, -0.015625f, 0.078125f, -0.0f, -0.078125f,
                          -0.03125f, 0.125f, -0.0625f, 0.09375f, 0.09375f, -0.0625f, 0.125f, -0.03125f});
  const Tensor expectedGa(Shape{2, 3, 2, 2},
                          {0.046875f, -0.0625f, 0.03125f, -0.078125f, -0.03125f, 0.1875f, 0.0f, -0.1875f,
                           -0.03125f, 0.15625f, -0.0625f, 0.125f, -0.046875f, 0.046875f, -0.0625f, 0.03125f,
                           0.15625f, -0.03125f, 0.1875f, 0.0f, 0.1875f, -0.03125f, 0.15625f, -0.0625f});
  const Tensor expectedGb(Shape{1, 3, 1, 1}, {0.53125f, -0.3125f, 1.25f});
  Variable a(pattern({2, 3, 2, 2}, 5, 1, 11), true);
  Variable b(pattern({1, 3, 1, 1}, 3, 2, 7), true);
  Variable y = mul(a, b);
  EXPECT_TRUE(allClose(y.value(), expectedY));
  y.backward(pattern({2, 3, 2, 2}, 7, 3, 13));
  EXPECT_TRUE(allClose(a.grad(), expectedGa));
  EXPECT_TRUE(allClose(b.grad(), expectedGb));
}

TEST(ElementwiseTest, BiasDivMatchesPyTorch) {
  // y = a / b, y.backward(gy) in PyTorch 2.x float32 with a = pattern([2,3], 5, 1, 11),
  // b = pattern([3], 3, 2, 7) + 1, gy = pattern([2,3], 7, 3, 13).
  Tensor bv = pattern({3}, 3, 2, 7);
  bv.array() += 1.0f;
  Variable a(pattern({2, 3}, 5, 1, 11), true);
  Variable b(bv, true);
  Variable y = a / b;
  EXPECT_TRUE(allClose(y.value(), Tensor(Shape{2, 3}, {-0.5714285969734192f, 0.10000000149011612f,
                                                       -0.8333333134651184f, 0.0f, 0.5f, -0.1666666716337204f})));
  y.backward(pattern({2, 3}, 7, 3, 13));
  EXPECT_TRUE(allClose(a.grad(), Tensor(Shape{2, 3}, {-0.4285714328289032f, 0.4000000059604645f,
                                                      -0.3333333432674408f, 0.7142857313156128f,
                                                      -0.10000000149011612f, 1.0f})));
  EXPECT_TRUE(allClose(b.grad(), Tensor(Shape{3}, {-0.2448979765176773f, 0.010000001639127731f,
                                                   -0.11111108958721161f})));
}

TEST(ElementwiseTest, GradSameShape) { checkAllBinaryGrads(Shape{3, 4}, Shape{3, 4}); }
TEST(ElementwiseTest, GradBiasLike) { checkAllBinaryGrads(Shape{5, 4}, Shape{4}); }
TEST(ElementwiseTest, GradChannelLike) { checkAllBinaryGrads(Shape{2, 3, 2, 3}, Shape{1, 3, 1, 1}); }
TEST(ElementwiseTest, GradScalarLike) {
  checkAllBinaryGrads(Shape{2, 3}, Shape{1});
  checkAllBinaryGrads(Shape{2, 3}, Shape{});
}
TEST(ElementwiseTest, GradMixedPatterns) {
  checkAllBinaryGrads(Shape{3, 1}, Shape{1, 4});         // both sides broadcast
  checkAllBinaryGrads(Shape{2, 1, 3}, Shape{4, 1});      // rank 3 with rank 2
  checkAllBinaryGrads(Shape{2, 3, 1, 2}, Shape{3, 4, 1});  // interleaved
}

TEST(ElementwiseTest, UnaryGrads) {
  const Tensor x = uniform({3, 4}, 11);
  const Tensor positive = uniform({3, 4}, 12, 0.5f, 2.0f);
  EXPECT_TRUE(gradCheck([](std::vector<Variable>& in) { return add(in[0], 1.5f); }, {x}));
  EXPECT_TRUE(gradCheck([](std::vector<Variable>& in) { return mul(in[0], -2.5f); }, {x}));
  EXPECT_TRUE(gradCheck([](std::vector<Variable>& in) { return neg(in[0]); }, {x}));
  EXPECT_TRUE(gradCheck([](std::vector<Variable>& in) { return -in[0]; }, {x}));
  EXPECT_TRUE(gradCheck([](std::vector<Variable>& in) { return exp(in[0]); }, {x}));
  EXPECT_TRUE(gradCheck([](std::vector<Variable>& in) { return log(in[0]); }, {positive}));
  EXPECT_TRUE(gradCheck([](std::vector<Variable>& in) { return square(in[0]); }, {x}));
  EXPECT_TRUE(gradCheck([](std::vector<Variable>& in) { return sqrt(in[0]); }, {positive}));
  EXPECT_TRUE(gradCheck([](std::vector<Variable>& in) { return abs(in[0]); }, {awayFromZero({3, 4}, 13, 0.1f)}));
}

TEST(ElementwiseTest, OperatorsComposeWithGradients) {
  // f(a, b) = (a + b) * a / b - a, checked numerically end to end.
  EXPECT_TRUE(gradCheck([](std::vector<Variable>& in) { return (in[0] + in[1]) * in[0] / in[1] - in[0]; },
                        {uniform({2, 3}, 21), awayFromZero({3}, 22)}));
}

TEST(ElementwiseTest, UnaryForwardByHand) {
  const Variable x(Tensor::fromVector({-2, 0.25f, 4}));
  EXPECT_TRUE(allClose(add(x, 1).value(), Tensor::fromVector({-1, 1.25f, 5})));
  EXPECT_TRUE(allClose(mul(x, 2).value(), Tensor::fromVector({-4, 0.5f, 8})));
  EXPECT_TRUE(allClose(neg(x).value(), Tensor::fromVector({2, -0.25f, -4})));
  EXPECT_TRUE(allClose(square(x).value(), Tensor::fromVector({4, 0.0625f, 16})));
  EXPECT_TRUE(allClose(abs(x).value(), Tensor::fromVector({2, 0.25f, 4})));
  EXPECT_TRUE(allClose(sqrt(abs(x)).value(), Tensor::fromVector({std::sqrt(2.0f), 0.5f, 2})));
  EXPECT_TRUE(allClose(exp(x).value(), Tensor::fromVector({std::exp(-2.0f), std::exp(0.25f), std::exp(4.0f)})));
  EXPECT_TRUE(allClose(log(abs(x)).value(), Tensor::fromVector({std::log(2.0f), std::log(0.25f), std::log(4.0f)})));
}

TEST(ElementwiseTest, GradientsAccumulateAndSkipConstants) {
  Variable x(Tensor::fromVector({1, 2, 3}), true);
  Variable c(Tensor::fromVector({5, 6, 7}));  // no gradient wanted
  Variable y = sum(add(mul(x, c), x));         // dy/dx = c + 1
  y.backward();
  EXPECT_TRUE(allClose(x.grad(), Tensor::fromVector({6, 7, 8})));
  EXPECT_FALSE(c.hasGrad());
}

TEST(ElementwiseTest, MismatchedShapesNameOpAndShapes) {
  const Variable a(Tensor(Shape{2, 3}));
  const Variable b(Tensor(Shape{4}));
  const std::string msg = messageOf([&] { add(a, b); });
  EXPECT_NE(msg.find("add"), std::string::npos) << msg;
  EXPECT_NE(msg.find("[2, 3]"), std::string::npos) << msg;
  EXPECT_NE(msg.find("[4]"), std::string::npos) << msg;
  EXPECT_NE(messageOf([&] { div(Variable(Tensor(Shape{2, 3, 4})), Variable(Tensor(Shape{2, 4}))); }).find("div"),
            std::string::npos);
  EXPECT_NE(messageOf([&] { mul(Variable(Tensor(Shape{1, 1, 1, 1, 2})), Variable(Tensor(Shape{2}))); })
                .find("ranks up to 4"),
            std::string::npos);
}

}  // namespace
}  // namespace shrink
