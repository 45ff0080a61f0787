#pragma once

#include <cstdint>
#include <filesystem>
#include <vector>

namespace shrink::data {

/// The contents of an unsigned-byte IDX file: its dimensions and its bytes in row-major order.
struct IdxArray {
  std::vector<int64_t> dims;
  std::vector<uint8_t> bytes;
  int64_t numel() const { return static_cast<int64_t>(bytes.size()); }
};

/// Magic numbers of the two IDX files MNIST uses: ubyte type 0x08 and 3 or 1 dimensions.
inline constexpr uint32_t kIdxImagesMagic = 0x00000803;  // 2051
inline constexpr uint32_t kIdxLabelsMagic = 0x00000801;  // 2049

/// Reads an IDX file of unsigned bytes (type code 0x08, 1 to 4 dimensions), raw or gzip-compressed
/// (detected from the content, not the name). The data must have exactly the length the
/// dimensions give: short data and trailing bytes are errors. Throws std::runtime_error naming the
/// path and the problem.
IdxArray readIdx(const std::filesystem::path& path);
/// Reads an IDX images file: magic 2051, dimensions [N, rows, cols].
IdxArray readIdxImages(const std::filesystem::path& path);
/// Reads an IDX labels file: magic 2049, dimensions [N].
IdxArray readIdxLabels(const std::filesystem::path& path);

}  // namespace shrink::data
