#pragma once

#include <unistd.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <zlib.h>

/// Helpers shared by the datasets tests: a per-test temporary directory and writers for raw and
/// gzip-compressed byte files (IDX files are assembled by hand, independently of the reader).
namespace shrink::test {

/// A fresh directory under the system temp dir, removed when the object dies.
class TempDir {
 public:
  TempDir() {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    std::string name = sanitize(info ? std::string(info->test_suite_name()) + "." + info->name() : "shrink");
    path_ = std::filesystem::temp_directory_path() / ("shrink-" + name + "-" + std::to_string(::getpid()));
    std::filesystem::remove_all(path_);
    std::filesystem::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }
  std::filesystem::path operator/(const std::string& name) const { return path_ / name; }

 private:
  static std::string sanitize(std::string s) {
    for (char& c : s)
      if (c == '/' || c == ' ') c = '_';
    return s;
  }
  std::filesystem::path path_;
};

/// Writes `bytes` to `path`, gzip-compressed when `gzip` is true.
inline void writeBytes(const std::filesystem::path& path, const std::vector<uint8_t>& bytes, bool gzip) {
  if (gzip) {
    gzFile f = gzopen(path.c_str(), "wb");
    if (!f) throw std::runtime_error("test: cannot create " + path.string());
    const int n = bytes.empty() ? 0 : gzwrite(f, bytes.data(), static_cast<unsigned>(bytes.size()));
    gzclose(f);
    if (n != static_cast<int>(bytes.size())) throw std::runtime_error("test: gzwrite failed on " + path.string());
  } else {
    std::ofstream out(path, std::ios::binary);
    out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
    if (!out) throw std::runtime_error("test: cannot write " + path.string());
  }
}

/// Big-endian IDX header: magic (0x0000, type, rank) and the dimensions.
inline std::vector<uint8_t> idxHeader(uint32_t magic, const std::vector<uint32_t>& dims) {
  std::vector<uint8_t> out;
  auto put = [&](uint32_t v) {
    for (int s = 24; s >= 0; s -= 8) out.push_back(static_cast<uint8_t>(v >> s));
  };
  put(magic);
  for (uint32_t d : dims) put(d);
  return out;
}

/// A complete IDX file: header followed by `data`.
inline std::vector<uint8_t> idxFile(uint32_t magic, const std::vector<uint32_t>& dims,
                                    const std::vector<uint8_t>& data) {
  std::vector<uint8_t> out = idxHeader(magic, dims);
  out.insert(out.end(), data.begin(), data.end());
  return out;
}

/// Asserts that `text` contains `part`, printing both when it does not.
inline ::testing::AssertionResult contains(const std::string& text, const std::string& part) {
  if (text.find(part) != std::string::npos) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "\"" << text << "\"\n  does not contain \"" << part << "\"";
}

/// The message of the std::runtime_error `f` throws; records a failure when it throws none.
template <class F>
std::string runtimeErrorOf(F&& f) {
  try {
    f();
  } catch (const std::runtime_error& e) {
    return e.what();
  }
  ADD_FAILURE() << "expected a std::runtime_error";
  return {};
}

}  // namespace shrink::test
