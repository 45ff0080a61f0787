#include "datasets/Idx.h"

#include <numeric>

#include <gtest/gtest.h>

#include "datasets/DatasetTestUtils.h"

namespace shrink::data {
namespace {

using test::contains;
using test::idxFile;
using test::idxHeader;
using test::runtimeErrorOf;
using test::TempDir;
using test::writeBytes;

std::vector<uint8_t> iotaBytes(size_t n, uint8_t start = 0) {
  std::vector<uint8_t> v(n);
  std::iota(v.begin(), v.end(), start);
  return v;
}

/// Runs every case on raw and on gzip-compressed files.
class IdxTest : public ::testing::TestWithParam<bool> {
 protected:
  bool gzip() const { return GetParam(); }
  std::filesystem::path write(const std::string& stem, const std::vector<uint8_t>& bytes) {
    const auto p = dir_ / (stem + (gzip() ? ".gz" : ""));
    writeBytes(p, bytes, gzip());
    return p;
  }
  TempDir dir_;
};

TEST_P(IdxTest, ReadsImagesBack) {
  const std::vector<uint8_t> pixels = iotaBytes(3 * 2 * 4, 200);  // wraps past 255: all byte values kept
  const auto p = write("images-idx3-ubyte", idxFile(kIdxImagesMagic, {3, 2, 4}, pixels));
  const IdxArray a = readIdxImages(p);
  EXPECT_EQ(a.dims, (std::vector<int64_t>{3, 2, 4}));
  EXPECT_EQ(a.bytes, pixels);
  EXPECT_EQ(a.numel(), 24);
  const IdxArray b = readIdx(p);
  EXPECT_EQ(b.dims, a.dims);
  EXPECT_EQ(b.bytes, a.bytes);
}

TEST_P(IdxTest, ReadsLabelsBack) {
  const std::vector<uint8_t> labels{5, 0, 4, 1, 9, 2, 1};
  const auto p = write("labels-idx1-ubyte", idxFile(kIdxLabelsMagic, {7}, labels));
  const IdxArray a = readIdxLabels(p);
  EXPECT_EQ(a.dims, (std::vector<int64_t>{7}));
  EXPECT_EQ(a.bytes, labels);
}

TEST_P(IdxTest, ReadsOtherRanksAndEmptyData) {
  const auto p4 = write("four", idxFile(0x00000804, {2, 1, 2, 3}, iotaBytes(12)));
  EXPECT_EQ(readIdx(p4).dims, (std::vector<int64_t>{2, 1, 2, 3}));
  const auto p0 = write("empty", idxFile(kIdxImagesMagic, {0, 28, 28}, {}));
  const IdxArray e = readIdxImages(p0);
  EXPECT_EQ(e.dims, (std::vector<int64_t>{0, 28, 28}));
  EXPECT_TRUE(e.bytes.empty());
}

TEST_P(IdxTest, RejectsWrongMagicNamingFile) {
  const auto p = write("train-labels-idx1-ubyte", idxFile(kIdxImagesMagic, {1, 1, 1}, {3}));
  const std::string msg = runtimeErrorOf([&] { readIdxLabels(p); });
  EXPECT_TRUE(contains(msg, p.string() + ": wrong magic 0x00000803, expected 0x00000801 (labels)"));
  EXPECT_TRUE(contains(msg, "this is an images file"));
  const auto q = write("images", idxFile(kIdxLabelsMagic, {1}, {3}));
  EXPECT_TRUE(contains(runtimeErrorOf([&] { readIdxImages(q); }), q.string() + ": wrong magic 0x00000801, expected 0x00000803 (images)"));
}

TEST_P(IdxTest, RejectsWrongDimensionCount) {
  // Type 0x08 but 2 dimensions where images need 3.
  const auto p = write("images", idxFile(0x00000802, {2, 3}, iotaBytes(6)));
  const std::string msg = runtimeErrorOf([&] { readIdxImages(p); });
  EXPECT_TRUE(contains(msg, p.string()));
  EXPECT_TRUE(contains(msg, "2 dimensions instead of 3"));
  // Generic reader: 0 and 5 dimensions are outside 1..4.
  const auto z = write("zero", idxHeader(0x00000800, {}));
  EXPECT_TRUE(contains(runtimeErrorOf([&] { readIdx(z); }), z.string() + ": bad dimension count 0"));
  const auto f = write("five", idxFile(0x00000805, {1, 1, 1, 1, 1}, {7}));
  EXPECT_TRUE(contains(runtimeErrorOf([&] { readIdx(f); }), f.string() + ": bad dimension count 5"));
}

TEST_P(IdxTest, RejectsOtherTypesAndNonIdx) {
  const auto p = write("floats", idxFile(0x00000D01, {1}, {0, 0, 0, 0}));
  EXPECT_TRUE(contains(runtimeErrorOf([&] { readIdx(p); }), p.string() + ": unsupported IDX data type 0x0D"));
  const auto q = write("text", {'h', 'e', 'l', 'l', 'o', '\n'});
  EXPECT_TRUE(contains(runtimeErrorOf([&] { readIdx(q); }), q.string() + ": bad magic 0x68656C6C"));
}

TEST_P(IdxTest, RejectsShortData) {
  std::vector<uint8_t> bytes = idxFile(kIdxImagesMagic, {3, 2, 4}, iotaBytes(23));
  const auto p = write("short", bytes);
  const std::string msg = runtimeErrorOf([&] { readIdxImages(p); });
  EXPECT_TRUE(contains(msg, p.string() + ": short data"));
  EXPECT_TRUE(contains(msg, "need 24 bytes, file has 23"));
}

TEST_P(IdxTest, RejectsTrailingBytes) {
  const auto p = write("long", idxFile(kIdxLabelsMagic, {4}, {1, 2, 3, 4, 5, 6}));
  const std::string msg = runtimeErrorOf([&] { readIdxLabels(p); });
  EXPECT_TRUE(contains(msg, p.string() + ": 2 trailing bytes after the 4 data bytes"));
}

TEST_P(IdxTest, RejectsTruncatedHeader) {
  const auto p = write("tiny", {0, 0, 8});
  EXPECT_TRUE(contains(runtimeErrorOf([&] { readIdx(p); }), p.string() + ": file too short"));
  std::vector<uint8_t> cut = idxHeader(kIdxImagesMagic, {10, 28, 28});
  cut.resize(cut.size() - 2);
  const auto q = write("cut", cut);
  EXPECT_TRUE(contains(runtimeErrorOf([&] { readIdxImages(q); }), q.string() + ": file ends inside the header"));
}

TEST_P(IdxTest, RejectsImplausibleDimensionsWithoutAllocating) {
  const auto p = write("huge", idxFile(kIdxImagesMagic, {0xFFFFFFFFu, 0xFFFFu, 0xFFFFu}, {1, 2, 3}));
  EXPECT_TRUE(contains(runtimeErrorOf([&] { readIdxImages(p); }), p.string() + ": dimensions"));
  // Large but plausible: fails on the missing data, after reading only what is there.
  const auto q = write("big", idxFile(kIdxImagesMagic, {100000, 100, 100}, {1, 2, 3}));
  EXPECT_TRUE(contains(runtimeErrorOf([&] { readIdxImages(q); }), "need 1000000000 bytes, file has 3"));
}

INSTANTIATE_TEST_SUITE_P(RawAndGzip, IdxTest, ::testing::Bool(),
                         [](const auto& info) { return info.param ? "Gzip" : "Raw"; });

TEST(IdxFileTest, MissingFileNamesPath) {
  TempDir dir;
  const auto p = dir / "nothing-here-idx1-ubyte.gz";
  EXPECT_TRUE(contains(runtimeErrorOf([&] { readIdx(p); }), p.string() + ": no such file"));
  EXPECT_TRUE(contains(runtimeErrorOf([&] { readIdx(dir.path()); }), "is a directory"));
}

TEST(IdxFileTest, ContentNotNameDecidesCompression) {
  TempDir dir;
  const std::vector<uint8_t> bytes = idxFile(kIdxLabelsMagic, {3}, {7, 8, 9});
  writeBytes(dir / "gz-without-suffix", bytes, true);
  writeBytes(dir / "raw-with-suffix.gz", bytes, false);
  EXPECT_EQ(readIdxLabels(dir / "gz-without-suffix").bytes, (std::vector<uint8_t>{7, 8, 9}));
  EXPECT_EQ(readIdxLabels(dir / "raw-with-suffix.gz").bytes, (std::vector<uint8_t>{7, 8, 9}));
}

TEST(IdxFileTest, TruncatedGzipStreamIsRejected) {
  TempDir dir;
  std::vector<uint8_t> pixels(5000);
  for (size_t i = 0; i < pixels.size(); ++i) pixels[i] = static_cast<uint8_t>((i * 7919) % 251);
  const auto full = dir / "full.gz";
  writeBytes(full, idxFile(kIdxImagesMagic, {5, 10, 100}, pixels), true);
  std::ifstream in(full, std::ios::binary);
  std::vector<uint8_t> gz((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  ASSERT_GT(gz.size(), 100u);
  gz.resize(gz.size() / 2);
  const auto cut = dir / "cut.gz";
  writeBytes(cut, gz, false);
  const std::string msg = runtimeErrorOf([&] { readIdxImages(cut); });
  EXPECT_TRUE(contains(msg, cut.string() + ": short data"));
  EXPECT_TRUE(contains(msg, "(gzip: unexpected end of file)"));
}

TEST(IdxFileTest, CorruptGzipStreamIsRejected) {
  TempDir dir;
  std::vector<uint8_t> pixels(20000);
  for (size_t i = 0; i < pixels.size(); ++i) pixels[i] = static_cast<uint8_t>((i * i * 31 + i / 7) % 256);
  const auto p = dir / "corrupt.gz";
  writeBytes(p, idxFile(kIdxImagesMagic, {20, 10, 100}, pixels), true);
  std::ifstream in(p, std::ios::binary);
  std::vector<uint8_t> gz((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  in.close();
  ASSERT_GT(gz.size(), 200u);
  for (size_t i = gz.size() / 3; i < gz.size() / 3 + 40; ++i) gz[i] ^= 0x5A;
  writeBytes(p, gz, false);
  EXPECT_TRUE(contains(runtimeErrorOf([&] { readIdxImages(p); }), p.string() + ": "));
}

}  // namespace
}  // namespace shrink::data
