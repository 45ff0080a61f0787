#include "datasets/Idx.h"

#include <algorithm>
#include <array>
#include <cerrno>
#include <climits>
#include <cstring>
#include <optional>
#include <stdexcept>
#include <string>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <zlib.h>

namespace shrink::data {
namespace {

constexpr uint8_t kUbyteType = 0x08;
constexpr int kMaxDims = 4;
/// Largest element count accepted from a header (16 GiB); guards against absurd sizes.
constexpr int64_t kMaxElements = int64_t{1} << 34;
constexpr size_t kChunk = size_t{1} << 20;

[[noreturn]] void fail(const std::filesystem::path& path, const std::string& problem) {
  throw std::runtime_error(fmt::format("{}: {}", path.string(), problem));
}

/// A gzFile that closes itself. gzread reads uncompressed files unchanged, so one path serves both.
class GzReader {
 public:
  explicit GzReader(const std::filesystem::path& path) : path_(path) {
    std::error_code ec;
    if (!std::filesystem::exists(path, ec)) fail(path, "no such file");
    if (std::filesystem::is_directory(path, ec)) fail(path, "is a directory, not an IDX file");
    errno = 0;
    file_ = gzopen(path.c_str(), "rb");
    if (!file_) fail(path, fmt::format("cannot open ({})", errno ? std::strerror(errno) : "out of memory"));
  }
  ~GzReader() {
    if (file_) gzclose(file_);
  }
  GzReader(const GzReader&) = delete;
  GzReader& operator=(const GzReader&) = delete;

  /// Reads up to `n` bytes into `dst`; returns how many were read (fewer only at end of data).
  size_t read(uint8_t* dst, size_t n) {
    size_t total = 0;
    while (total < n) {
      const unsigned want = static_cast<unsigned>(std::min<size_t>(n - total, kChunk));
      const int got = gzread(file_, dst + total, want);
      if (got < 0) {
        int code = 0;
        const char* msg = gzerror(file_, &code);
        fail(path_, fmt::format("read error ({})", code == Z_ERRNO ? std::strerror(errno) : withoutPath(msg)));
      }
      if (got == 0) break;
      total += static_cast<size_t>(got);
    }
    return total;
  }

  /// A truncated gzip stream reads as a short file; report the stream error if there is one.
  std::string streamProblem() {
    int code = Z_OK;
    const char* msg = gzerror(file_, &code);
    return code == Z_OK ? std::string() : fmt::format(" (gzip: {})", withoutPath(msg));
  }

 private:
  /// zlib prefixes its messages with "path: "; the caller's message names the path already.
  std::string withoutPath(const char* msg) const {
    std::string m = msg ? msg : "";
    const std::string prefix = path_.string() + ": ";
    if (m.rfind(prefix, 0) == 0) m.erase(0, prefix.size());
    return m;
  }

  std::filesystem::path path_;
  gzFile file_ = nullptr;
};

uint32_t bigEndian(const uint8_t* p) {
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | uint32_t{p[3]};
}

IdxArray readIdxImpl(const std::filesystem::path& path, std::optional<uint32_t> expectedMagic,
                     const char* kind) {
  GzReader in(path);
  std::array<uint8_t, 4> head{};
  const size_t got = in.read(head.data(), head.size());
  if (got < head.size())
    fail(path, fmt::format("file too short for an IDX header: {} bytes{}", got, in.streamProblem()));
  const uint32_t magic = bigEndian(head.data());
  if (expectedMagic && magic != *expectedMagic) {
    std::string detail;
    if (magic == kIdxImagesMagic)
      detail = ": this is an images file";
    else if (magic == kIdxLabelsMagic)
      detail = ": this is a labels file";
    else if ((magic & 0xFFFFFF00u) == (*expectedMagic & 0xFFFFFF00u))
      detail = fmt::format(": {} dimensions instead of {}", head[3], *expectedMagic & 0xFFu);
    else if ((magic >> 16) != 0)
      detail = ": not an IDX file";
    fail(path, fmt::format("wrong magic 0x{:08X}, expected 0x{:08X} ({}){}", magic, *expectedMagic,
                           kind, detail));
  }
  if (head[0] != 0 || head[1] != 0)
    fail(path, fmt::format("bad magic 0x{:08X}: not an IDX file (first two bytes must be zero)", magic));
  if (head[2] != kUbyteType)
    fail(path, fmt::format("unsupported IDX data type 0x{:02X} (only 0x08, unsigned byte)", head[2]));
  const int rank = head[3];
  if (rank < 1 || rank > kMaxDims)
    fail(path, fmt::format("bad dimension count {} (expected 1 to {})", rank, kMaxDims));

  std::array<uint8_t, 4 * kMaxDims> dimBytes{};
  const size_t dimLen = 4 * static_cast<size_t>(rank);
  if (in.read(dimBytes.data(), dimLen) < dimLen)
    fail(path, fmt::format("file ends inside the header ({} dimensions expected){}", rank,
                           in.streamProblem()));
  IdxArray out;
  int64_t numel = 1;
  for (int d = 0; d < rank; ++d) {
    const int64_t dim = bigEndian(dimBytes.data() + 4 * d);
    out.dims.push_back(dim);
    if (dim != 0 && numel > kMaxElements / dim)
      fail(path, fmt::format("dimensions [{}...] are implausibly large", fmt::join(out.dims, ", ")));
    numel *= dim;
  }

  // Grow the buffer as data arrive, so a corrupt header cannot force a huge allocation.
  const size_t expected = static_cast<size_t>(numel);
  size_t have = 0;
  while (have < expected) {
    const size_t step = std::min(expected - have, std::max(kChunk, have));
    out.bytes.resize(have + step);
    const size_t n = in.read(out.bytes.data() + have, step);
    have += n;
    if (n < step) break;
  }
  if (have < expected)
    fail(path, fmt::format("short data: dimensions [{}] need {} bytes, file has {}{}",
                           fmt::join(out.dims, ", "), expected, have, in.streamProblem()));
  uint8_t extra[256];
  const size_t trailing = in.read(extra, sizeof extra);
  if (trailing > 0)
    fail(path, fmt::format("{}{} trailing bytes after the {} data bytes of dimensions [{}]",
                           trailing == sizeof extra ? "at least " : "", trailing, expected,
                           fmt::join(out.dims, ", ")));
  return out;
}

}  // namespace

IdxArray readIdx(const std::filesystem::path& path) { return readIdxImpl(path, std::nullopt, "any"); }

IdxArray readIdxImages(const std::filesystem::path& path) {
  return readIdxImpl(path, kIdxImagesMagic, "images");
}

IdxArray readIdxLabels(const std::filesystem::path& path) {
  return readIdxImpl(path, kIdxLabelsMagic, "labels");
}

}  // namespace shrink::data
