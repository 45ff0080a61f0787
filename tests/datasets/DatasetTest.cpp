#include "datasets/Dataset.h"

#include <gtest/gtest.h>

#include "TestUtils.h"

namespace shrink::data {
namespace {

TensorDataset sample() {
  Tensor x(Shape{4, 2, 3});
  for (int64_t i = 0; i < x.numel(); ++i) x[i] = static_cast<float>(i);
  Tensor y(Shape{4, 2}, {0, 1, 10, 11, 20, 21, 30, 31});
  return TensorDataset(std::move(x), std::move(y));
}

/// A Dataset that is not a TensorDataset, to exercise the default gather().
class Squares : public Dataset {
 public:
  int64_t size() const override { return 5; }
  Shape exampleShape() const override { return Shape{2}; }
  Shape targetShape() const override { return Shape{}; }
  Example get(int64_t i) const override {
    const float v = static_cast<float>(i);
    return {Tensor(Shape{2}, {v, v * v}), Tensor::scalar(v * 10)};
  }
};

TEST(DatasetTest, ShapesOfTensorDataset) {
  const TensorDataset d = sample();
  EXPECT_EQ(d.size(), 4);
  EXPECT_EQ(d.exampleShape(), (Shape{2, 3}));
  EXPECT_EQ(d.targetShape(), (Shape{2}));
  const TensorDataset classes(Tensor(Shape{3, 5}), Tensor(Shape{3}));
  EXPECT_EQ(classes.targetShape(), (Shape{}));
  const TensorDataset empty;
  EXPECT_EQ(empty.size(), 0);
  EXPECT_EQ(empty.gather(std::vector<int64_t>{}).size(), 0);
}

TEST(DatasetTest, GetReturnsOneRow) {
  const TensorDataset d = sample();
  const Example e = d.get(2);
  EXPECT_TRUE(test::allClose(e.x, Tensor(Shape{2, 3}, {12, 13, 14, 15, 16, 17}), 0, 0));
  EXPECT_TRUE(test::allClose(e.y, Tensor(Shape{2}, {20, 21}), 0, 0));
}

TEST(DatasetTest, GatherCopiesExactlyTheRequestedRows) {
  const TensorDataset d = sample();
  const std::vector<int64_t> idx{3, 0, 3};
  const Batch b = d.gather(idx);
  EXPECT_EQ(b.size(), 3);
  EXPECT_EQ(b.x.shape(), (Shape{3, 2, 3}));
  for (int k = 0; k < 3; ++k)
    for (int j = 0; j < 6; ++j) EXPECT_EQ(b.x[k * 6 + j], static_cast<float>(idx[k] * 6 + j));
  EXPECT_TRUE(test::allClose(b.y, Tensor(Shape{3, 2}, {30, 31, 0, 1, 30, 31}), 0, 0));
  const TensorDataset sub = d.subset(idx);
  EXPECT_TRUE(test::allClose(sub.inputs(), b.x, 0, 0));
  EXPECT_TRUE(test::allClose(sub.targets(), b.y, 0, 0));
  // The source is untouched.
  EXPECT_EQ(d.inputs()[0], 0.0f);
  EXPECT_EQ(d.size(), 4);
}

TEST(DatasetTest, DefaultGatherStacksExamples) {
  const Squares s;
  const Batch b = s.gather(std::vector<int64_t>{4, 1});
  EXPECT_TRUE(test::allClose(b.x, Tensor(Shape{2, 2}, {4, 16, 1, 1}), 0, 0));
  EXPECT_TRUE(test::allClose(b.y, Tensor(Shape{2}, {40, 10}), 0, 0));
}

TEST(DatasetTest, RejectsBadShapesAndIndices) {
  EXPECT_THROW(TensorDataset(Tensor(Shape{3, 2}), Tensor(Shape{4})), std::invalid_argument);
  EXPECT_THROW(TensorDataset(Tensor(Shape{3, 2}), Tensor(Shape{3, 1, 1})), std::invalid_argument);
  EXPECT_THROW(TensorDataset(Tensor::scalar(1), Tensor(Shape{1})), std::invalid_argument);
  const TensorDataset d = sample();
  EXPECT_THROW(d.get(4), std::invalid_argument);
  EXPECT_THROW(d.get(-1), std::invalid_argument);
  EXPECT_THROW(d.gather(std::vector<int64_t>{0, 9}), std::invalid_argument);
}

}  // namespace
}  // namespace shrink::data
