// Weight clustering: each centroid initialisation on hand-made values, nearest-centroid assignment,
// the gradients (straight-through to the weights, summed or averaged per cluster into the centroids),
// sparsity preservation through training, strip, save and load, and the error messages.
#include <algorithm>
#include <cmath>
#include <filesystem>
#include <map>
#include <memory>
#include <set>
#include <vector>

#include <gtest/gtest.h>

#include "compress/compress.h"
#include "core/Functions.h"
#include "core/Threads.h"
#include "datasets/datasets.h"
#include "layers/layers.h"
#include "optim/optim.h"
#include "tests/TestUtils.h"

namespace shrink {
namespace {

namespace fs = std::filesystem;
using test::messageOf;

std::vector<float> centroidsOf(const std::vector<float>& values, ClusterOptions options, uint64_t seed = 0) {
  Generator gen(seed);
  return makeCodebook(values, options, gen).centroids;
}

/// The index of the centroid nearest v by a plain scan (first of equals, as argmin).
int32_t bruteNearest(float v, const std::vector<float>& c) {
  int32_t best = 0;
  for (int32_t j = 1; j < static_cast<int32_t>(c.size()); ++j)
    if (std::fabs(v - c[j]) < std::fabs(v - c[best])) best = j;
  return best;
}

std::vector<float> toVector(const Tensor& t) { return {t.begin(), t.end()}; }

std::set<float> distinct(const float* begin, const float* end) { return {begin, end}; }

Dense& innerDense(Module& wrapper) { return static_cast<Dense&>(static_cast<ClusterWeights&>(wrapper).layer()); }

TEST(ClusterTest, LinearSpacesTheCentroidsEvenlyFromMinToMax) {
  const std::vector<float> values{0.5f, -1.0f, 2.0f, 3.0f, 0.0f, 1.25f};
  const std::vector<float> c = centroidsOf(values, {.clusters = 5, .init = CentroidInit::Linear});
  ASSERT_EQ(c.size(), 5u);
  EXPECT_EQ(c.front(), -1.0f);
  EXPECT_EQ(c.back(), 3.0f);
  for (size_t i = 0; i < c.size(); ++i) EXPECT_NEAR(c[i], -1.0f + static_cast<float>(i), 1e-6f) << "centroid " << i;
}

TEST(ClusterTest, DensityBasedTakesTheGridNodeWhereTheCdfFirstExceedsEachTarget) {
  // Four zeros and a one: grid linspace(-0.01, 1.01, 30), step 1.02 / 29; the CDF is 0 at node 0,
  // 0.8 from node 1 to node 28 and 1 at node 29. Targets {0.01, 1}: node 1, and past the end -> node 29.
  const std::vector<float> c = centroidsOf({0, 0, 0, 0, 1}, {.clusters = 2, .init = CentroidInit::DensityBased});
  ASSERT_EQ(c.size(), 2u);
  EXPECT_NEAR(c[0], -0.01f + 1.02f / 29, 1e-6f);
  EXPECT_NEAR(c[1], 1.01f, 1e-6f);
}

TEST(ClusterTest, DensityBasedPutsMoreCentroidsWhereTheMassIs) {
  // 90 values in [0, 0.1), 10 spread over [0.1, 1]: most of the mass sits in the first tenth.
  std::vector<float> values;
  for (int i = 0; i < 90; ++i) values.push_back(0.1f * static_cast<float>(i) / 90);
  for (int i = 0; i < 10; ++i) values.push_back(0.1f + 0.9f * static_cast<float>(i) / 9);
  auto inDenseRegion = [](const std::vector<float>& c) {
    return std::count_if(c.begin(), c.end(), [](float v) { return v < 0.12f; });
  };
  const std::vector<float> density = centroidsOf(values, {.clusters = 8, .init = CentroidInit::DensityBased});
  const std::vector<float> linear = centroidsOf(values, {.clusters = 8, .init = CentroidInit::Linear});
  EXPECT_GE(inDenseRegion(density), 6) << "density-based centroids follow the mass";
  EXPECT_LE(inDenseRegion(linear), 1) << "linear centroids do not";
  EXPECT_TRUE(std::is_sorted(density.begin(), density.end()));
}

TEST(ClusterTest, RandomAndKMeansPlusPlusAreReproducibleWithASeed) {
  const Tensor t = test::uniform(Shape{200}, 3, -2.0f, 5.0f);
  const std::vector<float> values = toVector(t);
  for (CentroidInit init : {CentroidInit::Random, CentroidInit::KMeansPlusPlus}) {
    SCOPED_TRACE(centroidInitName(init));
    const ClusterOptions o{.clusters = 6, .init = init};
    const std::vector<float> a = centroidsOf(values, o, 1);
    EXPECT_EQ(a, centroidsOf(values, o, 1)) << "same seed, same centroids";
    EXPECT_NE(a, centroidsOf(values, o, 2)) << "another seed, other centroids";
    for (float c : a) {
      EXPECT_GE(c, -2.0f);
      EXPECT_LT(c, 5.0f);
    }
  }
  // k-means++ picks weights themselves.
  for (float c : centroidsOf(values, {.clusters = 6, .init = CentroidInit::KMeansPlusPlus}, 1))
    EXPECT_NE(std::find(values.begin(), values.end(), c), values.end()) << c;
}

TEST(ClusterTest, KMeansPlusPlusSeedsOneCentroidPerWellSeparatedClump) {
  // Three tight clumps far apart: D^2 sampling lands in an empty clump with probability ~1, and the
  // best-of-candidates rule removes what is left; uniform sampling would often double a clump.
  std::vector<float> values;
  for (int i = 0; i < 50; ++i) values.push_back(0.01f * static_cast<float>(i % 5));
  for (int i = 0; i < 50; ++i) values.push_back(10.0f + 0.01f * static_cast<float>(i % 5));
  for (int i = 0; i < 5; ++i) values.push_back(20.0f + 0.01f * static_cast<float>(i));
  for (uint64_t seed = 0; seed < 10; ++seed) {
    std::vector<float> c = centroidsOf(values, {.clusters = 3, .init = CentroidInit::KMeansPlusPlus}, seed);
    std::sort(c.begin(), c.end());
    EXPECT_LT(c[0], 1.0f) << "seed " << seed;
    EXPECT_TRUE(c[1] > 9.0f && c[1] < 11.0f) << "seed " << seed;
    EXPECT_GT(c[2], 19.0f) << "seed " << seed;
  }
}

TEST(ClusterTest, PreserveSparsitySplitsTheCentroidsAroundAFixedZeroByCount) {
  // 6 negative, 2 positive, 4 zero values, k = 5: 4 non-zero centroids, round(4 * 6 / 8) = 3 negative.
  const std::vector<float> values{-3, -2.5f, -2, -1.5f, -1, -0.5f, 0, 0, 0, 0, 1, 4};
  Generator gen(0);
  const Codebook book =
      makeCodebook(values, {.clusters = 5, .init = CentroidInit::Linear, .preserveSparsity = true}, gen);
  EXPECT_EQ(book.zeroIndex, 3);
  EXPECT_EQ(book.centroids, (std::vector<float>{-3.0f, -1.75f, -0.5f, 0.0f, 1.0f}));
  Generator other(0);
  EXPECT_EQ(makeCodebook(values, {.clusters = 5, .init = CentroidInit::Linear}, other).zeroIndex, -1);
}

TEST(ClusterTest, LloydIterationsMoveTheCentroidsToTheirClusterMeans) {
  const std::vector<float> values{0, 1, 2, 10, 11, 12};
  EXPECT_EQ(centroidsOf(values, {.clusters = 2, .init = CentroidInit::Linear}), (std::vector<float>{0, 12}));
  EXPECT_EQ(centroidsOf(values, {.clusters = 2, .init = CentroidInit::Linear, .lloydIterations = 1}),
            (std::vector<float>{1, 11}));
}

TEST(ClusterTest, NearestCentroidMatchesAScanAndBreaksTiesToTheLowestIndex) {
  const std::vector<float> centroids{1.0f, 3.0f, 1.0f, -2.0f, 0.25f};
  const std::vector<float> values{2.0f, 1.0f, 3.5f, -10.0f, 100.0f, 0.625f};
  std::vector<int32_t> idx(values.size());
  nearestCentroids(values, centroids, idx);
  EXPECT_EQ(idx, (std::vector<int32_t>{0, 0, 1, 3, 1, 0}));  // 2 is as near 1 (0, 2) as 3 (1); 0.625 ties 0.25 and 1
  const Tensor many = test::uniform(Shape{1000}, 9, -3.0f, 4.0f);
  std::vector<int32_t> got(1000);
  nearestCentroids(many.span(), centroids, got);
  for (int64_t i = 0; i < many.numel(); ++i) ASSERT_EQ(got[i], bruteNearest(many[i], centroids)) << many[i];
}

TEST(ClusterTest, EveryReadReassignsEachWeightToItsNearestCentroid) {
  auto wrapper = std::make_unique<ClusterWeights>(std::make_unique<Dense>(DenseOptions{.in = 6, .out = 4, .seed = 1}),
                                                  ClusterOptions{.clusters = 4, .init = CentroidInit::Linear});
  Parameter& w = innerDense(*wrapper).weight();
  const std::vector<float> c = toVector(wrapper->clusteredWeights()[0].centroids->leaf().value());
  auto check = [&] {
    NoGradGuard noGrad;
    const Tensor v = w.value().value();
    const Tensor& leaf = w.leaf().value();
    for (int64_t i = 0; i < v.numel(); ++i) ASSERT_EQ(v[i], c[bruteNearest(leaf[i], c)]) << "entry " << i;
  };
  check();
  // Move a weight next to another centroid: the next read follows it.
  const int32_t before = wrapper->assignments(0)[5];
  const int32_t target = (before + 2) % 4;
  w.leaf().mutableValue()[5] = c[target] + 1e-4f;
  EXPECT_EQ(wrapper->assignments(0)[5], target);
  check();

  auto fixed = std::make_unique<ClusterWeights>(
      std::make_unique<Dense>(DenseOptions{.in = 6, .out = 4, .seed = 1}),
      ClusterOptions{.clusters = 4, .init = CentroidInit::Linear, .fixedAssignments = true});
  const std::vector<int32_t> frozen = fixed->assignments(0);
  innerDense(*fixed).weight().leaf().mutableValue()[5] = c[target] + 1e-4f;
  EXPECT_EQ(fixed->assignments(0), frozen) << "fixed assignments do not follow the weights";
}

/// Backpropagates `upstream` from the weight's value and returns its gradients: the original weight's
/// (empty when it got none) and the centroids'.
std::pair<Tensor, Tensor> gradientsFor(ClusterWeights& wrapper, Parameter& w, const Tensor& upstream) {
  wrapper.zeroGrad();
  w.value().backward(upstream);
  const Variable& c = wrapper.clusteredWeights()[0].centroids->leaf();
  return {w.leaf().hasGrad() ? w.leaf().grad() : Tensor(), c.grad()};
}

TEST(ClusterTest, CentroidGradientIsThePerClusterSumOrMeanOfTheWeightGradients) {
  const Tensor upstream = test::uniform(Shape{4, 6}, 21);
  for (GradientAggregation aggregation : {GradientAggregation::Sum, GradientAggregation::Mean}) {
    SCOPED_TRACE(gradientAggregationName(aggregation));
    ClusterWeights wrapper(std::make_unique<Dense>(DenseOptions{.in = 6, .out = 4, .seed = 2}),
                           {.clusters = 3, .init = CentroidInit::Linear, .gradientAggregation = aggregation});
    const std::vector<int32_t> idx = wrapper.assignments(0);
    std::vector<float> sum(3, 0.0f), count(3, 0.0f);
    for (size_t i = 0; i < idx.size(); ++i) {
      sum[idx[i]] += upstream[static_cast<int64_t>(i)];
      count[idx[i]] += 1;
    }
    const auto [gw, gc] = gradientsFor(wrapper, innerDense(wrapper).weight(), upstream);
    EXPECT_TRUE(test::allClose(gw, upstream, 0, 0)) << "straight through to the original weight";
    for (int k = 0; k < 3; ++k) {
      ASSERT_GT(count[k], 0) << "every cluster has members";
      const float want = aggregation == GradientAggregation::Sum ? sum[k] : sum[k] / count[k];
      EXPECT_NEAR(gc[k], want, 1e-6f) << "centroid " << k;
    }
  }
}

TEST(ClusterTest, PerChannelCodebooksGetTheirOwnGradients) {
  ClusterWeights wrapper(
      std::make_unique<Conv2D>(Conv2DOptions{.in = 2, .out = 3, .kernel = {3, 3}, .seed = 4}),
      {.clusters = 4, .init = CentroidInit::KMeansPlusPlus, .perChannel = true, .seed = 5});
  const ClusteredWeight& cw = wrapper.clusteredWeights()[0];
  EXPECT_EQ(cw.groups, 3);
  EXPECT_EQ(cw.centroids->shape(), (Shape{3, 4}));
  Parameter& w = static_cast<Conv2D&>(wrapper.layer()).weight();
  const Tensor upstream = test::uniform(w.shape(), 22);
  const std::vector<int32_t> idx = wrapper.assignments(0);
  Tensor want(Shape{3, 4});
  for (int64_t i = 0; i < upstream.numel(); ++i) want[(i / 18) * 4 + idx[i]] += upstream[i];
  EXPECT_TRUE(test::allClose(gradientsFor(wrapper, w, upstream).second, want, 1e-6f, 0));
  // Each output channel reads only its own centroids.
  NoGradGuard noGrad;
  const Tensor v = w.value().value();
  const Tensor& c = cw.centroids->leaf().value();
  for (int64_t i = 0; i < v.numel(); ++i) EXPECT_EQ(v[i], c[(i / 18) * 4 + idx[i]]);
}

TEST(ClusterTest, FixedAssignmentsTrainOnlyTheCentroids) {
  ClusterWeights wrapper(std::make_unique<Dense>(DenseOptions{.in = 6, .out = 4, .seed = 2}),
                         {.clusters = 3, .init = CentroidInit::Linear, .fixedAssignments = true});
  const auto [gw, gc] = gradientsFor(wrapper, innerDense(wrapper).weight(), Tensor::ones(Shape{4, 6}));
  EXPECT_TRUE(gw.empty()) << "the original weight gets no gradient";
  EXPECT_FLOAT_EQ(gc[0] + gc[1] + gc[2], 24.0f);
}

TEST(ClusterTest, TheFixedZeroAndMaskedWeightsGetNoGradient) {
  auto layer = std::make_unique<Dense>(DenseOptions{.in = 6, .out = 4, .seed = 2});
  Tensor& leaf = layer->weight().leaf().mutableValue();
  for (int64_t i = 0; i < leaf.numel(); i += 3) leaf[i] = 0.0f;
  ClusterWeights wrapper(std::move(layer), {.clusters = 4, .init = CentroidInit::Linear, .preserveSparsity = true});
  const ClusteredWeight& cw = wrapper.clusteredWeights()[0];
  const int zero = static_cast<int>((*cw.zeroIndex)[0]);
  EXPECT_EQ(cw.centroids->leaf().value()[zero], 0.0f);
  const auto [gw, gc] = gradientsFor(wrapper, innerDense(wrapper).weight(), Tensor::ones(Shape{4, 6}));
  EXPECT_EQ(gc[zero], 0.0f) << "the fixed zero does not train";
  for (int64_t i = 0; i < gw.numel(); ++i) EXPECT_EQ(gw[i], i % 3 == 0 ? 0.0f : 1.0f) << "entry " << i;
  const std::vector<int32_t> idx = wrapper.assignments(0);
  float total = 0;
  for (int64_t k = 0; k < gc.numel(); ++k) total += gc[k];
  EXPECT_FLOAT_EQ(total, 24.0f - static_cast<float>(std::count(idx.begin(), idx.end(), zero)))
      << "every other cluster sums its members' gradients";
}

/// A Dense 10 -> 16 -> 1 model on Friedman data whose first kernel is half zeros, as after pruning.
std::unique_ptr<Sequential> halfZeroModel() {
  auto m = std::make_unique<Sequential>();
  m->add<Dense>({.in = 10, .out = 16, .activation = Activation::ReLU, .seed = 1});
  m->add<Dense>({.in = 16, .out = 1, .seed = 2});
  Tensor& w = static_cast<Dense&>(m->at(0)).weight().leaf().mutableValue();
  for (int64_t i = 0; i < w.numel(); i += 2) w[i] = 0.0f;
  return m;
}

/// Trains `model` for 100 Adam steps (lr 0.01, batches of 16) on Friedman data.
void train100Steps(Sequential& model) {
  const auto data = data::makeFriedman1({.nSamples = 160, .seed = 5});
  Adam adam(model.trainableParameters(), {.lr = 0.01f});
  fit(model, adam, Objective::regression(), data, {.epochs = 10, .batchSize = 16, .verbose = 0});
  EXPECT_EQ(adam.iterations(), 100);
}

TEST(ClusterTest, PreserveSparsityKeepsEveryZeroThroughTraining) {
  setNumThreads(1);
  for (bool preserve : {true, false}) {
    SCOPED_TRACE(preserve ? "preserve_sparsity" : "plain");
    auto m = halfZeroModel();
    clusterWeights(*m, ClusterScheme{.defaults = {.clusters = 4, .init = CentroidInit::KMeansPlusPlus,
                                                  .preserveSparsity = preserve, .seed = 3},
                                     .skip = {"dense_1"}});
    Parameter& w = innerDense(m->at(0)).weight();
    const Tensor centroidsBefore = static_cast<ClusterWeights&>(m->at(0)).clusteredWeights()[0].centroids->leaf().value();
    train100Steps(*m);
    NoGradGuard noGrad;
    const Tensor v = w.value().value();
    int64_t revived = 0;
    for (int64_t i = 0; i < v.numel(); i += 2) revived += v[i] != 0.0f ? 1 : 0;
    if (preserve) {
      EXPECT_EQ(revived, 0) << "every zero stays zero";
      for (int64_t i = 0; i < v.numel(); i += 2) EXPECT_EQ(w.leaf().value()[i], 0.0f) << "leaf " << i;
    } else {
      EXPECT_GT(revived, 0) << "without preservation the zeros join non-zero clusters";
    }
    EXPECT_LE(distinct(v.begin(), v.end()).size(), 4u);
    const Tensor& centroidsAfter = static_cast<ClusterWeights&>(m->at(0)).clusteredWeights()[0].centroids->leaf().value();
    EXPECT_FALSE(test::allClose(centroidsAfter, centroidsBefore, 1e-4f, 0)) << "the centroids trained";
  }
}

TEST(ClusterTest, StripKeepsAtMostKValuesPerCodebookAndThePredictions) {
  setNumThreads(1);
  auto m = std::make_unique<Sequential>();
  m->add<Conv2D>({.in = 1, .out = 4, .kernel = {3, 3}, .activation = Activation::ReLU, .seed = 1});
  m->add<Flatten>({});
  m->add<Dense>({.in = 4 * 6 * 6, .out = 5, .seed = 2});
  ClusterScheme scheme{.defaults = {.clusters = 3, .init = CentroidInit::DensityBased}};
  scheme.layers["conv2d"] = {.clusters = 3, .init = CentroidInit::Linear, .perChannel = true};
  EXPECT_EQ(clusterWeights(*m, scheme), 2);
  // A few training steps so the centroids and weights move away from their start.
  Adam adam(m->trainableParameters(), {.lr = 0.01f});
  const Tensor x = test::uniform(Shape{8, 1, 8, 8}, 12);
  for (int step = 0; step < 5; ++step) {
    adam.zeroGrad();
    sum(square((*m)(Variable(x)))).backward();
    adam.step();
  }
  m->eval();
  const Tensor wrapped = (*m)(Variable(x)).value();
  std::unique_ptr<Sequential> copy = stripClustering(*m);
  EXPECT_EQ(m->at(0).typeName(), "ClusterWeights") << "stripClustering leaves the model wrapped";
  EXPECT_EQ(stripClusteringInPlace(*m), 2);
  EXPECT_EQ(m->at(0).typeName(), "Conv2D");
  EXPECT_EQ(m->at(2).typeName(), "Dense");
  EXPECT_TRUE(test::allClose((*m)(Variable(x)).value(), wrapped, 0, 0));
  copy->eval();
  EXPECT_TRUE(test::allClose((*copy)(Variable(x)).value(), wrapped, 0, 0));
  const Tensor& conv = static_cast<Conv2D&>(m->at(0)).weight().leaf().value();
  EXPECT_TRUE(static_cast<Conv2D&>(m->at(0)).weight().transforms().empty());
  std::set<float> all(conv.begin(), conv.end());
  EXPECT_GT(all.size(), 3u) << "per channel, the tensor has more than k values";
  for (int64_t ch = 0; ch < 4; ++ch) EXPECT_LE(distinct(conv.data() + ch * 9, conv.data() + ch * 9 + 9).size(), 3u);
  const Tensor& dense = static_cast<Dense&>(m->at(2)).weight().leaf().value();
  EXPECT_LE(distinct(dense.begin(), dense.end()).size(), 3u);
  EXPECT_TRUE(m->trainableParameters().size() == 4) << "the centroids are gone";
}

TEST(ClusterTest, EachLayerGetsTheClusterCountOfItsScheme) {
  setNumThreads(1);
  Sequential m;
  m.add<Dense>({.in = 12, .out = 10, .seed = 1});
  m.add<Dense>({.in = 10, .out = 8, .seed = 2});
  m.add<Dense>({.in = 8, .out = 6, .seed = 3});
  ClusterScheme scheme{.defaults = {.clusters = 4, .seed = 5}};
  scheme.layers[m.name(1)] = {.clusters = 7, .seed = 5};
  scheme.layers[m.name(2)] = {.clusters = 3, .seed = 5};
  EXPECT_EQ(clusterWeights(m, scheme), 3);
  const std::vector<int64_t> expected{4, 7, 3};
  const auto wrappers = clusterWrappers(m);
  ASSERT_EQ(wrappers.size(), 3u);
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(wrappers[i].second->options().clusters, expected[i]) << wrappers[i].first;
    EXPECT_EQ(wrappers[i].second->clusteredWeights()[0].centroids->leaf().value().numel(), expected[i]) << wrappers[i].first;
  }
  EXPECT_EQ(stripClusteringInPlace(m), 3);
  for (size_t i = 0; i < 3; ++i) {
    // k-means++ seeds every centroid on a weight, so each one keeps at least that weight.
    const Tensor& w = static_cast<Dense&>(m.at(i)).weight().leaf().value();
    EXPECT_EQ(static_cast<int64_t>(distinct(w.begin(), w.end()).size()), expected[i]) << m.name(i);
  }
}

TEST(ClusterTest, SavesAndLoadsCentroidsMasksAndFixedAssignments) {
  setNumThreads(1);
  for (bool fixed : {false, true}) {
    SCOPED_TRACE(fixed ? "fixed assignments" : "re-assigned");
    auto m = halfZeroModel();
    const ClusterOptions options{.clusters = 5, .init = CentroidInit::Random, .preserveSparsity = true,
                                 .gradientAggregation = GradientAggregation::Mean, .lloydIterations = 2,
                                 .fixedAssignments = fixed, .seed = 8};
    EXPECT_EQ(clusterWeights(*m, options), 2);
    train100Steps(*m);
    const fs::path path = fs::temp_directory_path() / "shrink_cluster_test.shrink";
    saveModel(*m, path.string());
    LoadedModel loaded = loadModel(path.string());
    auto& b = static_cast<Sequential&>(*loaded.model);
    auto& wrapper = static_cast<ClusterWeights&>(b.at(0));
    EXPECT_EQ(wrapper.config(), static_cast<ClusterWeights&>(m->at(0)).config());
    EXPECT_EQ(wrapper.assignments(0), static_cast<ClusterWeights&>(m->at(0)).assignments(0));
    EXPECT_TRUE(test::allClose(wrapper.clusteredWeights()[0].centroids->leaf().value(),
                               static_cast<ClusterWeights&>(m->at(0)).clusteredWeights()[0].centroids->leaf().value(), 0,
                               0));
    m->eval();
    b.eval();
    const Tensor x = test::uniform(Shape{7, 10}, 11);
    EXPECT_TRUE(test::allClose(b(Variable(x)).value(), (*m)(Variable(x)).value(), 0, 0));
    fs::remove(path);
  }
}

TEST(ClusterTest, BadOptionsAndLayersNameTheProblem) {
  auto dense = [] { return std::make_unique<Dense>(DenseOptions{.in = 3, .out = 2, .seed = 1}); };
  EXPECT_EQ(messageOf([&] { ClusterWeights(dense(), {.clusters = 1}); }),
            "ClusterWeights: the number of clusters must be > 1, got 1");
  EXPECT_EQ(messageOf([&] { ClusterWeights(dense(), {.clusters = 2, .preserveSparsity = true}); }),
            "ClusterWeights: the number of clusters must be > 2 with preserve_sparsity (one centroid is the fixed "
            "zero), got 2");
  EXPECT_EQ(messageOf([&] { ClusterWeights(dense(), {.clusters = 7}); }),
            "ClusterWeights: 'weight' of Dense [2, 3] has 6 values per codebook, fewer than the 7 clusters");
  EXPECT_EQ(messageOf([&] { ClusterWeights(dense(), {.clusters = 3, .lloydIterations = -1}); }),
            "ClusterWeights: lloyd_iterations must be >= 0, got -1");
  EXPECT_EQ(messageOf([&] { ClusterWeights(std::make_unique<ReLU>(), {.clusters = 3}); }),
            "ClusterWeights: layer 'ReLU' has no weights to cluster");
  EXPECT_EQ(messageOf([&] {
              ClusterWeights(std::make_unique<ClusterWeights>(dense(), ClusterOptions{.clusters = 3}), {.clusters = 3});
            }),
            "ClusterWeights: the layer is already wrapped for clustering");
  EXPECT_EQ(messageOf([] { parseCentroidInit("kmeans"); }),
            "centroid initialisation must be 'linear', 'random', 'density_based', 'kmeans_plus_plus' or "
            "'unique_values', got 'kmeans'");

  Sequential m;
  m.add<Dense>({.in = 3, .out = 2, .seed = 1});
  EXPECT_EQ(messageOf([&] { clusterWeights(m, ClusterOptions{.clusters = 16}); }),
            "clusterWeights: no layer to cluster (Dense and Conv2D layers with more weights per codebook than "
            "clusters are, unless skipped)");
  EXPECT_EQ(messageOf([&] { clusterWeights(m, ClusterScheme{.defaults = {.clusters = 2}, .skip = {"dense_9"}}); }),
            "clusterWeights: no layer named 'dense_9'; the model has: dense");
  EXPECT_EQ(clusterWeights(m, ClusterOptions{.clusters = 2}), 1);
  EXPECT_EQ(messageOf([&] { clusterWeights(m, ClusterOptions{.clusters = 2}); }),
            "clusterWeights: the model is already clustered (layer 'dense')");
}

}  // namespace
}  // namespace shrink
