#include "core/Archive.h"

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>

#include <fcntl.h>
#include <unistd.h>
#include <zlib.h>

#include "core/Check.h"

namespace shrink {

namespace {

constexpr uint8_t kMagic[8] = {0x89, 'S', 'H', 'R', 'I', 'N', 'K', '\n'};
constexpr size_t kHeaderSize = 40;

void putU32(std::vector<uint8_t>& out, size_t at, uint32_t v) {
  for (int i = 0; i < 4; ++i) out[at + i] = static_cast<uint8_t>(v >> (8 * i));
}
void putU64(std::vector<uint8_t>& out, size_t at, uint64_t v) {
  for (int i = 0; i < 8; ++i) out[at + i] = static_cast<uint8_t>(v >> (8 * i));
}
uint32_t getU32(const uint8_t* p) {
  uint32_t v = 0;
  for (int i = 0; i < 4; ++i) v |= uint32_t(p[i]) << (8 * i);
  return v;
}
uint64_t getU64(const uint8_t* p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v |= uint64_t(p[i]) << (8 * i);
  return v;
}
uint32_t crc(const uint8_t* data, size_t n) {
  return static_cast<uint32_t>(crc32(crc32(0L, Z_NULL, 0), data, static_cast<uInt>(n)));
}

[[noreturn]] void fail(const std::string& what, const std::string& problem) {
  throw std::runtime_error(fmt::format("{}: {}", what, problem));
}

}  // namespace

const char* dtypeName(DType t) {
  switch (t) {
    case DType::Float32: return "float32";
    case DType::Int8: return "int8";
    case DType::Int32: return "int32";
    case DType::UInt8: return "uint8";
  }
  return "unknown";
}

size_t dtypeSize(DType t) {
  switch (t) {
    case DType::Float32: return 4;
    case DType::Int8: return 1;
    case DType::Int32: return 4;
    case DType::UInt8: return 1;
  }
  return 0;
}

void Archive::put(const std::string& name, const Tensor& t) {
  std::vector<uint8_t> bytes(static_cast<size_t>(t.numel()) * 4);
  if (!bytes.empty()) std::memcpy(bytes.data(), t.data(), bytes.size());
  putBytes(name, DType::Float32, t.shape(), std::move(bytes));
}

void Archive::putBytes(const std::string& name, DType dtype, const Shape& shape, std::vector<uint8_t> bytes) {
  SHRINK_CHECK(!contains(name), "Archive::put: entry '{}' already present", name);
  SHRINK_CHECK(bytes.size() == static_cast<size_t>(shape.numel()) * dtypeSize(dtype),
               "Archive::put: entry '{}' of shape {} and type {} needs {} bytes, got {}", name, shape.str(),
               dtypeName(dtype), static_cast<size_t>(shape.numel()) * dtypeSize(dtype), bytes.size());
  entries_.push_back({name, dtype, shape, std::move(bytes)});
}

bool Archive::contains(const std::string& name) const {
  for (const auto& e : entries_)
    if (e.name == name) return true;
  return false;
}

const ArchiveEntry& Archive::entry(const std::string& name) const {
  for (const auto& e : entries_)
    if (e.name == name) return e;
  throw std::runtime_error(fmt::format("Archive: no entry named '{}'", name));
}

Tensor Archive::tensor(const std::string& name) const {
  const ArchiveEntry& e = entry(name);
  if (e.dtype != DType::Float32)
    throw std::runtime_error(fmt::format("Archive: entry '{}' is {}, not float32", name, dtypeName(e.dtype)));
  Tensor t(e.shape);
  if (t.numel() > 0) std::memcpy(t.data(), e.bytes.data(), e.bytes.size());
  return t;
}

std::vector<uint8_t> Archive::toBytes(int compressionLevel) const {
  nlohmann::json index = nlohmann::json::array();
  size_t offset = 0;
  for (const auto& e : entries_) {
    index.push_back({{"name", e.name}, {"dtype", dtypeName(e.dtype)}, {"shape", e.shape.dims()},
                     {"offset", offset}, {"bytes", e.bytes.size()}});
    offset += e.bytes.size();
  }
  const std::string metaText = nlohmann::json{{"meta", meta_}, {"entries", index}}.dump();
  std::vector<uint8_t> payload(8 + metaText.size() + offset);
  putU64(payload, 0, metaText.size());
  std::memcpy(payload.data() + 8, metaText.data(), metaText.size());
  size_t at = 8 + metaText.size();
  for (const auto& e : entries_) {
    if (!e.bytes.empty()) std::memcpy(payload.data() + at, e.bytes.data(), e.bytes.size());
    at += e.bytes.size();
  }

  uLongf compressedSize = compressBound(static_cast<uLong>(payload.size()));
  std::vector<uint8_t> out(kHeaderSize + compressedSize);
  const int rc = compress2(out.data() + kHeaderSize, &compressedSize, payload.data(),
                           static_cast<uLong>(payload.size()), compressionLevel);
  SHRINK_ASSERT(rc == Z_OK, "Archive: zlib compress2 failed with code {}", rc);
  out.resize(kHeaderSize + compressedSize);
  std::memcpy(out.data(), kMagic, 8);
  putU32(out, 8, kFormatVersion);
  putU32(out, 12, 0);
  putU64(out, 16, payload.size());
  putU64(out, 24, compressedSize);
  putU32(out, 32, crc(out.data() + kHeaderSize, compressedSize));
  putU32(out, 36, crc(payload.data(), payload.size()));
  return out;
}

Archive Archive::fromBytes(const std::vector<uint8_t>& bytes, const std::string& what) {
  if (bytes.size() < 8 || std::memcmp(bytes.data(), kMagic, 8) != 0)
    fail(what, "not a shrink file (wrong magic bytes)");
  if (bytes.size() < kHeaderSize) fail(what, fmt::format("truncated: {} bytes, shorter than the header", bytes.size()));
  const uint32_t version = getU32(bytes.data() + 8);
  if (version > kFormatVersion)
    fail(what, fmt::format("written in format version {}, newer than this build reads (up to {})", version,
                           kFormatVersion));
  if (version == 0) fail(what, "invalid format version 0");
  const uint64_t payloadSize = getU64(bytes.data() + 16);
  const uint64_t compressedSize = getU64(bytes.data() + 24);
  if (bytes.size() - kHeaderSize < compressedSize)
    fail(what, fmt::format("truncated: {} bytes of compressed data, the header announces {}",
                           bytes.size() - kHeaderSize, compressedSize));
  if (bytes.size() - kHeaderSize > compressedSize)
    fail(what, fmt::format("{} unexpected bytes after the data", bytes.size() - kHeaderSize - compressedSize));
  if (crc(bytes.data() + kHeaderSize, compressedSize) != getU32(bytes.data() + 32))
    fail(what, "corrupted: checksum mismatch");
  if (payloadSize > (uint64_t(1) << 36)) fail(what, "corrupted: implausible payload size");

  std::vector<uint8_t> payload(payloadSize);
  uLongf outSize = static_cast<uLongf>(payloadSize);
  const int rc = uncompress(payload.data(), &outSize, bytes.data() + kHeaderSize, static_cast<uLong>(compressedSize));
  if (rc != Z_OK || outSize != payloadSize) fail(what, fmt::format("corrupted: zlib error {}", rc));
  if (crc(payload.data(), payload.size()) != getU32(bytes.data() + 36)) fail(what, "corrupted: payload checksum mismatch");

  Archive a;
  try {
    if (payload.size() < 8) fail(what, "corrupted: payload too short");
    const uint64_t metaSize = getU64(payload.data());
    if (metaSize > payload.size() - 8) fail(what, "corrupted: metadata size out of range");
    const auto doc = nlohmann::json::parse(payload.begin() + 8, payload.begin() + 8 + static_cast<long>(metaSize));
    a.meta_ = doc.at("meta");
    const size_t base = 8 + metaSize;
    for (const auto& e : doc.at("entries")) {
      const std::string type = e.at("dtype").get<std::string>();
      DType dt;
      if (type == "float32") dt = DType::Float32;
      else if (type == "int8") dt = DType::Int8;
      else if (type == "int32") dt = DType::Int32;
      else if (type == "uint8") dt = DType::UInt8;
      else fail(what, fmt::format("unknown element type '{}'", type));
      const size_t off = e.at("offset").get<size_t>(), n = e.at("bytes").get<size_t>();
      if (base + off + n > payload.size() || off + n < off)
        fail(what, fmt::format("corrupted: entry '{}' lies outside the data", e.at("name").get<std::string>()));
      std::vector<uint8_t> data(payload.begin() + static_cast<long>(base + off),
                                payload.begin() + static_cast<long>(base + off + n));
      a.putBytes(e.at("name").get<std::string>(), dt, Shape(e.at("shape").get<std::vector<int64_t>>()),
                 std::move(data));
    }
  } catch (const nlohmann::json::exception& e) {
    fail(what, fmt::format("corrupted metadata: {}", e.what()));
  } catch (const std::invalid_argument& e) {
    fail(what, fmt::format("corrupted: {}", e.what()));
  }
  return a;
}

void Archive::save(const std::string& path, int compressionLevel) const {
  writeFileAtomic(path, toBytes(compressionLevel));
}

Archive Archive::load(const std::string& path) { return fromBytes(readFile(path), path); }

void writeFileAtomic(const std::string& path, const std::vector<uint8_t>& bytes) {
  namespace fs = std::filesystem;
  const fs::path target(path);
  const fs::path tmp = target.parent_path() / (target.filename().string() + fmt::format(".tmp{}", ::getpid()));
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd < 0) throw std::runtime_error(fmt::format("{}: cannot write ({})", path, std::strerror(errno)));
  size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0) {
      const int err = errno;
      ::close(fd);
      ::unlink(tmp.c_str());
      throw std::runtime_error(fmt::format("{}: write failed ({})", path, std::strerror(err)));
    }
    done += static_cast<size_t>(n);
  }
  ::fsync(fd);
  ::close(fd);
  if (::rename(tmp.c_str(), target.c_str()) != 0) {
    const int err = errno;
    ::unlink(tmp.c_str());
    throw std::runtime_error(fmt::format("{}: cannot replace the file ({})", path, std::strerror(err)));
  }
}

std::vector<uint8_t> readFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error(fmt::format("{}: cannot open ({})", path, std::strerror(errno)));
  return std::vector<uint8_t>(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

}  // namespace shrink
