// The pruning wrapper, UpdatePruningStep, strip and model-level wrapping, on small models trained
// for a few hundred steps at most.
#include <algorithm>
#include <cmath>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "compress/compress.h"
#include "compress/Report.h"
#include "core/Threads.h"
#include "datasets/datasets.h"
#include "layers/layers.h"
#include "optim/optim.h"
#include "tests/TestUtils.h"

namespace shrink {
namespace {

namespace fs = std::filesystem;
using test::messageOf;

std::unique_ptr<Sequential> mlp() {
  auto m = std::make_unique<Sequential>();
  m->add<Dense>({.in = 10, .out = 32, .activation = Activation::ReLU, .seed = 1});
  m->add<Dense>({.in = 32, .out = 16, .activation = Activation::ReLU, .seed = 2});
  m->add<Dense>({.in = 16, .out = 1, .seed = 3});
  return m;
}

PruneOptions constant(double s, int64_t begin, int64_t frequency) {
  return {.schedule = std::make_shared<ConstantSparsity>(
              ConstantSparsity::Options{.sparsity = s, .beginStep = begin, .frequency = frequency})};
}

PruneOptions polynomial(double s0, double s1, int64_t begin, int64_t end, int64_t frequency) {
  return {.schedule = std::make_shared<PolynomialDecay>(PolynomialDecay::Options{
              .initialSparsity = s0, .finalSparsity = s1, .beginStep = begin, .endStep = end, .frequency = frequency})};
}

int64_t zeros(const Tensor& t) {
  int64_t n = 0;
  for (float v : t) n += v == 0.0f ? 1 : 0;
  return n;
}

TEST(PruneLowMagnitudeTest, FirstBatchIsStepOneAndUpdatesFollowTheSchedule) {
  auto model = mlp();
  auto& w = pruneLowMagnitude(*model, 0, constant(0.5, 0, 100));
  EXPECT_EQ(w.step(), -1);
  UpdatePruningStep::start(*model);
  EXPECT_EQ(w.step(), 0);
  for (int i = 0; i < 99; ++i) UpdatePruningStep::advance(*model);
  EXPECT_EQ(w.step(), 99);
  EXPECT_EQ(zeros(*w.prunedWeights()[0].mask), 0) << "no update before step 100";
  UpdatePruningStep::advance(*model);
  EXPECT_EQ(w.step(), 100);
  EXPECT_EQ(zeros(*w.prunedWeights()[0].mask), 160);  // 320 weights at 0.5
  EXPECT_EQ(zeros(model->at(0).namedParameters()[0].second->leaf().value()), 160);
  UpdatePruningStep::start(*model);  // a model already under way keeps its step
  EXPECT_EQ(w.step(), 100);
}

TEST(PruneLowMagnitudeTest, MaskedWeightsStayExactlyZeroThroughAdamTraining) {
  setNumThreads(1);
  auto data = data::makeFriedman1({.nSamples = 256, .seed = 5});
  auto model = mlp();
  EXPECT_EQ(pruneLowMagnitude(*model, polynomial(0.0, 0.8, 0, 50, 10)), 3);
  Adam adam(model->parameters(), {.lr = 0.01f});
  UpdatePruningStep step;
  fit(*model, adam, Objective::regression(), data, {.epochs = 13, .batchSize = 32, .verbose = 0}, {&step});
  for (const auto& [name, w] : pruneWrappers(*model)) {
    EXPECT_EQ(w->step(), 104);
    for (const PrunedWeight& p : w->prunedWeights()) {
      const Tensor& leaf = p.parameter->leaf().value();
      const Tensor& mask = *p.mask;
      for (int64_t i = 0; i < leaf.numel(); ++i)
        if (mask[i] == 0.0f) {
          ASSERT_EQ(leaf[i], 0.0f) << name << " entry " << i << " revived";
          ASSERT_FALSE(std::signbit(leaf[i])) << name << " entry " << i << " is -0, which compresses worse";
        }
      // The last update (step 50) was at the final sparsity: exactly keptCount survivors.
      EXPECT_EQ(leaf.numel() - zeros(leaf), keptCount(leaf.numel(), 0.8)) << name;
    }
  }
}

/// Counts, after every optimizer step (pass it after UpdatePruningStep), the masked entries of the
/// pruned weights that are not exactly zero.
/// Counts pruned entries that are not zero when a forward runs (after UpdatePruningStep's batch
/// begin) and at epoch ends (when checkpoints are written).
class CountRevivedAfterEveryStep : public Callback {
 public:
  void onBatchBegin(TrainContext& context) override {
    ++steps;
    count(context);
  }
  void onEpochEnd(TrainContext& context) override { count(context); }
  void count(TrainContext& context) {
    for (const auto& [name, w] : pruneWrappers(context.model))
      for (const PrunedWeight& p : w->prunedWeights())
        for (int64_t i = 0; i < p.mask->numel(); ++i)
          revived += (*p.mask)[i] == 0.0f && p.parameter->leaf().value()[i] != 0.0f ? 1 : 0;
  }
  int64_t steps = 0;
  int64_t revived = 0;
};

/// An optimizer UpdatePruningStep does not know: it moves every entry, whatever its gradient.
class DriftingSGD : public Optimizer {
 public:
  explicit DriftingSGD(std::vector<Parameter*> params) : Optimizer(std::move(params), 0.01f) {}
  OptimizerState exportState() const override { return makeState("drifting-sgd", {}); }
  void importState(const OptimizerState& state) override {
    restoreState(state, "drifting-sgd", {}, {}, [](const nlohmann::json&) {});
  }

 protected:
  void update() override {
    for (size_t i = 0; i < parameters().size(); ++i) {
      if (!active(i)) continue;
      Variable& leaf = parameters()[i]->leaf();
      leaf.mutableValue().array() -= lr() * (leaf.grad().array() + 0.01f);
    }
  }
};

/// Trains mlp() wrapped with a PolynomialDecay schedule with `optimizer` over its parameters and
/// returns the counts of the check.
template <class MakeOptimizer>
CountRevivedAfterEveryStep trainCountingRevived(Sequential& model, MakeOptimizer makeOptimizer) {
  auto data = data::makeFriedman1({.nSamples = 256, .seed = 7});
  pruneLowMagnitude(model, polynomial(0.3, 0.8, 0, 40, 5));
  auto optimizer = makeOptimizer(model.parameters());
  UpdatePruningStep step;
  CountRevivedAfterEveryStep check;
  fit(model, *optimizer, Objective::regression(), data, {.epochs = 8, .batchSize = 32, .verbose = 0}, {&step, &check});
  return check;
}

TEST(PruneLowMagnitudeTest, PrunedEntriesAreZeroAtEveryForwardAndEpochEndWithEveryOptimizer) {
  setNumThreads(1);
  using Params = std::vector<Parameter*>;
  auto adam = mlp(), adamw = mlp(), sgd = mlp(), drifting = mlp();
  const CountRevivedAfterEveryStep counts[] = {
      trainCountingRevived(*adam,
                           [](Params p) { return std::make_unique<Adam>(std::move(p), AdamOptions{.lr = 0.01f}); }),
      trainCountingRevived(*adamw, [](Params p) { return std::make_unique<AdamW>(std::move(p)); }),
      trainCountingRevived(*sgd,
                           [](Params p) {
                             return std::make_unique<SGD>(
                                 std::move(p), SGDOptions{.momentum = 0.9f, .nesterov = true, .weightDecay = 1e-3f});
                           }),
      trainCountingRevived(*drifting, [](Params p) { return std::make_unique<DriftingSGD>(std::move(p)); })};
  for (const CountRevivedAfterEveryStep& c : counts) {
    EXPECT_EQ(c.steps, 64);
    EXPECT_EQ(c.revived, 0);
  }
  EXPECT_NEAR(pruneWrappers(*drifting)[0].second->sparsity(), 0.8, 0.01);
}

TEST(PruneLowMagnitudeTest, APrunedWeightWhoseUpdateBeatsTheThresholdRegrowsAtTheNextMaskUpdate) {
  Sequential model;
  model.add<Dense>({.in = 4, .out = 2, .seed = 1});
  pruneLowMagnitude(model, constant(0.5, 0, 2));  // masks recomputed at steps 2, 4, ...
  PruneLowMagnitude* w = pruneWrappers(model)[0].second;
  Parameter& kernel = *w->prunedWeights()[0].parameter;
  const Tensor& mask = *w->prunedWeights()[0].mask;
  UpdatePruningStep::start(model);
  UpdatePruningStep::advance(model);  // step 1
  UpdatePruningStep::finishStep(model);
  UpdatePruningStep::advance(model);  // step 2: half the kernel pruned
  int64_t j = 0;
  while (mask[j] != 0.0f) ++j;
  // What an optimizer step does to a pruned entry is undone when no mask update follows ...
  kernel.leaf().mutableValue()[j] = 100.0f;
  UpdatePruningStep::finishStep(model);
  EXPECT_EQ(kernel.leaf().value()[j], 0.0f);
  UpdatePruningStep::advance(model);  // step 3
  // ... and kept for the update that follows, which ranks it first: the weight regrows (tfmot).
  kernel.leaf().mutableValue()[j] = 100.0f;
  UpdatePruningStep::finishStep(model);
  EXPECT_EQ(kernel.leaf().value()[j], 100.0f);
  UpdatePruningStep::advance(model);  // step 4
  EXPECT_EQ(mask[j], 1.0f);
  EXPECT_EQ(kernel.leaf().value()[j], 100.0f);
  EXPECT_DOUBLE_EQ(w->sparsity(), 0.5);
}

TEST(PruneLowMagnitudeTest, TrainingReadsTheMaskedLeavesAndEverythingElseMultipliesByTheMask) {
  setNumThreads(1);
  auto model = mlp();
  pruneLowMagnitude(*model, constant(0.5, 0, 1));
  auto data = data::makeFriedman1({.nSamples = 64, .seed = 3});
  PruneLowMagnitude* w = pruneWrappers(*model)[0].second;
  Parameter& kernel = *w->prunedWeights()[0].parameter;
  const Tensor& mask = *w->prunedWeights()[0].mask;

  // During training the wrapper trusts the callback to keep the leaves masked: the forward reads the
  // leaf itself, so the gradient reaches pruned entries too (tfmot's semantics).
  UpdatePruningStep::start(*model);
  UpdatePruningStep::advance(*model);
  EXPECT_TRUE(w->leavesMasked());
  model->train();
  const Variable x(data.inputs().reshaped({64, 10}), false);
  Variable loss = mean(square(model->forward(x)));
  loss.backward();
  int64_t prunedWithGradient = 0;
  for (int64_t i = 0; i < mask.numel(); ++i) prunedWithGradient += mask[i] == 0.0f && kernel.leaf().grad()[i] != 0.0f;
  EXPECT_GT(prunedWithGradient, 0);
  UpdatePruningStep::end(*model);
  EXPECT_FALSE(w->leavesMasked());

  // Afterwards (and in eval) the mask multiplies: a pruned entry written into the leaf has no effect.
  model->eval();
  NoGradGuard noGrad;
  const Tensor before = model->forward(x).value();
  int64_t pruned = 0;
  while (mask[pruned] != 0.0f) ++pruned;
  kernel.leaf().mutableValue()[pruned] = 5.0f;
  const Tensor after = model->forward(x).value();
  EXPECT_TRUE(std::equal(before.begin(), before.end(), after.begin()));
}

TEST(PruneLowMagnitudeTest, GlobalScopeUsesOneThresholdAcrossLayers) {
  auto model = mlp();
  PruneOptions o = constant(0.7, 0, 1);
  o.scope = PruneScope::Global;
  pruneLowMagnitude(*model, o, byType({"Dense"}));
  UpdatePruningStep::start(*model);
  UpdatePruningStep::advance(*model);
  const auto wrappers = pruneWrappers(*model);
  int64_t kept = 0, total = 0;
  const float threshold = (*wrappers[0].second->prunedWeights()[0].threshold)[0];
  for (const auto& [name, w] : wrappers) {
    const PrunedWeight& p = w->prunedWeights()[0];
    EXPECT_EQ((*p.threshold)[0], threshold) << name;
    kept += p.mask->numel() - zeros(*p.mask);
    total += p.mask->numel();
  }
  EXPECT_EQ(kept, keptCount(total, 0.7));
  // Layers of different scales end at different sparsities, unlike per-layer pruning.
  EXPECT_NE(wrappers[0].second->sparsity(), wrappers[2].second->sparsity());
}

TEST(PruneLowMagnitudeTest, TwoOfFourAndBlockPatternsThroughTheWrapper) {
  auto model = mlp();
  PruneOptions nm = constant(0.9, 0, 1);  // the sparsity is ignored for N:M
  nm.nOfMN = 2;
  nm.nOfMM = 4;
  auto& a = pruneLowMagnitude(*model, 0, nm);
  PruneOptions block = constant(0.5, 0, 1);
  block.blockRows = 4;
  block.blockCols = 4;
  auto& b = pruneLowMagnitude(*model, 1, block);
  UpdatePruningStep::start(*model);
  UpdatePruningStep::advance(*model);
  const Tensor& w0 = a.prunedWeights()[0].parameter->leaf().value();  // [32, 10]: groups of 4, 4, 2
  for (int64_t r = 0; r < 32; ++r) {
    for (int64_t g = 0; g < 10; g += 4) {
      int kept = 0;
      for (int64_t c = g; c < std::min<int64_t>(10, g + 4); ++c) kept += w0[r * 10 + c] != 0.0f;
      EXPECT_EQ(kept, 2) << "row " << r << " group " << g;
    }
  }
  const Tensor& m1 = *b.prunedWeights()[0].mask;  // [16, 32] in 4x4 blocks
  for (int64_t r = 0; r < 16; ++r)
    for (int64_t c = 0; c < 32; ++c) ASSERT_EQ(m1[r * 32 + c], m1[(r / 4 * 4) * 32 + c / 4 * 4]);
  EXPECT_EQ(zeros(m1), 256);
}

TEST(PruneLowMagnitudeTest, TrainingWithoutTheCallbackFailsClearly) {
  auto data = data::makeFriedman1({.nSamples = 64, .seed = 1});
  auto model = mlp();
  pruneLowMagnitude(*model, constant(0.5, 0, 10));
  Adam adam(model->parameters());
  try {
    fit(*model, adam, Objective::regression(), data, {.epochs = 1, .verbose = 0});
    FAIL() << "training without UpdatePruningStep did not throw";
  } catch (const std::logic_error& e) {
    EXPECT_NE(std::string(e.what()).find("pass UpdatePruningStep to fit()"), std::string::npos) << e.what();
  }
}

TEST(PruneLowMagnitudeTest, StripGivesAPlainModelWithIdenticalOutputs) {
  setNumThreads(1);
  auto data = data::makeFriedman1({.nSamples = 128, .seed = 2});
  auto model = mlp();
  pruneLowMagnitude(*model, constant(0.6, 0, 4));
  Adam adam(model->parameters(), {.lr = 0.01f});
  UpdatePruningStep step;
  fit(*model, adam, Objective::regression(), data, {.epochs = 2, .verbose = 0}, {&step});
  const Tensor before = predict(*model, data);

  std::unique_ptr<Sequential> stripped = stripPruning(*model);
  EXPECT_EQ(pruneWrappers(*stripped).size(), 0u);
  EXPECT_EQ(pruneWrappers(*model).size(), 3u) << "the original stays wrapped";
  EXPECT_EQ(stripped->at(0).typeName(), "Dense");
  EXPECT_EQ(stripped->name(0), "dense");
  EXPECT_EQ(stripped->namedBuffers().size(), 0u);
  EXPECT_TRUE(test::allClose(predict(*stripped, data), before, 0, 0));

  EXPECT_EQ(stripPruningInPlace(*model), 3);
  EXPECT_TRUE(test::allClose(predict(*model, data), before, 0, 0));
  const Tensor& k = static_cast<Dense&>(model->at(1)).weight().leaf().value();
  EXPECT_EQ(zeros(k), 512 - keptCount(512, 0.6));
  EXPECT_TRUE(static_cast<Dense&>(model->at(1)).weight().transforms().empty());
}

TEST(PruneLowMagnitudeTest, SaveMidScheduleLoadAndContinueEqualsAnUninterruptedRun) {
  setNumThreads(1);
  auto data = data::makeFriedman1({.nSamples = 256, .seed = 3});
  const PruneOptions o = polynomial(0.2, 0.8, 4, 40, 4);
  auto model = mlp();
  pruneLowMagnitude(*model, o);
  Adam adam(model->parameters(), {.lr = 0.01f});
  UpdatePruningStep step;
  const FitOptions epochs2{.epochs = 2, .verbose = 0};
  fit(*model, adam, Objective::regression(), data, epochs2, {&step});  // 16 steps: mid-schedule

  const fs::path path = fs::temp_directory_path() / "shrink-prune-resume.shrink";
  saveModel(*model, path.string(), {.optimizer = &adam});
  LoadedModel loaded = loadModel(path.string());
  fs::remove(path);
  Adam resumed(loaded.model->parameters(), {.lr = 0.01f});
  loadOptimizerState(resumed, loaded.archive, path.string());
  EXPECT_EQ(architectureOf(*loaded.model), architectureOf(*model));
  EXPECT_EQ(pruneWrappers(*loaded.model)[1].second->step(), 16);

  UpdatePruningStep stepA, stepB;
  fit(*model, adam, Objective::regression(), data, {.epochs = 4, .verbose = 0}, {&stepA});
  fit(*loaded.model, resumed, Objective::regression(), data, {.epochs = 4, .verbose = 0}, {&stepB});
  const ModelState a = captureState(*model), b = captureState(*loaded.model);
  ASSERT_EQ(a.parameters.size(), b.parameters.size());
  for (size_t i = 0; i < a.parameters.size(); ++i) EXPECT_TRUE(test::allClose(a.parameters[i], b.parameters[i], 0, 0));
  ASSERT_EQ(a.buffers.size(), b.buffers.size());
  for (size_t i = 0; i < a.buffers.size(); ++i) EXPECT_TRUE(test::allClose(a.buffers[i], b.buffers[i], 0, 0));
  EXPECT_EQ(pruneWrappers(*model)[0].second->step(), 48);
  EXPECT_NEAR(pruneWrappers(*model)[0].second->sparsity(), 0.8, 0.01);
}

TEST(PruneLowMagnitudeTest, WholeModelWrappingTouchesOnlyLayersWithKernels) {
  Sequential model;
  model.add<Conv2D>({.in = 1, .out = 4, .kernel = {3, 3}, .seed = 1});
  model.add<MaxPool2D>({.kernelH = 2, .kernelW = 2});
  model.add<BatchNorm>({.features = 4});
  model.add<Flatten>({});
  model.add<Dense>({.in = 36, .out = 8, .seed = 2});
  model.add<Dropout>({.rate = 0.5f});
  model.add<Dense>({.in = 8, .out = 3, .seed = 3});
  const Tensor conv = static_cast<Conv2D&>(model.at(0)).weight().leaf().value();

  EXPECT_EQ(pruneLowMagnitude(model, constant(0.5, 0, 1)), 3);
  const std::vector<std::string> types = {"PruneLowMagnitude", "MaxPool2D", "BatchNorm", "Flatten",
                                          "PruneLowMagnitude", "Dropout", "PruneLowMagnitude"};
  for (size_t i = 0; i < model.size(); ++i) EXPECT_EQ(model.at(i).typeName(), types[i]) << i;
  EXPECT_EQ(model.name(0), "conv2d");
  // Wrapping keeps the trained weights.
  auto& wrapped = static_cast<PruneLowMagnitude&>(model.at(0));
  EXPECT_TRUE(test::allClose(wrapped.prunedWeights()[0].parameter->leaf().value(), conv, 0, 0));

  EXPECT_NE(messageOf([&] { pruneLowMagnitude(model, 5, constant(0.5, 0, 1)); })
                .find("layer 5 ('dropout', Dropout) has no prunable weights"),
            std::string::npos);
  EXPECT_NE(messageOf([&] { pruneLowMagnitude(model, 0, constant(0.5, 0, 1)); }).find("already wrapped"),
            std::string::npos);
  EXPECT_NE(messageOf([&] { byNames(model, {"dense_9"}); }).find("no layer named 'dense_9'; the model has: conv2d"),
            std::string::npos);
  EXPECT_NE(messageOf([&] { byNames(model, {"batch_normalization"}); }).find("has no prunable weights"),
            std::string::npos);
  EXPECT_NE(messageOf([&] { pruneLowMagnitude(model, constant(0.5, 0, 1)); }).find("no prunable layer selected"),
            std::string::npos);
}

TEST(PruneLowMagnitudeTest, ByNamesSelectsOnlyTheNamedLayers) {
  auto model = mlp();
  EXPECT_EQ(pruneLowMagnitude(*model, constant(0.5, 0, 1), byNames(*model, {"dense_1"})), 1);
  EXPECT_EQ(model->at(0).typeName(), "Dense");
  EXPECT_EQ(model->at(1).typeName(), "PruneLowMagnitude");
}

TEST(PruneLowMagnitudeTest, BadOptionsAreRejected) {
  auto bad = [](PruneOptions o) {
    return messageOf([&] { PruneLowMagnitude(std::make_unique<Dense>(DenseOptions{.in = 4, .out = 4}), o); });
  };
  EXPECT_NE(bad({}).find("no pruning schedule"), std::string::npos);
  PruneOptions o = constant(0.5, 0, 1);
  o.blockRows = 0;
  EXPECT_NE(bad(o).find("block size must be >= 1x1, got 0x1"), std::string::npos);
  o = constant(0.5, 0, 1);
  o.nOfMN = 4;
  o.nOfMM = 2;
  EXPECT_NE(bad(o).find("N:M sparsity needs 1 <= N < M, got 4:2"), std::string::npos);
  o = constant(0.5, 0, 1);
  o.blockRows = 2;
  o.scope = PruneScope::Global;
  EXPECT_NE(bad(o).find("global scope works on single weights"), std::string::npos);
  EXPECT_NE(messageOf([] { parsePruneScope("model"); }).find("'layer' or 'global', got 'model'"), std::string::npos);
}

TEST(PruneLowMagnitudeTest, NinetyPercentSparseStrippedLenet300GzipsToUnderAQuarter) {
  Sequential model;
  model.add<Dense>({.in = 784, .out = 300, .activation = Activation::ReLU, .seed = 1});
  model.add<Dense>({.in = 300, .out = 100, .activation = Activation::ReLU, .seed = 2});
  model.add<Dense>({.in = 100, .out = 10, .seed = 3});
  const ModelReport dense = report(model);
  pruneLowMagnitude(model, constant(0.9, 0, 1));
  UpdatePruningStep::start(model);
  UpdatePruningStep::advance(model);
  const ModelReport sparse = report(*stripPruning(model));
  EXPECT_NEAR(sparse.prunableSparsity, 0.9, 1e-6);
  const double ratio = double(sparse.sizes.uncompressedGzipBytes) / double(dense.sizes.uncompressedGzipBytes);
  EXPECT_LE(ratio, 0.25) << sparse.sizes.uncompressedGzipBytes << " vs " << dense.sizes.uncompressedGzipBytes;
  RecordProperty("gzip_ratio", std::to_string(ratio));
  std::printf("gzip: dense %lld bytes, 90%% sparse stripped %lld bytes, ratio %.3f\n",
              static_cast<long long>(dense.sizes.uncompressedGzipBytes),
              static_cast<long long>(sparse.sizes.uncompressedGzipBytes), ratio);
}

}  // namespace
}  // namespace shrink
