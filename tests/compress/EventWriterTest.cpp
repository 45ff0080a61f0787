// TensorBoard event files (checked byte for byte and read back by TensorBoard itself) and the CSV log.
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "compress/EventWriter.h"
#include "tests/TestUtils.h"
#include "tests/compress/TensorBoardReader.h"

namespace shrink {
namespace {

namespace fs = std::filesystem;

fs::path freshDir(const std::string& name) {
  const fs::path dir = fs::temp_directory_path() / "shrink_event_writer_test" / name;
  fs::remove_all(dir);
  return dir;
}

std::string readAll(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

uint64_t le(const std::string& s, size_t at, size_t n) {
  uint64_t v = 0;
  for (size_t i = 0; i < n; ++i) v |= uint64_t(static_cast<unsigned char>(s[at + i])) << (8 * i);
  return v;
}

/// Splits a TFRecord file into its records, checking both masked CRCs of each.
::testing::AssertionResult readRecords(const std::string& file, std::vector<std::string>& records) {
  size_t at = 0;
  while (at < file.size()) {
    if (file.size() - at < 12) return ::testing::AssertionFailure() << "truncated header at " << at;
    const uint64_t n = le(file, at, 8);
    if (le(file, at + 8, 4) != maskedCrc32c(file.substr(at, 8)))
      return ::testing::AssertionFailure() << "bad length CRC at " << at;
    if (file.size() - at - 12 < n + 4) return ::testing::AssertionFailure() << "truncated record at " << at;
    const std::string data = file.substr(at + 12, n);
    if (le(file, at + 12 + n, 4) != maskedCrc32c(data))
      return ::testing::AssertionFailure() << "bad data CRC at " << at;
    records.push_back(data);
    at += 12 + n + 4;
  }
  return ::testing::AssertionSuccess();
}

std::string bytes(std::initializer_list<int> values) {
  std::string s;
  for (int v : values) s += static_cast<char>(v);
  return s;
}

TEST(EventWriterTest, Crc32cMatchesPublishedVectors) {
  EXPECT_EQ(crc32c("123456789"), 0xE3069283u);
  EXPECT_EQ(crc32c(""), 0u);
  EXPECT_EQ(crc32c(std::string(32, '\0')), 0x8A9136AAu);      // RFC 3720, B.4: 32 bytes of zeros
  EXPECT_EQ(crc32c(std::string(32, '\xFF')), 0x62A8AB43u);    // RFC 3720, B.4: 32 bytes of ones
  const uint32_t c = 0xE3069283u;
  EXPECT_EQ(maskedCrc32c("123456789"), ((c >> 15) | (c << 17)) + 0xA282EAD8u);
}

TEST(EventWriterTest, FileIsNamedAndFramedAsTensorBoardExpects) {
  const fs::path dir = freshDir("framing") / "nested";
  std::string path;
  {
    EventWriter w(dir.string());
    path = w.path();
    w.addScalar("loss", 0.5, 3);
    w.addScalar("a/b", -2.0, -1);
  }
  const std::string name = fs::path(path).filename().string();
  EXPECT_EQ(fs::path(path).parent_path(), dir);
  EXPECT_EQ(name.rfind("events.out.tfevents.", 0), 0u) << name;
  const long long seconds = std::stoll(name.substr(20, name.find('.', 20) - 20));
  EXPECT_NEAR(static_cast<double>(seconds), static_cast<double>(std::time(nullptr)), 60.0);

  std::vector<std::string> records;
  ASSERT_TRUE(readRecords(readAll(path), records));
  ASSERT_EQ(records.size(), 3u);
  // Event{wall_time (1, fixed64), file_version (3) "brain.Event:2"}.
  EXPECT_EQ(records[0].size(), 9u + 2u + 13u);
  EXPECT_EQ(records[0][0], '\x09');
  EXPECT_EQ(records[0].substr(9), bytes({0x1A, 13}) + "brain.Event:2");
  double wall;
  std::memcpy(&wall, records[0].data() + 1, 8);
  EXPECT_NEAR(wall, static_cast<double>(std::time(nullptr)), 60.0);
  // Event{wall_time, step (2, varint) 3, summary (5) {value (1) {tag (1) "loss", simple_value (2) 0.5f}}}.
  EXPECT_EQ(records[1][0], '\x09');
  EXPECT_EQ(records[1].substr(9), bytes({0x10, 3, 0x2A, 13, 0x0A, 11, 0x0A, 4, 'l', 'o', 's', 's', 0x15, 0, 0, 0,
                                         0x3F}));
  // step -1 is ten varint bytes; -2.0f is 0xC0000000.
  EXPECT_EQ(records[2].substr(9), bytes({0x10, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01, 0x2A, 12,
                                         0x0A, 10, 0x0A, 3, 'a', '/', 'b', 0x15, 0, 0, 0, 0xC0}));
}

TEST(EventWriterTest, WritersSharingADirectoryGetTheirOwnFiles) {
  const fs::path dir = freshDir("two");
  EventWriter a(dir.string()), b(dir.string());
  EXPECT_NE(a.path(), b.path());
  EXPECT_NE(b.path().find("tfevents"), std::string::npos);
  a.addScalar("x", 1, 1);
  b.addScalar("x", 2, 1);
  a.flush();
  b.flush();
  std::vector<std::string> ra, rb;
  ASSERT_TRUE(readRecords(readAll(a.path()), ra));
  ASSERT_TRUE(readRecords(readAll(b.path()), rb));
  EXPECT_EQ(ra.size(), 2u);
  EXPECT_EQ(rb.size(), 2u);
}

TEST(EventWriterTest, TensorBoardReadsTheScalarsBack) {
  std::string why;
  const std::string py = test::tensorboardPython(why);
  if (py.empty()) GTEST_SKIP() << "TensorBoard is not available: " << why;

  const fs::path dir = freshDir("tensorboard");
  EventWriter w(dir.string());
  for (int64_t step = 0; step < 4; ++step) {
    w.addScalar("prune_low_magnitude_dense/sparsity", 0.25 * step, step * 100);
    w.addScalar("loss", 1.0 / (step + 1), step * 100);
  }
  w.flush();  // read while the writer is still open, as TensorBoard does during training

  std::string error;
  const nlohmann::json j = test::readTensorBoardScalars(py, dir.string(), error);
  ASSERT_TRUE(error.empty()) << error;
  EXPECT_EQ(j["file_version"], 2.0);  // the accumulator parses "brain.Event:2"
  EXPECT_EQ(j["tags"], nlohmann::json({"loss", "prune_low_magnitude_dense/sparsity"}));
  const auto& sparsity = j["scalars"]["prune_low_magnitude_dense/sparsity"];
  const auto& loss = j["scalars"]["loss"];
  ASSERT_EQ(sparsity.size(), 4u);
  ASSERT_EQ(loss.size(), 4u);
  for (int64_t step = 0; step < 4; ++step) {
    EXPECT_EQ(sparsity[step][0], step * 100);
    EXPECT_EQ(sparsity[step][1].get<double>(), static_cast<double>(static_cast<float>(0.25 * step)));
    EXPECT_EQ(loss[step][0], step * 100);
    EXPECT_EQ(loss[step][1].get<double>(), static_cast<double>(static_cast<float>(1.0 / (step + 1))));
  }
}

TEST(EventWriterTest, BadInputsNameTheProblem) {
  const fs::path dir = freshDir("bad");
  fs::create_directories(dir);
  const fs::path file = dir / "plain_file";
  std::ofstream(file) << "not a directory";
  const std::string blocked = (file / "logs").string();
  try {
    EventWriter w(blocked);
    FAIL() << "no exception for " << blocked;
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find(blocked), std::string::npos) << e.what();
  }
  try {
    EventWriter w(file.string());
    FAIL() << "no exception for a file given as the directory";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find(file.string()), std::string::npos) << e.what();
  }
  const std::string csv = (file / "log.csv").string();
  try {
    ScalarCsvLog log(csv);
    FAIL() << "no exception for " << csv;
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find(csv), std::string::npos) << e.what();
  }
  EventWriter w((dir / "ok").string());
  EXPECT_NE(test::messageOf([&] { w.addScalar("", 1.0, 2); }).find("empty tag"), std::string::npos);
  ScalarCsvLog log((dir / "ok.csv").string());
  EXPECT_NE(test::messageOf([&] { log.addScalar("", 1.0, 2); }).find("empty tag"), std::string::npos);
}

TEST(ScalarCsvLogTest, WritesStepTagValueRowsThatReadBackExactly) {
  const fs::path dir = freshDir("csv");
  fs::create_directories(dir);
  const std::string path = (dir / "scalars.csv").string();
  {
    ScalarCsvLog log(path);
    log.addScalar("dense/sparsity", 0.1, 0);
    log.addScalar("odd,\"tag\"", 1.0 / 3.0, 7);
    log.flush();
    EXPECT_EQ(readAll(path).substr(0, 15), "step,tag,value\n");
  }
  {
    ScalarCsvLog log(path, /*append=*/true);
    log.addScalar("loss", 2.5e-8, 8);
  }
  const std::string text = readAll(path);
  EXPECT_EQ(text, "step,tag,value\n"
                  "0,dense/sparsity,0.1\n"
                  "7,\"odd,\"\"tag\"\"\"," + fmt::format("{}", 1.0 / 3.0) + "\n"
                  "8,loss,2.5e-08\n");
  // The shortest form still reads back to the same double.
  EXPECT_EQ(std::stod(fmt::format("{}", 1.0 / 3.0)), 1.0 / 3.0);
  {
    ScalarCsvLog log(path);  // truncates
    log.addScalar("x", 1, 1);
  }
  EXPECT_EQ(readAll(path), "step,tag,value\n1,x,1\n");
}

}  // namespace
}  // namespace shrink
