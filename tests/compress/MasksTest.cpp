// Magnitude masks on small hand-made tensors: every expected mask below is written by hand.
#include <gtest/gtest.h>

#include "compress/Masks.h"
#include "tests/TestUtils.h"

namespace shrink {
namespace {

using test::messageOf;

std::vector<float> values(const Tensor& t) { return {t.begin(), t.end()}; }

TEST(MasksTest, KeptCountRoundsHalfToEvenAndKeepsAtLeastOne) {
  EXPECT_EQ(keptCount(10, 0.0), 10);
  EXPECT_EQ(keptCount(10, 0.5), 5);
  EXPECT_EQ(keptCount(10, 0.25), 8);   // 7.5 -> 8 (even)
  EXPECT_EQ(keptCount(6, 0.75), 2);    // 1.5 -> 2 (even)
  EXPECT_EQ(keptCount(2, 0.75), 1);    // 0.5 -> 0 -> at least one
  EXPECT_EQ(keptCount(4, 0.625), 2);   // 1.5 -> 2
  EXPECT_EQ(keptCount(4, 0.375), 2);   // 2.5 -> 2
  EXPECT_EQ(keptCount(10, 0.99), 1);   // 0.1 -> 0 -> at least one
  EXPECT_EQ(keptCount(235200, 0.9), 23520);
  EXPECT_NE(messageOf([] { keptCount(10, 1.0); }).find("keptCount: sparsity must be in [0, 1), got 1"),
            std::string::npos);
  EXPECT_NE(messageOf([] { keptCount(0, 0.5); }).find("keptCount"), std::string::npos);
}

TEST(MasksTest, PerTensorKeepsTheLargestMagnitudes) {
  const Tensor w(Shape{2, 3}, {0.1f, -0.9f, 0.3f, -0.2f, 0.5f, -0.05f});
  const MaskResult half = magnitudeMask(w, 0.5);
  EXPECT_EQ(values(half.mask), (std::vector<float>{0, 1, 1, 0, 1, 0}));
  EXPECT_FLOAT_EQ(half.threshold, 0.3f);

  EXPECT_EQ(values(magnitudeMask(w, 0.0).mask), (std::vector<float>(6, 1.0f)));
  const MaskResult one = magnitudeMask(w, 0.999);
  EXPECT_EQ(values(one.mask), (std::vector<float>{0, 1, 0, 0, 0, 0}));
  EXPECT_FLOAT_EQ(one.threshold, 0.9f);
}

TEST(MasksTest, TiesAtTheThresholdAreAllKept) {
  const Tensor w(Shape{5}, {0.5f, -0.5f, 0.1f, 0.5f, 0.2f});
  const MaskResult r = magnitudeMask(w, 0.6);  // k = 2, but three entries share the 2nd magnitude
  EXPECT_EQ(values(r.mask), (std::vector<float>{1, 1, 0, 1, 0}));
  EXPECT_FLOAT_EQ(r.threshold, 0.5f);
}

TEST(MasksTest, HalfwayKRoundsToEven) {
  // 4 entries at sparsity 0.375: 2.5 kept rounds to 2; at 0.625: 1.5 rounds to 2.
  const Tensor w(Shape{4}, {0.4f, 0.1f, 0.3f, 0.2f});
  EXPECT_EQ(values(magnitudeMask(w, 0.375).mask), (std::vector<float>{1, 0, 1, 0}));
  EXPECT_EQ(values(magnitudeMask(w, 0.625).mask), (std::vector<float>{1, 0, 1, 0}));
}

TEST(MasksTest, GlobalThresholdPrunesTheSmallScaleTensorMore) {
  const Tensor big(Shape{4}, {4.0f, -3.0f, 2.0f, 1.0f});
  const Tensor small(Shape{4}, {0.4f, -0.3f, 0.2f, 5.0f});
  const auto masks = globalMagnitudeMasks({&big, &small}, 0.5);  // keep 4 of 8: 5, 4, 3, 2
  ASSERT_EQ(masks.size(), 2u);
  EXPECT_EQ(values(masks[0].mask), (std::vector<float>{1, 1, 1, 0}));
  EXPECT_EQ(values(masks[1].mask), (std::vector<float>{0, 0, 0, 1}));
  EXPECT_FLOAT_EQ(masks[0].threshold, 2.0f);
  EXPECT_FLOAT_EQ(masks[1].threshold, 2.0f);
  EXPECT_NE(messageOf([] { globalMagnitudeMasks({}, 0.5); }).find("globalMagnitudeMasks: no tensors"),
            std::string::npos);
}

TEST(MasksTest, BlockAvgAndMaxPickDifferentBlocks) {
  // 2x2 blocks of a 4x4: block (0,0) has one large entry (max 0.9, mean 0.25); block (0,1) is
  // uniformly medium (max 0.4, mean 0.4); blocks (1,0) and (1,1) are small.
  const Tensor w(Shape{4, 4}, {0.9f, 0.0f, 0.4f, -0.4f,   //
                               0.05f, 0.05f, 0.4f, 0.4f,  //
                               0.1f, 0.1f, 0.2f, 0.2f,    //
                               0.1f, 0.1f, 0.2f, 0.2f});
  const MaskResult avg = blockMask(w, 0.75, 2, 2, BlockPooling::Avg);
  EXPECT_EQ(values(avg.mask), (std::vector<float>{0, 0, 1, 1, 0, 0, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0}));
  EXPECT_FLOAT_EQ(avg.threshold, 0.4f);
  const MaskResult max = blockMask(w, 0.75, 2, 2, BlockPooling::Max);
  EXPECT_EQ(values(max.mask), (std::vector<float>{1, 1, 0, 0, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}));
  EXPECT_FLOAT_EQ(max.threshold, 0.9f);
}

TEST(MasksTest, PartialEdgeBlocksAverageTheEntriesTheyHave) {
  // 3x5 in 2x2 blocks: a 2x3 grid; the last column and last row of blocks are partial.
  // Block means: (0,0) .1  (0,1) .2  (0,2) [.9,.9] = .9 ; (1,0) [.3,.3] = .3  (1,1) .05  (1,2) [.6] = .6
  const Tensor w(Shape{3, 5}, {0.1f, 0.1f, 0.2f, 0.2f, 0.9f,  //
                               0.1f, 0.1f, 0.2f, 0.2f, 0.9f,  //
                               0.3f, 0.3f, 0.05f, 0.05f, 0.6f});
  const MaskResult r = blockMask(w, 0.5, 2, 2, BlockPooling::Avg);  // keep 3 of 6: .9, .6, .3
  EXPECT_EQ(values(r.mask), (std::vector<float>{0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 1, 1, 0, 0, 1}));
  EXPECT_FLOAT_EQ(r.threshold, 0.3f);
}

TEST(MasksTest, BlockMaskViewsConvKernelsAsOutByRest) {
  // [2, 1, 2, 2] -> matrix [2, 4]; 1x2 blocks: row 0 = (.1 .1)(.8 .8), row 1 = (.5 .5)(.2 .2)
  const Tensor w(Shape{2, 1, 2, 2}, {0.1f, 0.1f, 0.8f, 0.8f, 0.5f, 0.5f, 0.2f, 0.2f});
  const MaskResult r = blockMask(w, 0.5, 1, 2, BlockPooling::Avg);
  EXPECT_EQ(r.mask.shape(), w.shape());
  EXPECT_EQ(values(r.mask), (std::vector<float>{0, 0, 1, 1, 1, 1, 0, 0}));
}

TEST(MasksTest, TwoOfFourAlongTheInputOfADenseKernel) {
  const Tensor w(Shape{2, 8}, {0.1f, -0.4f, 0.3f, 0.2f, 0.9f, 0.8f, -0.7f, 0.6f,  //
                               0.5f, 0.5f, 0.5f, 0.5f, -0.1f, 0.0f, 0.3f, -0.2f});
  const MaskResult r = nOfMMask(w, 2, 4);
  // Row 1, group 0: all equal -> the two lower indices.
  EXPECT_EQ(values(r.mask), (std::vector<float>{0, 1, 1, 0, 1, 1, 0, 0,  //
                                                1, 1, 0, 0, 0, 0, 1, 1}));
}

TEST(MasksTest, TwoOfFourGroupsRunAcrossConvInputChannels) {
  // [1, 4, 1, 2]: at kernel position 0 the inputs are w[0..3][0] = .1 .9 .8 .2, at position 1 they
  // are .7 .1 .2 .6 (flattened index = in * 2 + pos).
  const Tensor w(Shape{1, 4, 1, 2}, {0.1f, 0.7f, 0.9f, 0.1f, 0.8f, 0.2f, 0.2f, 0.6f});
  const MaskResult r = nOfMMask(w, 2, 4);
  EXPECT_EQ(values(r.mask), (std::vector<float>{0, 1, 1, 0, 1, 0, 0, 1}));
}

TEST(MasksTest, OneOfThreeWithARaggedLastGroup) {
  const Tensor w(Shape{1, 7}, {0.1f, 0.3f, 0.2f, 0.5f, 0.4f, 0.6f, 0.05f});
  EXPECT_EQ(values(nOfMMask(w, 1, 3).mask), (std::vector<float>{0, 1, 0, 0, 0, 1, 1}));
}

TEST(MasksTest, BadInputsNameTheFunction) {
  const Tensor w(Shape{2, 4}, 1.0f);
  EXPECT_NE(messageOf([&] { magnitudeMask(w, -0.1); }).find("magnitudeMask: sparsity must be in [0, 1)"),
            std::string::npos);
  EXPECT_NE(messageOf([&] { magnitudeMask(Tensor(Shape{0}), 0.5); }).find("magnitudeMask: empty"),
            std::string::npos);
  EXPECT_NE(messageOf([&] { blockMask(w, 0.5, 0, 2, BlockPooling::Avg); }).find("blockMask: block size"),
            std::string::npos);
  EXPECT_NE(messageOf([&] { blockMask(Tensor(Shape{8}, 1.0f), 0.5, 1, 2, BlockPooling::Max); })
                .find("blockMask: expected a Dense [out, in] or Conv2D"),
            std::string::npos);
  EXPECT_NE(messageOf([&] { nOfMMask(w, 4, 4); }).find("nOfMMask: need 1 <= n < m, got 4:4"), std::string::npos);
  EXPECT_NE(messageOf([&] { nOfMMask(w, 0, 4); }).find("nOfMMask"), std::string::npos);
  EXPECT_NE(messageOf([&] { nOfMMask(Tensor(Shape{2, 2, 2}, 1.0f), 2, 4); }).find("nOfMMask: expected"),
            std::string::npos);
}

}  // namespace
}  // namespace shrink
