#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/Tensor.h"

namespace shrink {

/// Element types an archive stores; int8 tensors take one byte per element on disk.
enum class DType : uint8_t { Float32 = 0, Int8 = 1, Int32 = 2, UInt8 = 3 };
const char* dtypeName(DType t);
size_t dtypeSize(DType t);

/// One named array in an archive: shape, element type and raw little-endian bytes.
struct ArchiveEntry {
  std::string name;
  DType dtype = DType::Float32;
  Shape shape;
  std::vector<uint8_t> bytes;
};

/// A versioned container of JSON metadata and named arrays: what every shrink file holds (model
/// architecture, weights, buffers, optimizer state, compression state).
///
/// On disk: a 40-byte header (magic "\x89SHRINK\n", format version, flags, uncompressed size,
/// compressed size, CRC-32 of the compressed payload, CRC-32 of the payload), then the zlib
/// payload: the JSON metadata (with the index of entries) followed by the entries' bytes.
/// `save` is atomic: it writes a temporary file beside the target and renames it over the target.
/// `load` rejects truncated, corrupted, foreign and newer-version files with a std::runtime_error
/// that names the file and the problem.
class Archive {
 public:
  static constexpr uint32_t kFormatVersion = 1;

  nlohmann::json& meta() { return meta_; }
  const nlohmann::json& meta() const { return meta_; }

  void put(const std::string& name, const Tensor& t);
  void putBytes(const std::string& name, DType dtype, const Shape& shape, std::vector<uint8_t> bytes);
  bool contains(const std::string& name) const;
  /// A float32 entry as a Tensor; throws naming the entry when missing or not float32.
  Tensor tensor(const std::string& name) const;
  const ArchiveEntry& entry(const std::string& name) const;
  const std::vector<ArchiveEntry>& entries() const { return entries_; }

  /// Serialised bytes (header + compressed payload), and the reverse. `what` names the source in errors.
  std::vector<uint8_t> toBytes(int compressionLevel = 6) const;
  static Archive fromBytes(const std::vector<uint8_t>& bytes, const std::string& what);

  void save(const std::string& path, int compressionLevel = 6) const;
  static Archive load(const std::string& path);

 private:
  nlohmann::json meta_ = nlohmann::json::object();
  std::vector<ArchiveEntry> entries_;
};

/// Writes `bytes` to `path` atomically (temporary file in the same directory, fsync, rename).
void writeFileAtomic(const std::string& path, const std::vector<uint8_t>& bytes);
/// Reads a whole file; throws std::runtime_error naming the path.
std::vector<uint8_t> readFile(const std::string& path);

}  // namespace shrink
