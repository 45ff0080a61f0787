#include <gtest/gtest.h>

#include "core/BlockCache.h"
#include "core/Init.h"
#include "core/Random.h"
#include "core/Tensor.h"

namespace shrink {

TEST(TensorTest, ShapeAndAccess) {
  Tensor t(Shape{2, 3}, {1, 2, 3, 4, 5, 6});
  EXPECT_EQ(t.numel(), 6);
  EXPECT_EQ(t.dim(-1), 3);
  EXPECT_EQ(t.at({1, 2}), 6.0f);
  EXPECT_EQ(t.matrix()(1, 0), 4.0f);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(t.data()) % 64, 0u);
}

TEST(TensorTest, UninitializedHasTheShapeAndAlignedWritableStorage) {
  Tensor t = Tensor::uninitialized(Shape{3, 5});
  EXPECT_EQ(t.shape(), (Shape{3, 5}));
  EXPECT_EQ(t.numel(), 15);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(t.data()) % 64, 0u);
  t.fill(2.0f);
  EXPECT_EQ(t.at({2, 4}), 2.0f);
  // The constructors still initialise.
  EXPECT_EQ(Tensor(Shape{4})[3], 0.0f);
  EXPECT_EQ(Tensor::uninitialized(Shape{0}).numel(), 0);
}

TEST(TensorTest, ReshapeInfersAndRejects) {
  Tensor t(Shape{2, 3, 4});
  EXPECT_EQ(t.reshaped({-1, 4}).shape(), (Shape{6, 4}));
  EXPECT_THROW(t.reshaped({5, -1}), std::invalid_argument);
  EXPECT_THROW(t.reshaped({-1, -1}), std::invalid_argument);
}

TEST(TensorTest, NegativeDimensionIsAClearError) {
  try {
    Tensor t(Shape{2, -3});
    FAIL() << "no exception";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("negative dimension -3"), std::string::npos) << e.what();
  }
}

TEST(TensorTest, ValueCountMustMatchShape) {
  EXPECT_THROW(Tensor(Shape{2, 2}, {1, 2, 3}), std::invalid_argument);
}

TEST(TensorTest, GeneratorIsSeeded) {
  Generator a(5), b(5), c(6);
  Tensor ta = a.normalTensor(Shape{100}, 0, 1), tb = b.normalTensor(Shape{100}, 0, 1);
  Tensor tc = c.normalTensor(Shape{100}, 0, 1);
  EXPECT_EQ(std::vector<float>(ta.begin(), ta.end()), std::vector<float>(tb.begin(), tb.end()));
  EXPECT_NE(std::vector<float>(ta.begin(), ta.end()), std::vector<float>(tc.begin(), tc.end()));
}

TEST(TensorTest, GeneratorStateRoundTrip) {
  Generator a(9);
  a.normal();
  Generator b = a;
  const std::string s = a.state();
  const float next = a.normal();
  Generator c(1);
  c.setState(s);
  EXPECT_EQ(c.normal(), next);
  EXPECT_EQ(b.normal(), next);
}

TEST(TensorTest, GlorotUniformBoundsAndMean) {
  Generator g(1);
  Tensor w = glorotUniform(Shape{300, 784}, g);
  const float limit = std::sqrt(6.0f / (300 + 784));
  EXPECT_LE(w.array().abs().maxCoeff(), limit);
  EXPECT_GT(w.array().abs().maxCoeff(), 0.99f * limit);
  EXPECT_NEAR(w.array().mean(), 0.0f, 1e-3f);
  // Variance of U(-l, l) is l^2 / 3.
  EXPECT_NEAR(w.array().square().mean(), limit * limit / 3, 0.02f * limit * limit);
}

TEST(TensorTest, HeNormalStddevAndTruncation) {
  Generator g(2);
  Tensor w = heNormal(Shape{64, 32, 5, 5}, g);
  const float fanIn = 32 * 25;
  // Truncation at 2 sigma of a normal with sigma = sqrt(2/fanIn)/0.8796 gives stddev sqrt(2/fanIn).
  EXPECT_NEAR(std::sqrt(w.array().square().mean()), std::sqrt(2.0f / fanIn), 0.02f * std::sqrt(2.0f / fanIn));
  EXPECT_LE(w.array().abs().maxCoeff(), 2.0f * std::sqrt(2.0f / fanIn) / 0.8796f + 1e-6f);
}

TEST(BlockCacheTest, LargeBlocksAreReusedAndSmallOnesAreNot) {
  releaseBlockCache();
  const BlockCacheStats start = blockCacheStats();
  const Shape large{1000, 100};  // 400,000 bytes: cached
  const float* first = nullptr;
  {
    Tensor a(large, 1.0f);
    first = a.data();
  }
  EXPECT_EQ(blockCacheStats().idleBytes, 400000u);
  {
    Tensor b = Tensor::uninitialized(large);
    EXPECT_EQ(b.data(), first) << "the freed block of the same size is handed out again";
    EXPECT_EQ(reinterpret_cast<uintptr_t>(b.data()) % 64, 0u);
    Tensor c(large, 2.0f);  // a second block of that size while the first is in use: a new one
    EXPECT_NE(c.data(), b.data());
    EXPECT_EQ(c[399], 2.0f);
  }
  const BlockCacheStats after = blockCacheStats();
  EXPECT_EQ(after.hits - start.hits, 1);
  EXPECT_EQ(after.misses - start.misses, 2);
  EXPECT_EQ(after.idleBytes, 800000u);
  { Tensor small(Shape{100}, 0.0f); }  // 400 bytes: straight to malloc
  EXPECT_EQ(blockCacheStats().idleBytes, 800000u);
  releaseBlockCache();
  EXPECT_EQ(blockCacheStats().idleBytes, 0u);
}

TEST(BlockCacheTest, TheLimitCapsWhatIsKeptIdle) {
  releaseBlockCache();
  const size_t limit = blockCacheLimit();
  setBlockCacheLimit(500000);
  { Tensor a(Shape{1000, 100}), b(Shape{1000, 100}); }  // two blocks of 400,000 bytes freed
  EXPECT_EQ(blockCacheStats().idleBytes, 400000u) << "the second one went back to the system";
  setBlockCacheLimit(0);
  EXPECT_EQ(blockCacheStats().idleBytes, 0u);
  setBlockCacheLimit(limit);
}

}  // namespace shrink
