#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

#include "core/Archive.h"

namespace shrink {
namespace {

namespace fs = std::filesystem;

fs::path tempPath(const std::string& name) {
  fs::path dir = fs::temp_directory_path() / ("shrink_archive_test_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  return dir / name;
}

Archive sample() {
  Archive a;
  a.meta()["model"] = {{"type", "Dense"}};
  a.put("w", Tensor(Shape{2, 3}, {1, 2, 3, 4, 5, 6}));
  a.putBytes("q", DType::Int8, Shape{4}, {0x80, 0x00, 0x01, 0x7f});
  return a;
}

std::string loadError(const std::vector<uint8_t>& bytes) {
  try {
    Archive::fromBytes(bytes, "model.shrink");
  } catch (const std::runtime_error& e) {
    return e.what();
  }
  return "no error";
}

}  // namespace

TEST(ArchiveTest, RoundTripThroughFile) {
  const fs::path p = tempPath("a.shrink");
  sample().save(p);
  Archive b = Archive::load(p);
  EXPECT_EQ(b.meta()["model"]["type"], "Dense");
  Tensor w = b.tensor("w");
  EXPECT_EQ(w.shape(), (Shape{2, 3}));
  EXPECT_EQ(w[5], 6.0f);
  EXPECT_EQ(b.entry("q").dtype, DType::Int8);
  EXPECT_EQ(b.entry("q").bytes[0], 0x80);
  // The int8 entry takes one byte per element.
  EXPECT_EQ(b.entry("q").bytes.size(), 4u);
}

TEST(ArchiveTest, TruncatedFileIsRejected) {
  std::vector<uint8_t> bytes = sample().toBytes();
  bytes.resize(bytes.size() - 3);
  EXPECT_NE(loadError(bytes).find("model.shrink: truncated"), std::string::npos) << loadError(bytes);
  bytes.resize(20);
  EXPECT_NE(loadError(bytes).find("truncated"), std::string::npos);
}

TEST(ArchiveTest, FlippedBitIsRejected) {
  std::vector<uint8_t> bytes = sample().toBytes();
  for (size_t at : {size_t(45), bytes.size() - 1}) {
    std::vector<uint8_t> bad = bytes;
    bad[at] ^= 0x10;
    EXPECT_NE(loadError(bad).find("corrupted"), std::string::npos) << at << ": " << loadError(bad);
  }
}

TEST(ArchiveTest, ForeignFileIsRejected) {
  std::vector<uint8_t> png = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n', 0, 0, 0, 0};
  EXPECT_NE(loadError(png).find("not a shrink file"), std::string::npos);
}

TEST(ArchiveTest, NewerVersionIsRejected) {
  std::vector<uint8_t> bytes = sample().toBytes();
  bytes[8] = static_cast<uint8_t>(Archive::kFormatVersion + 1);
  EXPECT_NE(loadError(bytes).find("newer than this build"), std::string::npos) << loadError(bytes);
}

TEST(ArchiveTest, MissingFileNamesThePath) {
  try {
    Archive::load("/nonexistent/dir/x.shrink");
    FAIL();
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("/nonexistent/dir/x.shrink"), std::string::npos);
  }
}

TEST(ArchiveTest, SaveIsAtomicAndLeavesNoTemporary) {
  const fs::path p = tempPath("atomic.shrink");
  sample().save(p);
  const auto before = readFile(p);
  // A save into a directory that does not exist fails without touching anything.
  EXPECT_THROW(sample().save((p.parent_path() / "missing" / "x.shrink").string()), std::runtime_error);
  EXPECT_EQ(readFile(p), before);
  for (const auto& e : fs::directory_iterator(p.parent_path()))
    EXPECT_EQ(e.path().string().find(".tmp"), std::string::npos) << e.path();
}

TEST(ArchiveTest, EntryErrorsNameTheEntry) {
  Archive a = sample();
  EXPECT_THROW(a.put("w", Tensor(Shape{1})), std::invalid_argument);
  try {
    a.tensor("q");
    FAIL();
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("'q' is int8"), std::string::npos);
  }
}

}  // namespace shrink
