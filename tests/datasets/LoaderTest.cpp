#include "datasets/Loader.h"

#include <algorithm>
#include <numeric>
#include <set>

#include <gtest/gtest.h>

namespace shrink::data {
namespace {

/// n examples whose input row i is [i, -i] and whose target is i, so a batch reveals its indices.
TensorDataset indexed(int64_t n) {
  Tensor x(Shape{n, 2});
  Tensor y(Shape{n});
  for (int64_t i = 0; i < n; ++i) {
    x[2 * i] = static_cast<float>(i);
    x[2 * i + 1] = -static_cast<float>(i);
    y[i] = static_cast<float>(i);
  }
  return TensorDataset(std::move(x), std::move(y));
}

/// The dataset indices in `b`, checking that inputs and targets came from the same rows.
std::vector<int64_t> idsOf(const Batch& b) {
  std::vector<int64_t> ids;
  EXPECT_EQ(b.x.dim(0), b.y.dim(0));
  for (int64_t k = 0; k < b.size(); ++k) {
    EXPECT_EQ(b.x[2 * k + 1], -b.x[2 * k]);
    EXPECT_EQ(b.y[k], b.x[2 * k]);
    ids.push_back(static_cast<int64_t>(b.x[2 * k]));
  }
  return ids;
}

/// One epoch through the range interface: the batches' index lists.
std::vector<std::vector<int64_t>> epoch(Loader& loader) {
  std::vector<std::vector<int64_t>> out;
  for (Batch& b : loader) out.push_back(idsOf(b));
  return out;
}

std::vector<int64_t> flat(const std::vector<std::vector<int64_t>>& batches) {
  std::vector<int64_t> all;
  for (const auto& b : batches) all.insert(all.end(), b.begin(), b.end());
  return all;
}

std::vector<int64_t> range(int64_t n) {
  std::vector<int64_t> v(static_cast<size_t>(n));
  std::iota(v.begin(), v.end(), int64_t{0});
  return v;
}

TEST(LoaderTest, EachEpochIsAPermutationCoveredOnce) {
  const TensorDataset data = indexed(103);
  Loader loader(data, {.batchSize = 10, .shuffle = true, .seed = 7});
  EXPECT_EQ(loader.batchesPerEpoch(), 11);
  std::vector<int64_t> previous;
  for (int e = 0; e < 4; ++e) {
    const auto batches = epoch(loader);
    ASSERT_EQ(static_cast<int64_t>(batches.size()), loader.batchesPerEpoch());
    for (size_t k = 0; k + 1 < batches.size(); ++k) EXPECT_EQ(batches[k].size(), 10u);
    EXPECT_EQ(batches.back().size(), 3u);
    std::vector<int64_t> all = flat(batches);
    EXPECT_EQ(all, loader.order());
    EXPECT_NE(all, range(103)) << "epoch " << e << " was not shuffled";
    EXPECT_NE(all, previous) << "epoch " << e << " repeated the previous order";
    previous = all;
    std::sort(all.begin(), all.end());
    EXPECT_EQ(all, range(103)) << "epoch " << e << " is not a permutation";
  }
  EXPECT_EQ(loader.epoch(), 4);
}

TEST(LoaderTest, SameSeedSameOrderOtherSeedOtherOrder) {
  const TensorDataset data = indexed(50);
  Loader a(data, {.batchSize = 8, .seed = 99});
  Loader b(data, {.batchSize = 8, .seed = 99});
  Loader c(data, {.batchSize = 8, .seed = 100});
  for (int e = 0; e < 3; ++e) {
    const auto ea = epoch(a);
    EXPECT_EQ(ea, epoch(b)) << "epoch " << e;
    EXPECT_NE(flat(ea), flat(epoch(c))) << "epoch " << e;
  }
}

TEST(LoaderTest, NoShuffleKeepsOrder) {
  const TensorDataset data = indexed(10);
  Loader loader(data, {.batchSize = 4, .shuffle = false});
  const auto batches = epoch(loader);
  EXPECT_EQ(batches, (std::vector<std::vector<int64_t>>{{0, 1, 2, 3}, {4, 5, 6, 7}, {8, 9}}));
  EXPECT_EQ(epoch(loader), batches);
}

TEST(LoaderTest, DropLastSkipsTheShortBatch) {
  const TensorDataset data = indexed(10);
  Loader loader(data, {.batchSize = 3, .dropLast = true, .seed = 1});
  EXPECT_EQ(loader.batchesPerEpoch(), 3);
  const auto batches = epoch(loader);
  ASSERT_EQ(batches.size(), 3u);
  std::set<int64_t> seen;
  for (const auto& b : batches) {
    EXPECT_EQ(b.size(), 3u);
    seen.insert(b.begin(), b.end());
  }
  EXPECT_EQ(seen.size(), 9u);
  Loader tooSmall(data, {.batchSize = 11, .dropLast = true});
  EXPECT_EQ(tooSmall.batchesPerEpoch(), 0);
  EXPECT_TRUE(epoch(tooSmall).empty());
  Loader keep(data, {.batchSize = 11});
  EXPECT_EQ(keep.batchesPerEpoch(), 1);
  EXPECT_EQ(epoch(keep).size(), 1u);
}

TEST(LoaderTest, SubsetLoaderDrawsOnlyItsIndices) {
  const TensorDataset data = indexed(20);
  const std::vector<int64_t> subset{17, 3, 9, 1, 12};
  Loader loader(data, {.batchSize = 2, .seed = 4}, subset);
  EXPECT_EQ(loader.size(), 5);
  EXPECT_EQ(loader.batchesPerEpoch(), 3);
  for (int e = 0; e < 3; ++e) {
    std::vector<int64_t> all = flat(epoch(loader));
    std::sort(all.begin(), all.end());
    EXPECT_EQ(all, (std::vector<int64_t>{1, 3, 9, 12, 17}));
  }
  Loader ordered(data, {.batchSize = 5, .shuffle = false}, subset);
  EXPECT_EQ(flat(epoch(ordered)), subset);
}

TEST(LoaderTest, NextMatchesRangeIterationAndStartsNewEpochs) {
  const TensorDataset data = indexed(23);
  Loader byRange(data, {.batchSize = 5, .seed = 31});
  Loader byNext(data, {.batchSize = 5, .seed = 31});
  for (int e = 1; e <= 2; ++e) {
    std::vector<std::vector<int64_t>> batches;
    while (auto b = byNext.next()) batches.push_back(idsOf(*b));
    EXPECT_EQ(byNext.epoch(), e);
    EXPECT_EQ(batches, epoch(byRange)) << "epoch " << e;
  }
  // Breaking out of an epoch and calling begin() again starts a fresh, complete epoch.
  for (Batch& b : byRange) {
    (void)b;
    break;
  }
  EXPECT_EQ(flat(epoch(byRange)).size(), 23u);
}

TEST(LoaderTest, BatchesKeepImageShape) {
  Tensor x(Shape{6, 1, 2, 2});
  for (int64_t i = 0; i < x.numel(); ++i) x[i] = static_cast<float>(i);
  const TensorDataset data(std::move(x), Tensor(Shape{6, 3}));
  Loader loader(data, {.batchSize = 4, .shuffle = false});
  auto b = loader.next();
  ASSERT_TRUE(b.has_value());
  EXPECT_EQ(b->x.shape(), (Shape{4, 1, 2, 2}));
  EXPECT_EQ(b->y.shape(), (Shape{4, 3}));
  EXPECT_EQ(b->x[15], 15.0f);
  b = loader.next();
  ASSERT_TRUE(b.has_value());
  EXPECT_EQ(b->x.shape(), (Shape{2, 1, 2, 2}));
  EXPECT_EQ(b->x[0], 16.0f);
  EXPECT_FALSE(loader.next().has_value());
}

TEST(LoaderTest, RejectsInvalidArguments) {
  const TensorDataset data = indexed(5);
  EXPECT_THROW(Loader(data, {.batchSize = 0}), std::invalid_argument);
  EXPECT_THROW(Loader(data, {}, std::vector<int64_t>{0, 5}), std::invalid_argument);
  EXPECT_THROW(Loader(data, {}, std::vector<int64_t>{-1}), std::invalid_argument);
  EXPECT_EQ(Loader(data, {}, std::vector<int64_t>{}).batchesPerEpoch(), 0);
}

}  // namespace
}  // namespace shrink::data
