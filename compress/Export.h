#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/Module.h"
#include "core/Shape.h"

namespace shrink {

/// Options of the Deep Compression file (Han, Mao & Dally 2016, "Deep Compression", §2-§4).
struct ExportOptions {
  /// Bits of a relative index (the gap between consecutive stored positions of a sparse tensor),
  /// in [1, 16]. 0: the rule of the paper's §2, 8 bits for convolution kernels (rank-4 tensors) and 5
  /// bits for everything else (Dense kernels, biases). The paper's Tables 2/3 (LeNet) use 5 bits for
  /// every layer and Table 4 (AlexNet) 4; pass the number to reproduce them.
  int indexBits = 0;
  /// Bits of a codebook index, in [1, 8]: a tensor with at most 2^valueBits distinct values is stored
  /// as a float codebook plus indices, any other as raw float32. 0: per tensor, the smallest width
  /// that holds its distinct values, up to 8.
  int valueBits = 0;
};

/// How one tensor is stored.
enum class TensorEncoding : uint8_t {
  Raw = 0,             ///< every element as float32
  Codebook = 1,        ///< codebook + one index per element, Huffman-coded
  SparseRaw = 2,       ///< relative indices (Huffman) + float32 values of the stored positions
  SparseCodebook = 3,  ///< relative indices (Huffman) + codebook indices of the stored positions (Huffman)
};
/// "raw" | "codebook" | "sparse_raw" | "sparse_codebook".
std::string tensorEncodingName(TensorEncoding e);

/// The positions of a sparse tensor as Deep Compression's relative indices: each entry is the gap
/// to the previous stored position (the first one counts from -1), stored as gap - 1 in `indexBits`
/// bits, so a gap is at most 2^indexBits. A longer gap is bridged by filler entries of the largest
/// gap, whose values are zero (the paper's Fig. 2).
struct RelativeIndices {
  std::vector<uint32_t> gaps;        ///< gap - 1 per entry, each < 2^indexBits
  std::vector<int64_t> positions;    ///< absolute position of each entry (fillers included)
  std::vector<bool> filler;          ///< true for a filler entry (value 0)
};
/// Relative indices of the ascending, distinct `positions` of non-zeros.
RelativeIndices encodeRelativeIndices(const std::vector<int64_t>& positions, int indexBits);
/// Absolute positions of every entry (fillers included) of a gap stream.
std::vector<int64_t> decodeRelativeIndices(const std::vector<uint32_t>& gaps);

/// The storage of one tensor in the file.
struct TensorExportReport {
  std::string name;   ///< "param/<dotted name>" or "buffer/<dotted name>"
  Shape shape;
  int64_t elements = 0;
  int64_t nonZero = 0;
  TensorEncoding encoding = TensorEncoding::Raw;
  int indexBits = 0;       ///< relative-index width (sparse encodings), else 0
  int valueBits = 32;      ///< codebook index width, or 32 for raw floats
  int64_t entries = 0;     ///< stored entries: elements, or non-zeros + fillers for sparse encodings
  int64_t fillers = 0;
  int64_t codebookSize = 0;
  int64_t denseBytes = 0;   ///< 4 * elements (float32)
  int64_t indexBytes = 0;   ///< Huffman-coded relative indices with their code lengths
  int64_t valueBytes = 0;   ///< codebook + coded indices with their code lengths, or raw floats
  int64_t bytes = 0;        ///< everything this tensor takes in the payload
  double indexBitsPerWeight = 0;  ///< 8 * indexBytes / nonZero (0 without non-zeros)
  double valueBitsPerWeight = 0;  ///< 8 * valueBytes / nonZero
  /// The sizes of the paper's stages for this tensor, in bytes: pruned (sparse, float32 values and
  /// fixed-width relative indices, or dense float32 when that is smaller), + clustered (codebook
  /// indices of valueBits instead of floats, plus the codebook), + Huffman (the stored streams).
  int64_t prunedBytes = 0;
  int64_t clusteredBytes = 0;
};

/// What exportShrinkz wrote.
struct ExportReport {
  std::vector<TensorExportReport> tensors;
  int64_t parameters = 0;        ///< elements of every parameter
  int64_t nonZeroParameters = 0;
  int64_t denseFloatBytes = 0;   ///< 4 * parameters: the dense float32 model
  int64_t floatGzipBytes = 0;    ///< gzip -9 of the raw float32 parameters (the pruned zeros compress)
  int64_t prunedBytes = 0;       ///< the sums of the stage sizes over every tensor
  int64_t clusteredBytes = 0;
  int64_t huffmanBytes = 0;      ///< the tensors' payload bytes
  int64_t fileBytes = 0;         ///< the whole .shrinkz file (header, architecture JSON, tensors)
  double compressionRatio = 0;   ///< denseFloatBytes / fileBytes
};

/// Writes `model` as a Deep Compression file: for each parameter and buffer the smallest of its
/// encodings (raw, codebook, sparse raw, sparse codebook; TensorEncoding), with Huffman-coded
/// streams, after a header with the magic "\x89SHRINKZ", the format version, the payload size and
/// the CRC-32 of the payload; the payload starts with the model's architecture JSON (architectureOf,
/// zlib-compressed)
/// and the tensor names and shapes. Values are stored exactly (codebooks hold the tensor's own
/// float values), so the imported model predicts bit for bit as `model`.
///
/// `model` must be plain: a parameter with transforms attached (a compression wrapper) is a
/// std::invalid_argument saying to strip first. Bad options are std::invalid_argument; I/O errors
/// std::runtime_error naming the path. The file is written atomically.
ExportReport exportShrinkz(const Module& model, const std::string& path, const ExportOptions& options = {});

/// Rebuilds the model of a .shrinkz file. Truncated, corrupted (checksum), foreign and newer-version
/// files are std::runtime_error naming the file and the problem.
std::unique_ptr<Module> importShrinkz(const std::string& path);

/// True when the file at `path` starts with the .shrinkz magic (false when it cannot be read).
bool isShrinkzFile(const std::string& path);

/// A readable table: one row per tensor, then the stage sizes and the ratio.
std::string formatExportReport(const ExportReport& report);
/// {"tensors": [...], "total": {...}} with snake_case keys.
nlohmann::json toJson(const ExportReport& report);

}  // namespace shrink
