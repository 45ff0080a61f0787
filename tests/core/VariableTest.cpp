#include <gtest/gtest.h>

#include "core/Module.h"
#include "core/Variable.h"

namespace shrink {

namespace {
// y = a * b built by hand with fromOp, so this test depends on Variable alone.
Variable times(const Variable& a, const Variable& b) {
  Tensor v = a.value();
  v.array() *= b.value().array();
  return Variable::fromOp(std::move(v), {a, b},
                          [](std::vector<Variable>& in, const Tensor& g, const Tensor&) {
                            if (in[0].requiresGrad()) in[0].gradBuffer().array() += g.array() * in[1].value().array();
                            if (in[1].requiresGrad()) in[1].gradBuffer().array() += g.array() * in[0].value().array();
                          },
                          "times");
}
}  // namespace

TEST(VariableTest, BackwardAccumulatesThroughSharedInputs) {
  Variable x(Tensor::scalar(3.0f), true);
  Variable y = times(times(x, x), x);  // x^3, x used three times
  y.backward();
  EXPECT_FLOAT_EQ(x.grad().item(), 27.0f);
}

TEST(VariableTest, NoGradGuardRecordsNothing) {
  Variable x(Tensor::scalar(2.0f), true);
  {
    NoGradGuard g;
    Variable y = times(x, x);
    EXPECT_FALSE(y.requiresGrad());
    EXPECT_THROW(y.backward(), std::invalid_argument);
  }
  EXPECT_TRUE(isGradEnabled());
}

TEST(VariableTest, GraphIsReleasedAfterBackward) {
  Variable x(Tensor::scalar(2.0f), true);
  Variable y = times(x, x);
  y.backward();
  EXPECT_TRUE(y.isLeaf());
  EXPECT_THROW(y.backward(), std::invalid_argument);
}

TEST(VariableTest, NonScalarBackwardNeedsGradient) {
  Variable x(Tensor(Shape{3}, {1, 2, 3}), true);
  Variable y = times(x, x);
  EXPECT_THROW(y.backward(), std::invalid_argument);
  y.backward(Tensor::ones(Shape{3}));
  EXPECT_FLOAT_EQ(x.grad()[2], 6.0f);
}

namespace {
struct Toy : Module {
  Toy() {
    w = &registerParameter("weight", Tensor::ones(Shape{2, 2}));
    registerParameter("frozen", Tensor::ones(Shape{3}), false);
    registerBuffer("count", Tensor::zeros(Shape{1}));
  }
  Variable forward(const Variable& x) override { return x; }
  std::string typeName() const override { return "Toy"; }
  Parameter* w;
};
struct Pair : Module {
  Pair() {
    registerModule("a", std::make_unique<Toy>());
    registerModule("b", std::make_unique<Toy>());
  }
  Variable forward(const Variable& x) override { return x; }
  std::string typeName() const override { return "Pair"; }
};
}  // namespace

TEST(VariableTest, ModuleRegistryIsNamedAndOrdered) {
  Pair p;
  auto params = p.namedParameters();
  ASSERT_EQ(params.size(), 4u);
  EXPECT_EQ(params[0].first, "a.weight");
  EXPECT_EQ(params[3].first, "b.frozen");
  EXPECT_EQ(p.trainableParameters().size(), 2u);
  EXPECT_EQ(p.namedBuffers()[1].first, "b.count");
  EXPECT_EQ(p.parameterCount(), 14);
  EXPECT_EQ(p.trainableParameterCount(), 8);
  p.eval();
  EXPECT_FALSE(p.namedChildren()[1].second->isTraining());
}

namespace {
struct Halve : WeightTransform {
  Variable apply(const Variable& w) const override { return times(w, Variable(Tensor::full(w.shape(), 0.5f))); }
  TransformStage stage() const override { return TransformStage::Quantize; }
};
}  // namespace

TEST(VariableTest, ParameterTransformsAndBake) {
  Parameter p(Tensor::full(Shape{2}, 4.0f));
  Halve h;
  p.addTransform(&h);
  Variable v = p.value();
  EXPECT_FLOAT_EQ(v.value()[0], 2.0f);
  v.backward(Tensor::ones(Shape{2}));
  EXPECT_FLOAT_EQ(p.leaf().grad()[1], 0.5f);
  p.bake();
  EXPECT_TRUE(p.transforms().empty());
  EXPECT_FLOAT_EQ(p.leaf().value()[0], 2.0f);
}

}  // namespace shrink
