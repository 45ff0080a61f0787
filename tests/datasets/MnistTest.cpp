#include "datasets/Mnist.h"

#include <array>
#include <filesystem>

#include <gtest/gtest.h>

#include "TestUtils.h"
#include "datasets/DatasetTestUtils.h"
#include "datasets/Idx.h"

namespace shrink::data {
namespace {

using test::contains;
using test::idxFile;
using test::runtimeErrorOf;
using test::TempDir;
using test::writeBytes;

std::array<int64_t, 10> labelCounts(const TensorDataset& d) {
  std::array<int64_t, 10> counts{};
  for (int64_t i = 0; i < d.size(); ++i) {
    const float y = d.targets()[i];
    EXPECT_TRUE(y >= 0 && y <= 9 && y == static_cast<float>(static_cast<int>(y))) << "label " << y;
    ++counts[static_cast<size_t>(y)];
  }
  return counts;
}

void expectPixelRange(const TensorDataset& d) {
  const auto& x = d.inputs();
  EXPECT_EQ(x.array().minCoeff(), 0.0f);
  EXPECT_EQ(x.array().maxCoeff(), 1.0f);
}

// ---- real MNIST (skipped when the files are absent) ----

class RealMnistTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = test::mnistDir();
    if (!std::filesystem::is_directory(dir_))
      GTEST_SKIP() << "MNIST not found at " << dir_
                   << " (set SHRINK_MNIST_DIR to a directory with the four IDX files)";
  }
  std::filesystem::path dir_;
};

TEST_F(RealMnistTest, TrainSplitCountsAndLabels) {
  const TensorDataset d = loadMnist(dir_, Split::Train);
  ASSERT_EQ(d.size(), 60000);
  EXPECT_EQ(d.inputs().shape(), (Shape{60000, 784}));
  EXPECT_EQ(d.targets().shape(), (Shape{60000}));
  EXPECT_EQ(labelCounts(d), (std::array<int64_t, 10>{5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949}));
  const std::array<float, 10> first{5, 0, 4, 1, 9, 2, 1, 3, 1, 4};  // the well-known first train labels
  for (int i = 0; i < 10; ++i) EXPECT_EQ(d.targets()[i], first[static_cast<size_t>(i)]) << "label " << i;
  expectPixelRange(d);
}

TEST_F(RealMnistTest, TestSplitCountsAndLabels) {
  const TensorDataset d = loadMnist(dir_, Split::Test);
  ASSERT_EQ(d.size(), 10000);
  EXPECT_EQ(labelCounts(d), (std::array<int64_t, 10>{980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009}));
  const std::array<float, 10> first{7, 2, 1, 0, 4, 1, 4, 9, 5, 9};
  for (int i = 0; i < 10; ++i) EXPECT_EQ(d.targets()[i], first[static_cast<size_t>(i)]) << "label " << i;
  expectPixelRange(d);
}

TEST_F(RealMnistTest, LayoutLimitAndNormalizationAgree) {
  const TensorDataset flat = loadMnist(dir_, Split::Test, {.limit = 50});
  const TensorDataset nchw = loadMnist(dir_, Split::Test, {.layout = ImageLayout::NCHW, .limit = 50});
  const TensorDataset raw = loadMnist(dir_, Split::Test, {.normalize = false, .limit = 50});
  ASSERT_EQ(flat.size(), 50);
  EXPECT_EQ(nchw.inputs().shape(), (Shape{50, 1, 28, 28}));
  EXPECT_EQ(nchw.exampleShape(), (Shape{1, 28, 28}));
  EXPECT_TRUE(test::allClose(nchw.inputs().reshaped({50, 784}), flat.inputs(), 0, 0));
  EXPECT_TRUE(test::allClose(flat.targets(), nchw.targets(), 0, 0));
  float maxRaw = 0;
  for (int64_t i = 0; i < raw.inputs().numel(); ++i) {
    const float v = raw.inputs()[i];
    ASSERT_EQ(v, static_cast<float>(static_cast<int>(v))) << "raw pixel " << i << " is not a grey level";
    ASSERT_EQ(flat.inputs()[i], v / 255.0f) << "pixel " << i;
    maxRaw = std::max(maxRaw, v);
  }
  EXPECT_EQ(maxRaw, 255.0f);
}

// ---- Fashion-MNIST from the Debian package location (skipped when absent) ----

TEST(FashionMnistTest, DefaultDirIsDebianLocation) {
  EXPECT_EQ(defaultFashionMnistDir(), std::filesystem::path("/usr/share/datasets/fashion-mnist"));
}

TEST(FashionMnistTest, BothSplitsAreBalanced) {
  const auto dir = defaultFashionMnistDir();
  if (!std::filesystem::is_directory(dir))
    GTEST_SKIP() << "Fashion-MNIST not found at " << dir << " (install the dataset-fashion-mnist package)";
  const TensorDataset train = loadMnist(dir, Split::Train, {.layout = ImageLayout::NCHW});
  EXPECT_EQ(train.inputs().shape(), (Shape{60000, 1, 28, 28}));
  std::array<int64_t, 10> six{};
  six.fill(6000);
  EXPECT_EQ(labelCounts(train), six);
  expectPixelRange(train);
  const TensorDataset testSet = loadMnist(dir, Split::Test);
  EXPECT_EQ(testSet.size(), 10000);
  std::array<int64_t, 10> one{};
  one.fill(1000);
  EXPECT_EQ(labelCounts(testSet), one);
}

// ---- small synthetic directories ----

/// Writes a 5-image 3x2 split into `dir` under the given file names.
void writeSplit(const std::filesystem::path& images, const std::filesystem::path& labels, bool gzip,
                uint32_t nImages = 5, uint32_t nLabels = 5, uint8_t badLabel = 0) {
  std::vector<uint8_t> pixels(nImages * 6);
  for (size_t i = 0; i < pixels.size(); ++i) pixels[i] = static_cast<uint8_t>(i * 17 % 256);
  std::vector<uint8_t> ys(nLabels);
  for (size_t i = 0; i < ys.size(); ++i) ys[i] = static_cast<uint8_t>((i * 3) % 10);
  if (badLabel) ys.back() = badLabel;
  writeBytes(images, idxFile(kIdxImagesMagic, {nImages, 3, 2}, pixels), gzip);
  writeBytes(labels, idxFile(kIdxLabelsMagic, {nLabels}, ys), gzip);
}

void expectSynthetic(const TensorDataset& d, int64_t n) {
  ASSERT_EQ(d.size(), n);
  ASSERT_EQ(d.inputs().shape(), (Shape{n, 6}));
  for (int64_t i = 0; i < n * 6; ++i) EXPECT_EQ(d.inputs()[i], static_cast<float>(i * 17 % 256) / 255.0f);
  for (int64_t i = 0; i < n; ++i) EXPECT_EQ(d.targets()[i], static_cast<float>((i * 3) % 10));
}

TEST(MnistFilesTest, ReadsUncompressedNames) {
  TempDir dir;
  writeSplit(dir / "t10k-images-idx3-ubyte", dir / "t10k-labels-idx1-ubyte", false);
  expectSynthetic(loadMnist(dir.path(), Split::Test), 5);
}

TEST(MnistFilesTest, ReadsGzipAndDottedNames) {
  TempDir dir;
  writeSplit(dir / "train-images-idx3-ubyte.gz", dir / "train-labels-idx1-ubyte.gz", true);
  expectSynthetic(loadMnist(dir.path(), Split::Train), 5);
  TempDir dotted;
  writeSplit(dotted / "train-images.idx3-ubyte", dotted / "train-labels.idx1-ubyte", false);
  expectSynthetic(loadMnist(dotted.path(), Split::Train), 5);
  const TensorDataset limited = loadMnist(dotted.path(), Split::Train, {.layout = ImageLayout::NCHW, .limit = 2});
  EXPECT_EQ(limited.inputs().shape(), (Shape{2, 1, 3, 2}));
  EXPECT_EQ(limited.targets().shape(), (Shape{2}));
  EXPECT_EQ(loadMnist(dotted.path(), Split::Train, {.limit = 99}).size(), 5);
}

TEST(MnistFilesTest, MissingDirectoryNamesPathAndFiles) {
  TempDir dir;
  const auto missing = dir / "no-such-dir";
  const std::string msg = runtimeErrorOf([&] { loadMnist(missing, Split::Train); });
  EXPECT_TRUE(contains(msg, missing.string()));
  EXPECT_TRUE(contains(msg, "does not exist"));
  EXPECT_TRUE(contains(msg, "train-images-idx3-ubyte"));
  EXPECT_TRUE(contains(msg, "t10k-labels-idx1-ubyte"));
}

TEST(MnistFilesTest, MissingFilesAreListedInOneError) {
  TempDir dir;
  const std::string both = runtimeErrorOf([&] { loadMnist(dir.path(), Split::Test); });
  EXPECT_TRUE(contains(both, dir.path().string()));
  EXPECT_TRUE(contains(both, "t10k-images-idx3-ubyte.gz or t10k-images-idx3-ubyte"));
  EXPECT_TRUE(contains(both, "t10k-labels-idx1-ubyte.gz or t10k-labels-idx1-ubyte"));
  // Only the train split present: asking for test still fails; train works.
  writeSplit(dir / "train-images-idx3-ubyte.gz", dir / "train-labels-idx1-ubyte", true);
  std::filesystem::remove(dir / "train-labels-idx1-ubyte");
  const std::string labels = runtimeErrorOf([&] { loadMnist(dir.path(), Split::Train); });
  EXPECT_TRUE(contains(labels, "has no train-labels-idx1-ubyte.gz or train-labels-idx1-ubyte;"));
  EXPECT_FALSE(contains(labels, "no train-images"));
}

TEST(MnistFilesTest, ImageAndLabelCountsMustAgree) {
  TempDir dir;
  writeSplit(dir / "train-images-idx3-ubyte", dir / "train-labels-idx1-ubyte", false, 5, 4);
  const std::string msg = runtimeErrorOf([&] { loadMnist(dir.path(), Split::Train); });
  EXPECT_TRUE(contains(msg, (dir / "train-images-idx3-ubyte").string() + " holds 5 images but " +
                                (dir / "train-labels-idx1-ubyte").string() + " holds 4 labels"));
}

TEST(MnistFilesTest, RejectsLabelsOutsideZeroToNine) {
  TempDir dir;
  writeSplit(dir / "t10k-images-idx3-ubyte", dir / "t10k-labels-idx1-ubyte", false, 5, 5, 10);
  const std::string msg = runtimeErrorOf([&] { loadMnist(dir.path(), Split::Test); });
  EXPECT_TRUE(contains(msg, (dir / "t10k-labels-idx1-ubyte").string() + ": label 10 at index 4"));
}

TEST(MnistFilesTest, MalformedFileErrorNamesIt) {
  TempDir dir;
  writeSplit(dir / "train-images-idx3-ubyte", dir / "train-labels-idx1-ubyte.gz", true);
  // Swap in a labels file that carries the images magic.
  writeBytes(dir / "train-labels-idx1-ubyte.gz", idxFile(kIdxImagesMagic, {5, 1, 1}, {0, 1, 2, 3, 4}), true);
  const std::string msg = runtimeErrorOf([&] { loadMnist(dir.path(), Split::Train); });
  EXPECT_TRUE(contains(msg, (dir / "train-labels-idx1-ubyte.gz").string() +
                                ": wrong magic 0x00000803, expected 0x00000801 (labels)"));
}

TEST(MnistFilesTest, NegativeLimitIsInvalid) {
  EXPECT_THROW(loadMnist("/nonexistent", Split::Train, {.limit = -1}), std::invalid_argument);
}

}  // namespace
}  // namespace shrink::data
