// Channel scores (L1/L2 norms, Taylor) and structured pruning by masks: exact choices on hand-made
// weights, Taylor vs a hand computation and vs finite differences, exact zeros downstream, masks
// that survive training, iterative and global pruning, and errors.
#include <cmath>
#include <memory>

#include <gtest/gtest.h>

#include "compress/ChannelScores.h"
#include "compress/StructuredPruning.h"
#include "optim/optim.h"
#include "tests/compress/StructuredTestUtils.h"

namespace shrink {
namespace {

using test::allClose;
using test::channelIsZero;
using test::messageOf;
using test::rowIsZero;

/// A Prune-stage transform standing for an unrelated pruning mechanism: zeroes entry 0 of the weight.
class ForeignMask : public WeightTransform {
 public:
  explicit ForeignMask(const Shape& s) : mask_(Tensor::ones(s)) { mask_.mutableValue()[0] = 0.0f; }
  Variable apply(const Variable& w) const override { return mul(w, mask_); }
  TransformStage stage() const override { return TransformStage::Prune; }

 private:
  Variable mask_;
};

void setRows(Parameter& p, const std::vector<std::vector<float>>& rows) {
  Tensor& w = p.leaf().mutableValue();
  w.fill(0.0f);
  const int64_t per = w.numel() / w.dim(0);
  for (size_t r = 0; r < rows.size(); ++r)
    for (size_t c = 0; c < rows[r].size(); ++c) w[static_cast<int64_t>(r) * per + static_cast<int64_t>(c)] = rows[r][c];
}

std::vector<bool> flags(std::initializer_list<int> v) {
  std::vector<bool> out;
  for (int b : v) out.push_back(b != 0);
  return out;
}

TEST(ChannelScoresTest, RowNormsMatchHandValues) {
  const Tensor dense(Shape{3, 2}, {3, 4, -1, 0, 0, 0});
  EXPECT_TRUE(allClose(rowNorms(dense, ChannelNorm::L2), Tensor::fromVector({5, 1, 0})));
  EXPECT_TRUE(allClose(rowNorms(dense, ChannelNorm::L1), Tensor::fromVector({7, 1, 0})));
  const Tensor conv(Shape{2, 1, 2, 2}, {1, -2, 3, -4, 0.5f, 0.5f, -0.5f, 0.5f});
  EXPECT_TRUE(allClose(rowNorms(conv, ChannelNorm::L1), Tensor::fromVector({10, 2})));
  EXPECT_TRUE(allClose(rowNorms(conv, ChannelNorm::L2), Tensor::fromVector({std::sqrt(30.0f), 1})));
  EXPECT_TRUE(allClose(l2Normalized(Tensor::fromVector({3, 4})), Tensor::fromVector({0.6f, 0.8f})));
  EXPECT_TRUE(allClose(l2Normalized(Tensor::fromVector({0, 0})), Tensor::fromVector({0, 0})));
}

TEST(ChannelScoresTest, LayerScoresReadThroughTransforms) {
  Dense d({.in = 2, .out = 2, .seed = 1});
  setRows(d.weight(), {{3, 4}, {0, 2}});
  ForeignMask foreign(d.weight().shape());  // zeroes the 3
  d.weight().addTransform(&foreign);
  EXPECT_TRUE(allClose(unitL2Scores(d), Tensor::fromVector({4, 2})));
  d.weight().removeTransform(&foreign);
  Conv2D c({.in = 1, .out = 2, .kernel = {1, 2}, .seed = 2});
  setRows(c.weight(), {{1, -2}, {0.5f, 0}});
  EXPECT_TRUE(allClose(filterL1Scores(c), Tensor::fromVector({3, 0.5f})));
  BatchNorm bn({.features = 2});
  EXPECT_NE(messageOf([&] { unitL2Scores(bn); }).find("expected a Dense or Conv2D layer, got BatchNorm"),
            std::string::npos);
}

/// Dense(2 -> 3, ReLU) -> Dense(3 -> 1) with hand-set weights, MSE: C_n = (out_n - y_n)^2, so
/// dC_n/dz_j = 2 (out_n - y_n) W2[j] with z = relu(W1 x + b1), and Theta_j = mean_n |dC_n/dz_j z_j|.
TEST(ChannelScoresTest, TaylorMatchesHandComputationOnTwoLayerMlp) {
  Sequential model;
  auto& d1 = model.add<Dense>({.in = 2, .out = 3, .activation = Activation::ReLU, .seed = 1});
  auto& d2 = model.add<Dense>({.in = 3, .out = 1, .seed = 2});
  const float w1[3][2] = {{1, -1}, {0.5f, 2}, {-1, 0.25f}}, b1[3] = {0.1f, -0.2f, 0.3f};
  const float w2[3] = {0.7f, -0.4f, 1.2f}, b2 = 0.05f;
  d1.weight().leaf().mutableValue() = Tensor(Shape{3, 2}, {1, -1, 0.5f, 2, -1, 0.25f});
  d1.bias()->leaf().mutableValue() = Tensor::fromVector({b1[0], b1[1], b1[2]});
  d2.weight().leaf().mutableValue() = Tensor(Shape{1, 3}, {w2[0], w2[1], w2[2]});
  d2.bias()->leaf().mutableValue() = Tensor::fromVector({b2});
  const float xs[3][2] = {{1, 0.5f}, {-0.5f, 1}, {2, -1}}, ys[3] = {0.3f, -0.1f, 0.8f};
  data::TensorDataset data(Tensor(Shape{3, 2}, {1, 0.5f, -0.5f, 1, 2, -1}), Tensor(Shape{3, 1}, {0.3f, -0.1f, 0.8f}));

  double hidden[3] = {0, 0, 0}, output = 0;
  for (int n = 0; n < 3; ++n) {
    double z[3], out = b2;
    for (int j = 0; j < 3; ++j) {
      z[j] = std::max(0.0, double(w1[j][0]) * xs[n][0] + double(w1[j][1]) * xs[n][1] + b1[j]);
      out += w2[j] * z[j];
    }
    for (int j = 0; j < 3; ++j) hidden[j] += std::fabs(2 * (out - ys[n]) * w2[j] * z[j]) / 3;
    output += std::fabs(2 * (out - ys[n]) * out) / 3;
  }
  // Batches of 2 and 1: per-example gradients must not depend on the batch split.
  TaylorOptions opts{.objective = Objective::regression(), .batchSize = 2, .maxBatches = 0, .normalize = false};
  const auto scores = taylorScores(model, data, opts);
  ASSERT_EQ(scores.size(), 2u);
  EXPECT_EQ(scores[0].name, "dense");
  EXPECT_TRUE(allClose(scores[0].scores, Tensor::fromVector({float(hidden[0]), float(hidden[1]), float(hidden[2])})));
  EXPECT_TRUE(allClose(scores[1].scores, Tensor::fromVector({float(output)})));
  opts.normalize = true;
  const double norm = std::sqrt(hidden[0] * hidden[0] + hidden[1] * hidden[1] + hidden[2] * hidden[2]);
  EXPECT_TRUE(allClose(taylorScores(model, data, opts)[0].scores,
                       Tensor::fromVector({float(hidden[0] / norm), float(hidden[1] / norm), float(hidden[2] / norm)})));

  // The Taylor criterion prunes the unit with the smallest score.
  StructuredPruner pruner(model, {.criterion = UnitCriterion::Taylor, .taylor = opts});
  EXPECT_EQ(pruner.prune(0.34, &data), 1);
  const int smallest = int(std::min_element(hidden, hidden + 3) - hidden);
  const std::vector<bool> got = pruner.prunedUnits("dense");
  for (int j = 0; j < 3; ++j) EXPECT_EQ(got[j], j == smallest) << j;
}

/// Theta(z_c) = |(1/M) dC/d(eps)| where z_c is scaled by (1 + eps): checked by central differences on
/// Conv(ReLU) -> MaxPool -> BatchNorm -> Dropout -> Flatten -> Dense, one example at a time, in eval mode.
TEST(ChannelScoresTest, TaylorMatchesFiniteDifferencesAndChangesNoState) {
  Sequential model;
  model.add<Conv2D>({.in = 1, .out = 3, .kernel = {3, 3}, .padding = Padding::Same, .activation = Activation::ReLU,
                     .seed = 3});
  model.add<MaxPool2D>({});
  model.add<BatchNorm>({.features = 3});
  model.add<Dropout>({.rate = 0.5f, .seed = 4});
  model.add<Flatten>({});
  model.add<Dense>({.in = 12, .out = 2, .seed = 5});
  test::randomizeExtras(model, 6);
  auto& bn = dynamic_cast<BatchNorm&>(model.at(2));
  const Tensor meanBefore = bn.runningMean(), varBefore = bn.runningVar();
  Tensor y(Shape{4}, {0, 1, 1, 0});
  data::TensorDataset data(test::uniform(Shape{4, 1, 4, 4}, 7), y);
  const Objective obj = Objective::classification();

  const auto scores = taylorScores(model, data, {.objective = obj, .batchSize = 3, .maxBatches = 0, .normalize = false});
  EXPECT_TRUE(model.isTraining());
  EXPECT_TRUE(allClose(bn.runningMean(), meanBefore, 0, 0));
  EXPECT_TRUE(allClose(bn.runningVar(), varBefore, 0, 0));
  for (Parameter* p : model.parameters()) {
    EXPECT_TRUE(p->leaf().requiresGrad());
    EXPECT_FALSE(p->leaf().hasGrad());
  }

  model.eval();
  NoGradGuard noGrad;
  const double eps = 1e-2, m = 16;
  Tensor expected(Shape{3});
  for (int64_t n = 0; n < 4; ++n) {
    const data::Example ex = data.get(n);
    const Tensor z = model.at(0)(Variable(ex.x.reshaped({1, 1, 4, 4}))).value();
    auto lossAt = [&](int64_t c, double e) {
      Tensor zc = z;
      for (int64_t s = 0; s < 16; ++s) zc[c * 16 + s] *= float(1 + e);
      Variable h(zc);
      for (size_t i = 1; i < model.size(); ++i) h = model.at(i)(h);
      return double(obj.lossOf(h, ex.y.reshaped({1})).value().item());
    };
    for (int64_t c = 0; c < 3; ++c)
      expected[c] += float(std::fabs((lossAt(c, eps) - lossAt(c, -eps)) / (2 * eps) / m) / 4);
  }
  EXPECT_GT(expected[0] + expected[1] + expected[2], 1e-3f);
  EXPECT_TRUE(allClose(scores[0].scores, expected, 2e-4f, 1e-2f));
}

TEST(StructuredPrunerTest, MagnitudeGoesByLayerKindAndPicksExactUnits) {
  // Conv filters: f0 L1 4 / L2 2, f1 L1 3 / L2 3. Dense rows: r0 L1 .65 / L2 .65, r1 L1 1.2 / L2 .6, r2 1 / 1.
  auto build = [] {
    auto m = std::make_unique<Sequential>();
    auto& c = m->add<Conv2D>({.in = 1, .out = 2, .kernel = {2, 2}, .seed = 1});
    m->add<Flatten>({});
    auto& d = m->add<Dense>({.in = 8, .out = 3, .activation = Activation::ReLU, .seed = 2});
    m->add<Dense>({.in = 3, .out = 2, .seed = 3});
    setRows(c.weight(), {{1, 1, 1, 1}, {3, 0, 0, 0}});
    setRows(d.weight(), {{0.65f}, {0.3f, 0.3f, 0.3f, 0.3f}, {1}});
    return m;
  };
  const std::pair<UnitCriterion, std::pair<std::vector<bool>, std::vector<bool>>> cases[] = {
      {UnitCriterion::Magnitude, {flags({0, 1}), flags({0, 1, 0})}},
      {UnitCriterion::L1, {flags({0, 1}), flags({1, 0, 0})}},
      {UnitCriterion::L2, {flags({1, 0}), flags({0, 1, 0})}},
  };
  for (const auto& [criterion, want] : cases) {
    auto model = build();
    StructuredPruner pruner(*model, {.criterion = criterion});
    EXPECT_EQ(pruner.selectedLayers(), (std::vector<std::string>{"conv2d", "dense"}));
    EXPECT_EQ(pruner.prune(0.5), 2);
    EXPECT_EQ(pruner.prunedUnits("conv2d"), want.first) << int(criterion);
    EXPECT_EQ(pruner.prunedUnits("dense"), want.second) << int(criterion);
  }
}

TEST(StructuredPrunerTest, PrunedChannelsAreExactlyZeroDownstream) {
  auto model = test::smallCnn(11);
  StructuredPruner pruner(*model);
  EXPECT_EQ(pruner.prune(0.5), 4 + 3 + 5);
  const std::vector<UnitCount> counts = pruner.counts();
  ASSERT_EQ(counts.size(), 3u);
  EXPECT_EQ(counts[0].pruned, 4);
  EXPECT_EQ(counts[1].pruned, 3);
  EXPECT_EQ(counts[2].pruned, 5);
  // Producer index, channels, and the layers up to (not including) the next Dense/Conv2D.
  const struct {
    const char* name;
    size_t first, last;
    int64_t channels;
  } chains[] = {{"conv2d", 0, 3, 8}, {"conv2d_1", 4, 6, 6}, {"dense", 7, 8, 10}};
  const Tensor x = test::uniform(Shape{5, 1, 8, 8}, 12);
  for (bool training : {true, false}) {
    model->train(training);
    NoGradGuard noGrad;
    std::vector<Tensor> outs;
    Variable h(x);
    for (size_t i = 0; i < model->size(); ++i) outs.push_back((h = model->at(i)(h)).value());
    for (const auto& c : chains) {
      const std::vector<bool> pruned = pruner.prunedUnits(c.name);
      int64_t keptAlive = 0;  // kept channels may be 0 too (a ReLU off for these inputs), but not all
      for (int64_t j = 0; j < c.channels; ++j)
        for (size_t i = c.first; i <= c.last; ++i) {
          if (pruned[j])
            EXPECT_TRUE(channelIsZero(outs[i], j, c.channels))
                << c.name << " unit " << j << " after layer " << i << " training " << training;
          else
            keptAlive += channelIsZero(outs[i], j, c.channels) ? 0 : 1;
        }
      EXPECT_GT(keptAlive, 0) << c.name;
    }
  }
}

TEST(StructuredPrunerTest, MasksStayZeroThroughFitAndOnlyTheCallbackKeepsLeavesZero) {
  const data::TensorDataset data = test::imageData(100, 21);
  for (bool withCallback : {true, false}) {
    auto model = test::smallCnn(22);
    Adam adam(model->parameters(), {.lr = 0.01f});
    fit(*model, adam, Objective::classification(), data, {.epochs = 1, .batchSize = 10, .verbose = 0});  // momentum
    StructuredPruner pruner(*model);
    pruner.prune(0.5);
    auto& conv = dynamic_cast<Conv2D&>(model->at(4));
    auto& bn = dynamic_cast<BatchNorm&>(model->at(3));
    const Tensor keptBefore = conv.weight().leaf().value();
    std::vector<Callback*> callbacks;
    if (withCallback) callbacks.push_back(&pruner);
    fit(*model, adam, Objective::classification(), data, {.epochs = 5, .batchSize = 10, .verbose = 0}, callbacks);
    EXPECT_EQ(adam.iterations(), 60);

    bool allZero = true;
    for (const char* name : {"conv2d", "conv2d_1", "dense"}) {
      auto& layer = model->at(model->indexOf(name));
      const std::vector<bool> pruned = pruner.prunedUnits(name);
      for (auto& [pname, p] : layer.namedParameters())
        for (size_t j = 0; j < pruned.size(); ++j)
          if (pruned[j]) {
            EXPECT_TRUE(rowIsZero(p->value().value(), int64_t(j))) << name << "." << pname << " " << j;
            allZero = allZero && rowIsZero(p->leaf().value(), int64_t(j));
          }
    }
    const std::vector<bool> pruned0 = pruner.prunedUnits("conv2d");
    for (size_t j = 0; j < pruned0.size(); ++j)
      if (pruned0[j]) allZero = allZero && bn.gamma().leaf().value()[j] == 0 && bn.beta().leaf().value()[j] == 0;
    EXPECT_EQ(allZero, withCallback) << "with callback: " << withCallback;
    EXPECT_FALSE(allClose(conv.weight().leaf().value(), keptBefore));  // the surviving filters did train
  }
}

TEST(StructuredPrunerTest, IterativePruningAccumulatesMasks) {
  Sequential model;
  auto& d = model.add<Dense>({.in = 4, .out = 6, .activation = Activation::ReLU, .seed = 1});
  model.add<Dense>({.in = 6, .out = 2, .seed = 2});
  setRows(d.weight(), {{6}, {1}, {5}, {2}, {4}, {3}});
  StructuredPruner pruner(model);
  EXPECT_EQ(pruner.prune(0.34), 2);  // keeps round(3.96) = 4
  EXPECT_EQ(pruner.prunedUnits("dense"), flags({0, 1, 0, 1, 0, 0}));
  d.weight().leaf().mutableValue()[0] = 0.5f;  // fine-tuning made unit 0 the weakest survivor
  EXPECT_EQ(pruner.prune(0.5), 1);
  EXPECT_EQ(pruner.prunedUnits("dense"), flags({1, 1, 0, 1, 0, 0}));
  EXPECT_EQ(pruner.prune(0.25), 0);  // already beyond the target: nothing is revived or added
  EXPECT_EQ(pruner.counts()[0].pruned, 3);
  EXPECT_TRUE(rowIsZero(d.weight().leaf().value(), 0));
}

TEST(StructuredPrunerTest, GlobalScopeRanksLayerNormalisedScores) {
  auto build = [] {
    auto m = std::make_unique<Sequential>();
    auto& a = m->add<Dense>({.in = 2, .out = 4, .activation = Activation::ReLU, .seed = 1});
    auto& b = m->add<Dense>({.in = 4, .out = 2, .activation = Activation::ReLU, .seed = 2});
    m->add<Dense>({.in = 2, .out = 1, .seed = 3});
    setRows(a.weight(), {{10}, {20}, {20}, {40}});  // normalised .2 .4 .4 .8
    setRows(b.weight(), {{3}, {4}});                // normalised .6 .8
    return m;
  };
  auto global = build();
  StructuredPruner g(*global, {.scope = PruningScope::Global});
  EXPECT_EQ(g.prune(0.5), 3);
  EXPECT_EQ(g.prunedUnits("dense"), flags({1, 1, 1, 0}));
  EXPECT_EQ(g.prunedUnits("dense_1"), flags({0, 0}));
  auto perLayer = build();
  StructuredPruner p(*perLayer);
  EXPECT_EQ(p.prune(0.5), 3);
  EXPECT_EQ(p.prunedUnits("dense"), flags({1, 1, 0, 0}));
  EXPECT_EQ(p.prunedUnits("dense_1"), flags({1, 0}));
}

TEST(StructuredPrunerTest, LeavesOtherTransformsAlone) {
  Sequential model;
  auto& d = model.add<Dense>({.in = 3, .out = 4, .activation = Activation::ReLU, .seed = 1});
  model.add<Dense>({.in = 4, .out = 2, .seed = 2});
  setRows(d.weight(), {{5, 1}, {1}, {7}, {2}});
  ForeignMask foreign(d.weight().shape());
  d.weight().addTransform(&foreign);
  {
    StructuredPruner pruner(model);
    pruner.prune(0.5);  // scores read through the foreign mask: row 0 is 1, so rows 0 and 1 go
    EXPECT_EQ(pruner.prunedUnits("dense"), flags({1, 1, 0, 0}));
    EXPECT_EQ(d.weight().transforms().size(), 2u);
    pruner.removeMasks();
    ASSERT_EQ(d.weight().transforms().size(), 1u);
    EXPECT_EQ(d.weight().transforms()[0], &foreign);
    EXPECT_TRUE(d.bias()->transforms().empty());
    EXPECT_TRUE(rowIsZero(d.weight().leaf().value(), 0));
    EXPECT_TRUE(rowIsZero(d.weight().leaf().value(), 1));
    EXPECT_EQ(d.bias()->leaf().value()[1], 0.0f);
    pruner.prune(0.25);
  }  // the destructor detaches only its own transform
  ASSERT_EQ(d.weight().transforms().size(), 1u);
  EXPECT_EQ(d.weight().transforms()[0], &foreign);
  d.weight().removeTransform(&foreign);
}

TEST(StructuredPrunerTest, BadInputsThrowClearErrors) {
  auto model = test::smallCnn(31);
  StructuredPruner pruner(*model);
  EXPECT_NE(messageOf([&] { pruner.prune(-0.1); }).find("fraction must be in [0, 1), got -0.1"), std::string::npos);
  EXPECT_NE(messageOf([&] { pruner.prune(1.0); }).find("fraction must be in [0, 1), got 1"), std::string::npos);
  EXPECT_NE(messageOf([&] { pruner.pruneUnits("dense", {0, 10}); }).find("unit 10 out of range for layer 'dense'"),
            std::string::npos);
  EXPECT_NE(messageOf([&] { pruner.pruneUnits("dense_1", {0}); }).find("'dense_1' is not selected"), std::string::npos);
  EXPECT_NE(messageOf([&] { pruner.pruneUnits("conv2d_1", {0, 1, 2, 3, 4, 5}); }).find("would prune all 6 units"),
            std::string::npos);
  StructuredPruner taylor(*model, {.criterion = UnitCriterion::Taylor});
  EXPECT_NE(messageOf([&] { taylor.prune(0.5); }).find("Taylor criterion needs data"), std::string::npos);

  const std::string output = "is the model's output layer, which is never pruned";
  EXPECT_NE(messageOf([&] { StructuredPruner(*model, {.layers = {"conv2d", "dense_1"}}); }).find("'dense_1' " + output),
            std::string::npos);
  EXPECT_NE(messageOf([&] { StructuredPruner(*model, {.select = [](auto&, auto&) { return true; }}); }).find(output),
            std::string::npos);
  EXPECT_NE(messageOf([&] { StructuredPruner(*model, {.layers = {"batch_normalization"}}); })
                .find("'batch_normalization' is not a Dense/Conv2D layer of the model (those are: conv2d, conv2d_1, "
                      "dense, dense_1)"),
            std::string::npos);
  EXPECT_NE(messageOf([&] { StructuredPruner(*model, {.layers = {"dense"}, .select = [](auto&, auto&) { return true; }}); })
                .find("not both"),
            std::string::npos);
  EXPECT_NE(messageOf([&] { StructuredPruner(*model, {.select = [](auto&, auto&) { return false; }}); })
                .find("no layer selected"),
            std::string::npos);

  Sequential sig;
  sig.add<Dense>({.in = 3, .out = 4, .seed = 1});
  sig.add<Sigmoid>({});
  sig.add<Dense>({.in = 4, .out = 2, .activation = Activation::Sigmoid, .seed = 2});
  sig.add<Dense>({.in = 2, .out = 1, .seed = 3});
  EXPECT_NE(messageOf([&] { StructuredPruner(sig, {.layers = {"dense"}}); })
                .find("cannot prune layer 'dense': Sigmoid layer 'sigmoid' (f(0) != 0)"),
            std::string::npos);
  EXPECT_NE(messageOf([&] { StructuredPruner(sig, {.layers = {"dense_1"}}); })
                .find("cannot prune layer 'dense_1': activation 'sigmoid' of layer 'dense_1'"),
            std::string::npos);

  Sequential nested;
  nested.add<Dense>({.in = 3, .out = 4, .seed = 1});
  nested.add(std::make_unique<Sequential>());
  nested.add<Dense>({.in = 4, .out = 2, .seed = 2});
  EXPECT_NE(messageOf([&] { StructuredPruner{nested}; }).find("layer 1 'sequential' is a nested Sequential"),
            std::string::npos);
}

}  // namespace
}  // namespace shrink
