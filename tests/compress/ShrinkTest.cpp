// Physical removal of pruned units and filters: outputs unchanged, parameter counts as computed by
// hand, surviving values copied, and the cases it must leave alone or refuse.
#include <memory>

#include <gtest/gtest.h>

#include "compress/Shrink.h"
#include "compress/StructuredPruning.h"
#include "tests/compress/StructuredTestUtils.h"

namespace shrink {
namespace {

using test::allClose;
using test::messageOf;
using test::outputOf;

std::vector<int64_t> keptOf(const std::vector<bool>& pruned) {
  std::vector<int64_t> out;
  for (size_t j = 0; j < pruned.size(); ++j)
    if (!pruned[j]) out.push_back(int64_t(j));
  return out;
}

/// Parameters of the smallCnn shape with c1, c2 filters and h hidden units (8x8 input, two 2x2 pools):
/// conv 1->c1 3x3 + bias, BatchNorm gamma and beta, conv c1->c2 3x3 + bias, Dense c2*2*2->h + bias, Dense h->3 + bias.
int64_t smallCnnParams(int64_t c1, int64_t c2, int64_t h) {
  return (c1 * 1 * 9 + c1) + 2 * c1 + (c2 * c1 * 9 + c2) + (h * c2 * 4 + h) + (3 * h + 3);
}

TEST(ShrinkTest, SeedCnnLikeModelKeepsOutputsAndShrinksToTheFormula) {
  auto model = test::smallCnn(41);
  const Tensor x = test::uniform(Shape{6, 1, 8, 8}, 42);
  ASSERT_EQ(model->parameterCount(), smallCnnParams(8, 6, 10));
  StructuredPruner pruner(*model);
  pruner.prune(0.5);
  const std::vector<int64_t> kept = keptOf(pruner.prunedUnits("conv2d_1"));
  const Tensor oldConv = dynamic_cast<Conv2D&>(model->at(4)).weight().leaf().value();
  const std::vector<int64_t> keptIn = keptOf(pruner.prunedUnits("conv2d"));
  const Tensor before = outputOf(*model, x);

  const ShrinkResult r = shrinkStructured(*model);
  EXPECT_TRUE(allClose(outputOf(*model, x), before, 1e-5f, 0));
  EXPECT_EQ(r.paramsBefore, smallCnnParams(8, 6, 10));
  EXPECT_EQ(r.paramsAfter, smallCnnParams(4, 3, 5));
  EXPECT_EQ(model->parameterCount(), smallCnnParams(4, 3, 5));
  EXPECT_EQ(r.unitsRemoved(), 4 + 3 + 5);
  const struct {
    const char* name;
    int64_t before, after;
    bool rebuilt;
  } want[] = {{"conv2d", 8, 4, true}, {"batch_normalization", 8, 4, true}, {"conv2d_1", 6, 3, true},
              {"dense", 10, 5, true}, {"dense_1", 3, 3, true}};
  ASSERT_EQ(r.layers.size(), 5u);
  for (size_t i = 0; i < 5; ++i) {
    EXPECT_EQ(r.layers[i].name, want[i].name);
    EXPECT_EQ(r.layers[i].unitsBefore, want[i].before) << want[i].name;
    EXPECT_EQ(r.layers[i].unitsAfter, want[i].after) << want[i].name;
    EXPECT_EQ(r.layers[i].rebuilt, want[i].rebuilt) << want[i].name;
    EXPECT_EQ(r.layers[i].paramsAfter, model->at(model->indexOf(want[i].name)).parameterCount());
  }
  EXPECT_EQ(r.layers[4].paramsBefore, 33);
  EXPECT_EQ(r.layers[4].paramsAfter, 18);

  // Same names and mode; the surviving filters' surviving input slices copied exactly.
  auto& conv = dynamic_cast<Conv2D&>(model->at(model->indexOf("conv2d_1")));
  EXPECT_EQ(conv.options().in, 4);
  EXPECT_EQ(conv.options().out, 3);
  EXPECT_TRUE(conv.isTraining());
  EXPECT_EQ(dynamic_cast<Dense&>(model->at(7)).options().in, 12);
  const Tensor& w = conv.weight().leaf().value();
  for (int64_t r2 = 0; r2 < 3; ++r2)
    for (int64_t c = 0; c < 4; ++c)
      for (int64_t s = 0; s < 9; ++s)
        EXPECT_EQ(w[(r2 * 4 + c) * 9 + s], oldConv[(kept[r2] * 8 + keptIn[c]) * 9 + s]);
  EXPECT_EQ(outputOf(*model, x, true).shape(), (Shape{6, 3}));

  // The pruner notices the rebuilt layers and starts afresh: prune and shrink again.
  pruner.prune(0.0);
  EXPECT_EQ(pruner.counts()[0].units, 4);
  EXPECT_EQ(pruner.counts()[0].pruned, 0);
  pruner.prune(0.5);
  const Tensor again = outputOf(*model, x);
  const ShrinkResult r2 = shrinkStructured(*model);
  EXPECT_TRUE(allClose(outputOf(*model, x), again, 1e-5f, 0));
  EXPECT_EQ(r2.paramsAfter, smallCnnParams(2, 2, 2));
}

TEST(ShrinkTest, DenseOnlyMlpKeepsOutputsAndCopiesSurvivors) {
  Sequential model;
  model.add<Dense>({.in = 6, .out = 8, .activation = Activation::ReLU, .seed = 1});
  model.add<Dense>({.in = 8, .out = 5, .activation = Activation::Tanh, .seed = 2});
  model.add<Dense>({.in = 5, .out = 2, .seed = 3});
  test::randomizeExtras(model, 4);
  StructuredPruner pruner(model);
  pruner.pruneUnits("dense", {1, 4, 6});
  pruner.pruneUnits("dense_1", {0, 3});
  const Tensor old = dynamic_cast<Dense&>(model.at(1)).weight().leaf().value();
  const Tensor x = test::uniform(Shape{7, 6}, 5);
  const Tensor before = outputOf(model, x);
  EXPECT_EQ(model.parameterCount(), (8 * 6 + 8) + (5 * 8 + 5) + (2 * 5 + 2));

  const ShrinkResult r = shrinkStructured(model);
  EXPECT_TRUE(allClose(outputOf(model, x), before, 1e-5f, 0));
  EXPECT_EQ(r.paramsAfter, (5 * 6 + 5) + (3 * 5 + 3) + (2 * 3 + 2));
  const Tensor& w = dynamic_cast<Dense&>(model.at(1)).weight().leaf().value();
  ASSERT_EQ(w.shape(), (Shape{3, 5}));
  const int64_t rows[] = {1, 2, 4}, cols[] = {0, 2, 3, 5, 7};
  for (int64_t r2 = 0; r2 < 3; ++r2)
    for (int64_t c = 0; c < 5; ++c) EXPECT_EQ(w[r2 * 5 + c], old[rows[r2] * 8 + cols[c]]);
}

TEST(ShrinkTest, RemovesOnlyUnitsThatAreExactlyDead) {
  Sequential model;
  auto& d = model.add<Dense>({.in = 3, .out = 4, .useBias = false, .activation = Activation::ReLU, .seed = 1});
  auto& bn = model.add<BatchNorm>({.features = 4});
  auto& d1 = model.add<Dense>({.in = 4, .out = 3, .activation = Activation::ReLU, .seed = 2});
  model.add<Dense>({.in = 3, .out = 2, .seed = 3});
  test::randomizeExtras(model, 4);
  Tensor& w = d.weight().leaf().mutableValue();
  for (int64_t j : {0, 1, 2})
    for (int64_t c = 0; c < 3; ++c) w[j * 3 + c] = 0;
  bn.gamma().leaf().mutableValue()[0] = 0;  // unit 0: row, gamma and beta zero: dead
  bn.beta().leaf().mutableValue()[0] = 0;
  bn.gamma().leaf().mutableValue()[1] = 0;  // unit 1: beta stays nonzero
  bn.beta().leaf().mutableValue()[2] = 0;   // unit 2: gamma stays nonzero (eval output -gamma mean / std)
  Tensor& w1 = d1.weight().leaf().mutableValue();
  for (int64_t c = 0; c < 4; ++c) w1[1 * 4 + c] = 0;  // dense_1 unit 1: row zero but bias nonzero
  const Tensor x = test::uniform(Shape{5, 3}, 6);
  const Tensor before = outputOf(model, x);

  const ShrinkResult r = shrinkStructured(model);
  EXPECT_TRUE(allClose(outputOf(model, x), before, 1e-5f, 0));
  EXPECT_EQ(r.layers[0].unitsAfter, 3);
  EXPECT_EQ(r.layers[1].unitsAfter, 3);
  EXPECT_EQ(r.layers[2].unitsAfter, 3);
  EXPECT_EQ(r.unitsRemoved(), 1);

  // A layer whose units are all dead keeps one.
  Sequential all;
  auto& z = all.add<Dense>({.in = 3, .out = 2, .activation = Activation::ReLU, .seed = 1});
  all.add<Dense>({.in = 2, .out = 1, .seed = 2});
  z.weight().leaf().mutableValue().fill(0);
  const Tensor beforeAll = outputOf(all, x);
  EXPECT_EQ(shrinkStructured(all).layers[0].unitsAfter, 1);
  EXPECT_TRUE(allClose(outputOf(all, x), beforeAll, 1e-6f, 0));
}

TEST(ShrinkTest, LeavesChainsWithNonzeroActivationsAlone) {
  Sequential model;
  auto& d = model.add<Dense>({.in = 3, .out = 4, .seed = 1});
  model.add<Sigmoid>({});
  model.add<Dense>({.in = 4, .out = 2, .seed = 2});
  std::fill_n(d.weight().leaf().mutableValue().data() + 3, 3, 0.0f);  // unit 1: row and bias zero, but sigmoid(0) = 0.5
  const Tensor x = test::uniform(Shape{4, 3}, 3);
  const Tensor before = outputOf(model, x);
  const ShrinkResult r = shrinkStructured(model);
  EXPECT_EQ(r.paramsAfter, r.paramsBefore);
  EXPECT_FALSE(r.layers[0].rebuilt);
  EXPECT_EQ(&model.at(0), &d);
  EXPECT_TRUE(allClose(outputOf(model, x), before, 0, 0));
}

/// A wrapper holding one Dense (the way compression wrappers hold their layer).
class Holder : public Module {
 public:
  explicit Holder(std::unique_ptr<Module> inner) : inner_(&registerModule("layer", std::move(inner))) {}
  Variable forward(const Variable& x) override { return inner_->forward(x); }
  std::string typeName() const override { return "Holder"; }

 private:
  Module* inner_;
};

class Scale : public Module {
 public:
  Variable forward(const Variable& x) override { return mul(x, 2.0f); }
  std::string typeName() const override { return "Scale"; }
};

TEST(ShrinkTest, RefusesWhatItCannotRemoveExactly) {
  Sequential nested;
  nested.add<Dense>({.in = 3, .out = 4, .seed = 1});
  nested.add(std::make_unique<Sequential>());
  nested.add<Dense>({.in = 4, .out = 2, .seed = 2});
  EXPECT_NE(messageOf([&] { shrinkStructured(nested); }).find("layer 1 'sequential' is a nested Sequential"),
            std::string::npos);

  Sequential unknown;
  unknown.add<Dense>({.in = 3, .out = 4, .seed = 1});
  unknown.add(std::make_unique<Scale>());
  unknown.add<Dense>({.in = 4, .out = 2, .seed = 2});
  EXPECT_NE(messageOf([&] { shrinkStructured(unknown); })
                .find("layer 1 'scale' (Scale) between 'dense' and 'dense_1' is not supported"),
            std::string::npos);

  // A wrapped layer is pruned through its wrapper, but not rebuilt.
  Sequential wrapped;
  wrapped.add(std::make_unique<Holder>(std::make_unique<Dense>(DenseOptions{
                  .in = 3, .out = 4, .activation = Activation::ReLU, .seed = 1})),
              "held");
  wrapped.add<Dense>({.in = 4, .out = 2, .seed = 2});
  StructuredPruner pruner(wrapped);
  pruner.pruneUnits("held", {2});
  EXPECT_TRUE(test::channelIsZero(outputOf(wrapped.at(0), test::uniform(Shape{5, 3}, 3)), 2, 4));
  EXPECT_NE(messageOf([&] { shrinkStructured(wrapped); })
                .find("layer 'held' is a Holder holding its Dense; strip compression wrappers before shrinking"),
            std::string::npos);
}

}  // namespace
}  // namespace shrink
