#include "datasets/Split.h"

#include <algorithm>
#include <numeric>
#include <set>

#include <gtest/gtest.h>

#include "TestUtils.h"

namespace shrink::data {
namespace {

void expectPartition(const SplitIndices& s, int64_t n) {
  std::set<int64_t> train(s.train.begin(), s.train.end());
  std::set<int64_t> test(s.test.begin(), s.test.end());
  EXPECT_EQ(train.size(), s.train.size()) << "duplicate train index";
  EXPECT_EQ(test.size(), s.test.size()) << "duplicate test index";
  for (int64_t i : s.test) EXPECT_FALSE(train.count(i)) << "index " << i << " is in both";
  std::vector<int64_t> all = s.train;
  all.insert(all.end(), s.test.begin(), s.test.end());
  std::sort(all.begin(), all.end());
  std::vector<int64_t> want(static_cast<size_t>(n));
  std::iota(want.begin(), want.end(), int64_t{0});
  EXPECT_EQ(all, want);
}

TEST(SplitTest, FractionSizesFollowScikitLearn) {
  // ceil(testSize * n) test examples.
  const SplitIndices a = trainTestSplit(10, {.testSize = 0.25});
  EXPECT_EQ(a.test.size(), 3u);
  EXPECT_EQ(a.train.size(), 7u);
  expectPartition(a, 10);
  const SplitIndices b = trainTestSplit(1000, {.testSize = 0.2, .seed = 3});
  EXPECT_EQ(b.test.size(), 200u);
  EXPECT_EQ(b.train.size(), 800u);
  expectPartition(b, 1000);
}

TEST(SplitTest, AbsoluteCount) {
  const SplitIndices s = trainTestSplit(50, {.testSize = 7});
  EXPECT_EQ(s.test.size(), 7u);
  EXPECT_EQ(s.train.size(), 43u);
  expectPartition(s, 50);
  EXPECT_EQ(trainTestSplit(5, {.testSize = 1}).test.size(), 1u);
}

TEST(SplitTest, ShuffledIsSeededAndNotSorted) {
  const SplitIndices a = trainTestSplit(100, {.testSize = 0.3, .seed = 5});
  const SplitIndices b = trainTestSplit(100, {.testSize = 0.3, .seed = 5});
  const SplitIndices c = trainTestSplit(100, {.testSize = 0.3, .seed = 6});
  EXPECT_EQ(a.train, b.train);
  EXPECT_EQ(a.test, b.test);
  EXPECT_NE(a.test, c.test);
  EXPECT_FALSE(std::is_sorted(a.train.begin(), a.train.end()));
}

TEST(SplitTest, UnshuffledTakesTheTail) {
  const SplitIndices s = trainTestSplit(6, {.testSize = 2, .shuffle = false});
  EXPECT_EQ(s.train, (std::vector<int64_t>{0, 1, 2, 3}));
  EXPECT_EQ(s.test, (std::vector<int64_t>{4, 5}));
}

TEST(SplitTest, MaterialisedSplitHoldsTheIndexedRows) {
  Tensor x(Shape{20, 3});
  Tensor y(Shape{20});
  for (int64_t i = 0; i < 20; ++i) {
    for (int j = 0; j < 3; ++j) x[i * 3 + j] = static_cast<float>(100 * i + j);
    y[i] = static_cast<float>(i);
  }
  const TensorDataset d(std::move(x), std::move(y));
  const SplitOptions opts{.testSize = 0.25, .seed = 8};
  const DatasetSplit parts = trainTestSplit(d, opts);
  const SplitIndices idx = trainTestSplit(d.size(), opts);
  ASSERT_EQ(parts.train.size(), 15);
  ASSERT_EQ(parts.test.size(), 5);
  for (size_t k = 0; k < idx.test.size(); ++k) {
    EXPECT_EQ(parts.test.targets()[static_cast<int64_t>(k)], static_cast<float>(idx.test[k]));
    EXPECT_EQ(parts.test.inputs()[static_cast<int64_t>(k) * 3 + 2], static_cast<float>(100 * idx.test[k] + 2));
  }
  for (size_t k = 0; k < idx.train.size(); ++k)
    EXPECT_EQ(parts.train.targets()[static_cast<int64_t>(k)], static_cast<float>(idx.train[k]));
}

TEST(SplitTest, RejectsInvalidSizes) {
  EXPECT_THROW(trainTestSplit(10, {.testSize = 0.0}), std::invalid_argument);
  EXPECT_THROW(trainTestSplit(10, {.testSize = -0.5}), std::invalid_argument);
  EXPECT_THROW(trainTestSplit(10, {.testSize = 1.5}), std::invalid_argument);
  EXPECT_THROW(trainTestSplit(10, {.testSize = 10}), std::invalid_argument);
  EXPECT_THROW(trainTestSplit(10, {.testSize = 0.99}), std::invalid_argument);  // ceil leaves no train
  EXPECT_THROW(trainTestSplit(1, {.testSize = 0.5}), std::invalid_argument);
}

}  // namespace
}  // namespace shrink::data
