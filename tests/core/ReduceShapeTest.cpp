#include <gtest/gtest.h>

#include <string>

#include "GradCheck.h"
#include "TestUtils.h"
#include "core/Functions.h"

namespace shrink {
namespace {

using test::allClose;
using test::gradCheck;
using test::messageOf;
using test::uniform;

// 0, 1, 2, ... in row-major order: sums over any axis are easy to write by hand.
Tensor iota(Shape shape) {
  Tensor t(std::move(shape));
  for (int64_t i = 0; i < t.numel(); ++i) t[i] = static_cast<float>(i);
  return t;
}

TEST(ReduceShapeTest, SumAndMeanOfAllAreScalars) {
  const Variable x(iota({2, 3}));
  const Variable s = sum(x), m = mean(x);
  EXPECT_EQ(s.shape().rank(), 0u);
  EXPECT_EQ(m.shape().rank(), 0u);
  EXPECT_FLOAT_EQ(s.value().item(), 15.0f);
  EXPECT_FLOAT_EQ(m.value().item(), 2.5f);
  EXPECT_THROW(mean(Variable(Tensor(Shape{0, 3}))), std::invalid_argument);
}

TEST(ReduceShapeTest, AxisReductionsByHand) {
  // iota([2, 3, 4]): element (i, j, k) = 12 i + 4 j + k.
  const Variable x(iota({2, 3, 4}));
  // Over axis 0: 12 + 2 (4 j + k).
  Tensor s0(Shape{3, 4});
  for (int64_t i = 0; i < 12; ++i) s0[i] = 12.0f + 2.0f * static_cast<float>(i);
  EXPECT_TRUE(allClose(sum(x, 0).value(), s0));
  // Over axis 1: 3 (12 i + k) + 12; keepDim gives [2, 1, 4].
  const Tensor s1(Shape{2, 1, 4}, {12, 15, 18, 21, 48, 51, 54, 57});
  EXPECT_TRUE(allClose(sum(x, 1, true).value(), s1));
  // Mean over the last axis (-1): 12 i + 4 j + 1.5.
  const Tensor m2(Shape{2, 3}, {1.5f, 5.5f, 9.5f, 13.5f, 17.5f, 21.5f});
  EXPECT_TRUE(allClose(mean(x, -1).value(), m2));
  EXPECT_TRUE(allClose(mean(x, 2, true).value(), m2.reshaped({2, 3, 1})));
  // A rank-1 input reduces to a scalar.
  EXPECT_EQ(sum(Variable(iota({5})), 0).shape(), Shape{});
  EXPECT_FLOAT_EQ(sum(Variable(iota({5})), 0).value().item(), 10.0f);
}

TEST(ReduceShapeTest, ReductionGradients) {
  const Tensor x = uniform({2, 3, 4}, 1);
  EXPECT_TRUE(gradCheck([](std::vector<Variable>& in) { return sum(in[0]); }, {x}));
  EXPECT_TRUE(gradCheck([](std::vector<Variable>& in) { return mean(in[0]); }, {x}));
  for (int axis = -3; axis < 3; ++axis)
    for (bool keep : {false, true}) {
      SCOPED_TRACE("axis " + std::to_string(axis) + (keep ? " keepDim" : ""));
      EXPECT_TRUE(gradCheck([=](std::vector<Variable>& in) { return sum(in[0], axis, keep); }, {x}));
      EXPECT_TRUE(gradCheck([=](std::vector<Variable>& in) { return mean(in[0], axis, keep); }, {x}));
    }
}

TEST(ReduceShapeTest, BadAxisIsRejected) {
  const std::string msg = messageOf([] { sum(Variable(iota({2, 3})), 2); });
  EXPECT_NE(msg.find("sum"), std::string::npos) << msg;
  EXPECT_NE(msg.find("[2, 3]"), std::string::npos) << msg;
  EXPECT_THROW(mean(Variable(iota({2, 3})), -3), std::invalid_argument);
}

TEST(ReduceShapeTest, ReshapeInfersOneDimension) {
  const Variable x(iota({2, 3, 4}));
  const Variable y = reshape(x, {4, -1});
  EXPECT_EQ(y.shape(), (Shape{4, 6}));
  EXPECT_TRUE(allClose(y.value(), iota({4, 6})));
  EXPECT_EQ(reshape(x, {-1}).shape(), Shape{24});
  EXPECT_EQ(flatten(Variable(iota({2, 3, 2, 2}))).shape(), (Shape{2, 12}));
  EXPECT_EQ(flatten(Variable(iota({5}))).shape(), (Shape{5, 1}));
}

TEST(ReduceShapeTest, ReshapeAndFlattenGradients) {
  EXPECT_TRUE(gradCheck([](std::vector<Variable>& in) { return reshape(in[0], {3, -1}); }, {uniform({2, 3, 2}, 2)}));
  EXPECT_TRUE(gradCheck([](std::vector<Variable>& in) { return flatten(in[0]); }, {uniform({2, 3, 2, 2}, 3)}));
}

TEST(ReduceShapeTest, ReshapeToIncompatibleSizeFails) {
  const Variable x(iota({2, 3}));
  const std::string msg = messageOf([&] { reshape(x, {4, 2}); });
  EXPECT_NE(msg.find("reshape"), std::string::npos) << msg;
  EXPECT_NE(msg.find("[2, 3]"), std::string::npos) << msg;
  EXPECT_NE(msg.find("[4, 2]"), std::string::npos) << msg;
  EXPECT_THROW(reshape(x, {4, -1}), std::invalid_argument);
  EXPECT_THROW(reshape(x, {-1, -1}), std::invalid_argument);
  EXPECT_THROW(flatten(Variable(Tensor::scalar(1))), std::invalid_argument);
}

TEST(ReduceShapeTest, ConcatByHand) {
  const Variable a(iota({2, 2}));                          // [[0, 1], [2, 3]]
  const Variable b(Tensor(Shape{2, 1}, {10, 20}));         // [[10], [20]]
  const Variable c(Tensor(Shape{1, 2}, {-1, -2}));         // [[-1, -2]]
  EXPECT_TRUE(allClose(concat({a, b}, 1).value(), Tensor(Shape{2, 3}, {0, 1, 10, 2, 3, 20})));
  EXPECT_TRUE(allClose(concat({a, b}, -1).value(), Tensor(Shape{2, 3}, {0, 1, 10, 2, 3, 20})));
  EXPECT_TRUE(allClose(concat({a, c, a}, 0).value(), Tensor(Shape{5, 2}, {0, 1, 2, 3, -1, -2, 0, 1, 2, 3})));
}

TEST(ReduceShapeTest, ConcatGradients) {
  for (int axis : {0, 1, 2, -1}) {
    SCOPED_TRACE("axis " + std::to_string(axis));
    Shape sa{2, 3, 4}, sb{2, 3, 4};
    std::vector<int64_t> db = sb.dims();
    db[axis < 0 ? axis + 3 : axis] = 2;
    EXPECT_TRUE(gradCheck([=](std::vector<Variable>& in) { return concat({in[0], in[1], in[0]}, axis); },
                          {uniform(sa, 4), uniform(Shape(db), 5)}));
  }
}

TEST(ReduceShapeTest, ConcatRejectsMismatchedShapes) {
  const std::string msg = messageOf([] { concat({Variable(iota({2, 3})), Variable(iota({3, 2}))}, 1); });
  EXPECT_NE(msg.find("concat"), std::string::npos) << msg;
  EXPECT_NE(msg.find("[3, 2]"), std::string::npos) << msg;
  EXPECT_THROW(concat({}, 0), std::invalid_argument);
  EXPECT_THROW(concat({Variable(iota({2, 3})), Variable(iota({2}))}, 0), std::invalid_argument);
  EXPECT_THROW(concat({Variable(iota({2, 3}))}, 2), std::invalid_argument);
}

}  // namespace
}  // namespace shrink
