#include "compress/Export.h"

#include <algorithm>
#include <bit>
#include <cstring>
#include <fstream>
#include <map>
#include <stdexcept>

#include <fmt/format.h>
#include <zlib.h>

#include "compress/Huffman.h"
#include "compress/PruneLowMagnitude.h"
#include "compress/Report.h"
#include "core/Archive.h"
#include "core/Check.h"
#include "layers/Registry.h"

namespace shrink {

namespace {

// File layout: header (kHeaderBytes) = magic, version u32, flags u32, payload size u64, CRC-32 of
// the payload u32; all integers little-endian. Payload = u32 JSON length, u32 zlib length, the zlib
// stream of the architecture/tensor JSON, then one block per tensor in the JSON's order (see encode).
constexpr char kMagic[8] = {'\x89', 'S', 'H', 'R', 'I', 'N', 'K', 'Z'};
constexpr uint32_t kVersion = 1;
constexpr size_t kHeaderBytes = 8 + 4 + 4 + 8 + 4;
constexpr int kMaxValueBits = 8;

class ByteWriter {
 public:
  void u8(uint8_t v) { bytes_.push_back(v); }
  void u16(uint16_t v) { little(v, 2); }
  void u32(uint32_t v) { little(v, 4); }
  void u64(uint64_t v) { little(v, 8); }
  void f32(float v) { u32(std::bit_cast<uint32_t>(v)); }
  void append(const std::vector<uint8_t>& b) { bytes_.insert(bytes_.end(), b.begin(), b.end()); }
  std::vector<uint8_t>& bytes() { return bytes_; }
  size_t size() const { return bytes_.size(); }

 private:
  void little(uint64_t v, int n) {
    for (int i = 0; i < n; ++i) bytes_.push_back(static_cast<uint8_t>(v >> (8 * i)));
  }
  std::vector<uint8_t> bytes_;
};

/// Reads the payload; running past its end means the file lies about its contents.
class ByteReader {
 public:
  ByteReader(std::span<const uint8_t> bytes, const std::string& path) : bytes_(bytes), path_(path) {}
  uint8_t u8() { return static_cast<uint8_t>(little(1)); }
  uint16_t u16() { return static_cast<uint16_t>(little(2)); }
  uint32_t u32() { return static_cast<uint32_t>(little(4)); }
  uint64_t u64() { return little(8); }
  float f32() { return std::bit_cast<float>(u32()); }
  std::span<const uint8_t> take(uint64_t n) {
    need(n);
    auto out = bytes_.subspan(pos_, n);
    pos_ += n;
    return out;
  }
  bool atEnd() const { return pos_ == bytes_.size(); }
  [[noreturn]] void fail(const std::string& problem) const {
    throw std::runtime_error(fmt::format("{}: malformed .shrinkz payload: {}", path_, problem));
  }

 private:
  void need(uint64_t n) const {
    if (n > bytes_.size() - pos_) fail(fmt::format("needs {} more bytes at offset {} of {}", n, pos_, bytes_.size()));
  }
  uint64_t little(int n) {
    need(static_cast<uint64_t>(n));
    uint64_t v = 0;
    for (int i = 0; i < n; ++i) v |= static_cast<uint64_t>(bytes_[pos_ + i]) << (8 * i);
    pos_ += static_cast<size_t>(n);
    return v;
  }
  std::span<const uint8_t> bytes_;
  std::string path_;
  size_t pos_ = 0;
};

uint32_t crc32Of(std::span<const uint8_t> bytes) {
  return static_cast<uint32_t>(crc32(crc32(0L, Z_NULL, 0), bytes.data(), static_cast<uInt>(bytes.size())));
}

bool isZero(float v) { return std::bit_cast<uint32_t>(v) == 0; }

int bitsFor(size_t distinct) {
  int b = 1;
  while ((size_t{1} << b) < distinct) ++b;
  return b;
}

/// Huffman stream: u32 alphabet, one code length per symbol, u32 byte count, the coded bits.
void writeHuffman(ByteWriter& w, std::span<const uint32_t> symbols) {
  const HuffmanCode code = buildHuffmanCode(symbols);
  w.u32(static_cast<uint32_t>(code.lengths.size()));
  for (uint8_t l : code.lengths) w.u8(l);
  const std::vector<uint8_t> bits = huffmanEncode(code, symbols);
  w.u32(static_cast<uint32_t>(bits.size()));
  w.append(bits);
}

std::vector<uint32_t> readHuffman(ByteReader& r, size_t count) {
  HuffmanCode code;
  const uint32_t alphabet = r.u32();
  const auto lengths = r.take(alphabet);
  code.lengths.assign(lengths.begin(), lengths.end());
  const uint32_t n = r.u32();
  const auto bits = r.take(n);
  try {
    return huffmanDecode(code, bits, count);
  } catch (const std::runtime_error& e) {
    r.fail(e.what());
  }
}

/// The distinct values of `values` (by bit pattern, so -0.0 and 0.0 differ), in bit-pattern order.
std::vector<float> distinctValues(const std::vector<float>& values) {
  std::vector<uint32_t> bits;
  bits.reserve(values.size());
  for (float v : values) bits.push_back(std::bit_cast<uint32_t>(v));
  std::sort(bits.begin(), bits.end());
  bits.erase(std::unique(bits.begin(), bits.end()), bits.end());
  std::vector<float> out;
  for (uint32_t b : bits) out.push_back(std::bit_cast<float>(b));
  return out;
}

std::vector<uint32_t> codebookIndices(const std::vector<float>& codebook, const std::vector<float>& values) {
  std::map<uint32_t, uint32_t> index;
  for (size_t i = 0; i < codebook.size(); ++i) index[std::bit_cast<uint32_t>(codebook[i])] = static_cast<uint32_t>(i);
  std::vector<uint32_t> out;
  out.reserve(values.size());
  for (float v : values) out.push_back(index.at(std::bit_cast<uint32_t>(v)));
  return out;
}

/// One candidate encoding of a tensor: its block bytes and its report row.
struct Encoded {
  std::vector<uint8_t> block;
  TensorExportReport row;
};

/// Block: u8 encoding, u8 index bits, u8 value bits, u64 entries, then
///   Raw: entries float32;  Codebook: u16 k, k float32, Huffman(indices);
///   SparseRaw: Huffman(gaps), entries float32;  SparseCodebook: Huffman(gaps), u16 k, k float32, Huffman(indices).
Encoded encode(TensorEncoding encoding, const std::vector<float>& values, int indexBits, int valueBits,
               const RelativeIndices* rel, const std::vector<float>* codebook) {
  Encoded e;
  const bool sparse = encoding == TensorEncoding::SparseRaw || encoding == TensorEncoding::SparseCodebook;
  std::vector<float> stored;
  if (sparse) {
    stored.reserve(rel->positions.size());
    for (int64_t p : rel->positions) stored.push_back(values[static_cast<size_t>(p)]);
  } else {
    stored = values;
  }
  ByteWriter w;
  w.u8(static_cast<uint8_t>(encoding));
  w.u8(static_cast<uint8_t>(sparse ? indexBits : 0));
  w.u8(static_cast<uint8_t>(codebook ? valueBits : 32));
  w.u64(stored.size());
  const size_t head = w.size();
  if (sparse) writeHuffman(w, rel->gaps);
  const size_t afterIndex = w.size();
  if (codebook) {
    w.u16(static_cast<uint16_t>(codebook->size()));
    for (float c : *codebook) w.f32(c);
    writeHuffman(w, codebookIndices(*codebook, stored));
  } else {
    for (float v : stored) w.f32(v);
  }
  e.row.encoding = encoding;
  e.row.indexBits = sparse ? indexBits : 0;
  e.row.valueBits = codebook ? valueBits : 32;
  e.row.entries = static_cast<int64_t>(stored.size());
  e.row.fillers = sparse ? std::count(rel->filler.begin(), rel->filler.end(), true) : 0;
  e.row.codebookSize = codebook ? static_cast<int64_t>(codebook->size()) : 0;
  e.row.indexBytes = static_cast<int64_t>(afterIndex - head);
  e.row.valueBytes = static_cast<int64_t>(w.size() - afterIndex);
  e.row.bytes = static_cast<int64_t>(w.size());
  e.block = std::move(w.bytes());
  return e;
}

int64_t ceilBytes(int64_t bits) { return (bits + 7) / 8; }

/// The smallest encoding of `values`, with the paper's stage sizes filled in.
Encoded encodeTensor(const std::vector<float>& values, int rank, const ExportOptions& options) {
  const int indexBits = options.indexBits > 0 ? options.indexBits : (rank == 4 ? 8 : 5);
  const int64_t n = static_cast<int64_t>(values.size());
  std::vector<int64_t> nonZeroPositions;
  std::vector<float> nonZeroValues;
  for (int64_t i = 0; i < n; ++i)
    if (!isZero(values[static_cast<size_t>(i)])) {
      nonZeroPositions.push_back(i);
      nonZeroValues.push_back(values[static_cast<size_t>(i)]);
    }
  const RelativeIndices rel = encodeRelativeIndices(nonZeroPositions, indexBits);
  const bool hasFillers = std::find(rel.filler.begin(), rel.filler.end(), true) != rel.filler.end();

  auto fitsBits = [&](size_t distinct) {
    const int b = options.valueBits > 0 ? options.valueBits : bitsFor(distinct);
    return std::pair{b <= kMaxValueBits && distinct <= (size_t{1} << b), b};
  };
  const std::vector<float> denseBook = distinctValues(values);
  std::vector<float> sparseBook = distinctValues(nonZeroValues);
  if (hasFillers && std::find_if(sparseBook.begin(), sparseBook.end(), isZero) == sparseBook.end()) {
    sparseBook.push_back(0.0f);
    sparseBook = distinctValues(sparseBook);
  }

  std::vector<Encoded> candidates;
  candidates.push_back(encode(TensorEncoding::Raw, values, indexBits, 32, nullptr, nullptr));
  candidates.push_back(encode(TensorEncoding::SparseRaw, values, indexBits, 32, &rel, nullptr));
  const auto [denseFits, denseBits] = fitsBits(denseBook.size());
  if (denseFits && n > 0) candidates.push_back(encode(TensorEncoding::Codebook, values, indexBits, denseBits, nullptr, &denseBook));
  const auto [sparseFits, sparseBits] = fitsBits(sparseBook.size());
  if (sparseFits && !sparseBook.empty())
    candidates.push_back(encode(TensorEncoding::SparseCodebook, values, indexBits, sparseBits, &rel, &sparseBook));
  Encoded best = std::move(*std::min_element(candidates.begin(), candidates.end(),
                                             [](const Encoded& a, const Encoded& b) { return a.block.size() < b.block.size(); }));

  TensorExportReport& row = best.row;
  const int64_t entries = static_cast<int64_t>(rel.gaps.size());
  row.elements = n;
  row.nonZero = static_cast<int64_t>(nonZeroPositions.size());
  row.denseBytes = 4 * n;
  row.indexBitsPerWeight = row.nonZero > 0 ? 8.0 * static_cast<double>(row.indexBytes) / row.nonZero : 0;
  row.valueBitsPerWeight = row.nonZero > 0 ? 8.0 * static_cast<double>(row.valueBytes) / row.nonZero : 0;
  row.prunedBytes = std::min(4 * n, ceilBytes(entries * (32 + indexBits)));
  row.clusteredBytes = row.prunedBytes;
  if (denseFits) row.clusteredBytes = std::min(row.clusteredBytes, ceilBytes(n * denseBits) + 4 * static_cast<int64_t>(denseBook.size()));
  if (sparseFits)
    row.clusteredBytes = std::min(row.clusteredBytes, ceilBytes(entries * (indexBits + sparseBits)) +
                                                          4 * static_cast<int64_t>(sparseBook.size()));
  return best;
}

std::vector<float> decodeBlock(ByteReader& r, int64_t elements) {
  const uint8_t encodingByte = r.u8();
  if (encodingByte > static_cast<uint8_t>(TensorEncoding::SparseCodebook))
    r.fail(fmt::format("unknown tensor encoding {}", encodingByte));
  const auto encoding = static_cast<TensorEncoding>(encodingByte);
  r.u8();  // index bits: informative, the gaps are Huffman symbols
  r.u8();  // value bits: likewise
  const uint64_t entries = r.u64();
  const bool sparse = encoding == TensorEncoding::SparseRaw || encoding == TensorEncoding::SparseCodebook;
  if (!sparse && entries != static_cast<uint64_t>(elements))
    r.fail(fmt::format("a dense tensor of {} elements stores {} entries", elements, entries));
  if (entries > static_cast<uint64_t>(elements) * 2 + 1024) r.fail(fmt::format("implausible entry count {}", entries));
  std::vector<int64_t> positions;
  if (sparse) {
    positions = decodeRelativeIndices(readHuffman(r, entries));
    if (!positions.empty() && positions.back() >= elements)
      r.fail(fmt::format("a relative index points past the tensor's {} elements", elements));
  }
  std::vector<float> stored(entries);
  if (encoding == TensorEncoding::Codebook || encoding == TensorEncoding::SparseCodebook) {
    const uint16_t k = r.u16();
    std::vector<float> book(k);
    for (float& c : book) c = r.f32();
    const std::vector<uint32_t> idx = readHuffman(r, entries);
    for (size_t i = 0; i < entries; ++i) {
      if (idx[i] >= k) r.fail(fmt::format("codebook index {} outside a codebook of {}", idx[i], k));
      stored[i] = book[idx[i]];
    }
  } else {
    for (float& v : stored) v = r.f32();
  }
  if (!sparse) return stored;
  std::vector<float> values(static_cast<size_t>(elements), 0.0f);
  for (size_t i = 0; i < entries; ++i) values[static_cast<size_t>(positions[i])] = stored[i];
  return values;
}

}  // namespace

std::string tensorEncodingName(TensorEncoding e) {
  switch (e) {
    case TensorEncoding::Raw: return "raw";
    case TensorEncoding::Codebook: return "codebook";
    case TensorEncoding::SparseRaw: return "sparse_raw";
    case TensorEncoding::SparseCodebook: return "sparse_codebook";
  }
  return "unknown";
}

RelativeIndices encodeRelativeIndices(const std::vector<int64_t>& positions, int indexBits) {
  SHRINK_CHECK(indexBits >= 1 && indexBits <= 16, "encodeRelativeIndices: indexBits must be in [1, 16], got {}",
               indexBits);
  const int64_t maxGap = int64_t{1} << indexBits;
  RelativeIndices out;
  int64_t last = -1;
  for (int64_t p : positions) {
    SHRINK_CHECK(p > last, "encodeRelativeIndices: positions must ascend and be distinct (got {} after {})", p, last);
    while (p - last > maxGap) {
      last += maxGap;
      out.gaps.push_back(static_cast<uint32_t>(maxGap - 1));
      out.positions.push_back(last);
      out.filler.push_back(true);
    }
    out.gaps.push_back(static_cast<uint32_t>(p - last - 1));
    out.positions.push_back(p);
    out.filler.push_back(false);
    last = p;
  }
  return out;
}

std::vector<int64_t> decodeRelativeIndices(const std::vector<uint32_t>& gaps) {
  std::vector<int64_t> positions;
  positions.reserve(gaps.size());
  int64_t last = -1;
  for (uint32_t g : gaps) {
    last += static_cast<int64_t>(g) + 1;
    positions.push_back(last);
  }
  return positions;
}

ExportReport exportShrinkz(const Module& model, const std::string& path, const ExportOptions& options) {
  SHRINK_CHECK(options.indexBits >= 0 && options.indexBits <= 16, "exportShrinkz: indexBits must be in [0, 16], got {}",
               options.indexBits);
  SHRINK_CHECK(options.valueBits >= 0 && options.valueBits <= kMaxValueBits,
               "exportShrinkz: valueBits must be in [0, {}], got {}", kMaxValueBits, options.valueBits);
  std::vector<std::pair<std::string, const Tensor*>> tensors;
  for (auto& [name, p] : model.namedParameters()) {
    SHRINK_CHECK(p->transforms().empty(),
                 "exportShrinkz: parameter '{}' has compression transforms attached; strip the model first", name);
    tensors.emplace_back("param/" + name, &p->leaf().value());
  }
  for (auto& [name, b] : model.namedBuffers()) tensors.emplace_back("buffer/" + name, b);

  ExportReport report;
  nlohmann::json meta{{"architecture", architectureOf(model)}, {"tensors", nlohmann::json::array()}};
  ByteWriter blocks;
  std::vector<uint8_t> floatBytes;
  for (auto& [name, t] : tensors) {
    const std::vector<float> values(t->begin(), t->end());
    Encoded e = encodeTensor(values, static_cast<int>(t->rank()), options);
    e.row.name = name;
    e.row.shape = t->shape();
    meta["tensors"].push_back({{"name", name}, {"shape", t->shape().dims()}});
    blocks.append(e.block);
    if (name.rfind("param/", 0) == 0) {
      report.parameters += e.row.elements;
      report.nonZeroParameters += e.row.nonZero;
      const auto* raw = reinterpret_cast<const uint8_t*>(t->data());
      floatBytes.insert(floatBytes.end(), raw, raw + 4 * t->numel());
    }
    report.prunedBytes += e.row.prunedBytes;
    report.clusteredBytes += e.row.clusteredBytes;
    report.huffmanBytes += e.row.bytes;
    report.tensors.push_back(std::move(e.row));
  }
  ByteWriter payload;
  const std::string json = meta.dump();
  uLongf packedSize = compressBound(static_cast<uLong>(json.size()));
  std::vector<uint8_t> packed(packedSize);
  const int rc = compress2(packed.data(), &packedSize, reinterpret_cast<const Bytef*>(json.data()),
                           static_cast<uLong>(json.size()), 9);
  SHRINK_ASSERT(rc == Z_OK, "exportShrinkz: zlib compress2 failed with code {}", rc);
  packed.resize(packedSize);
  payload.u32(static_cast<uint32_t>(json.size()));
  payload.u32(static_cast<uint32_t>(packed.size()));
  payload.append(packed);
  payload.append(blocks.bytes());

  ByteWriter file;
  for (char c : kMagic) file.u8(static_cast<uint8_t>(c));
  file.u32(kVersion);
  file.u32(0);
  file.u64(payload.size());
  file.u32(crc32Of(payload.bytes()));
  file.append(payload.bytes());
  writeFileAtomic(path, file.bytes());

  report.denseFloatBytes = 4 * report.parameters;
  report.floatGzipBytes = static_cast<int64_t>(gzipBytes(floatBytes, 9).size());
  report.fileBytes = static_cast<int64_t>(file.size());
  report.compressionRatio = static_cast<double>(report.denseFloatBytes) / static_cast<double>(report.fileBytes);
  return report;
}

bool isShrinkzFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  char head[sizeof kMagic] = {};
  if (!in.read(head, sizeof head)) return false;
  return std::memcmp(head, kMagic, sizeof kMagic) == 0;
}

std::unique_ptr<Module> importShrinkz(const std::string& path) {
  const std::vector<uint8_t> bytes = readFile(path);
  auto fail = [&](const std::string& problem) -> std::runtime_error {
    return std::runtime_error(fmt::format("{}: {}", path, problem));
  };
  if (bytes.size() >= sizeof kMagic && std::memcmp(bytes.data(), kMagic, sizeof kMagic) != 0)
    throw fail("not a .shrinkz file (wrong magic)");
  if (bytes.size() < kHeaderBytes)
    throw fail(fmt::format("truncated: {} bytes, the header alone takes {}", bytes.size(), kHeaderBytes));
  ByteReader header(std::span<const uint8_t>(bytes).first(kHeaderBytes), path);
  header.take(sizeof kMagic);
  const uint32_t version = header.u32();
  if (version > kVersion)
    throw fail(fmt::format("format version {} is newer than this build reads ({})", version, kVersion));
  if (version == 0) throw fail("format version 0 is invalid");
  header.u32();  // flags, none defined
  const uint64_t payloadSize = header.u64();
  const uint32_t crc = header.u32();
  const uint64_t present = bytes.size() - kHeaderBytes;
  if (present < payloadSize)
    throw fail(fmt::format("truncated: the header announces {} payload bytes, the file holds {}", payloadSize, present));
  if (present > payloadSize)
    throw fail(fmt::format("{} unexpected bytes after the {}-byte payload", present - payloadSize, payloadSize));
  const auto payload = std::span<const uint8_t>(bytes).subspan(kHeaderBytes);
  if (crc32Of(payload) != crc) throw fail("checksum mismatch: the file is corrupted");

  ByteReader r(payload, path);
  const uint32_t jsonSize = r.u32();
  const uint32_t packedSize = r.u32();
  const auto packed = r.take(packedSize);
  std::string json(jsonSize, '\0');
  uLongf unpackedSize = jsonSize;
  if (uncompress(reinterpret_cast<Bytef*>(json.data()), &unpackedSize, packed.data(), packedSize) != Z_OK ||
      unpackedSize != jsonSize)
    r.fail("the metadata does not inflate");
  nlohmann::json meta;
  try {
    meta = nlohmann::json::parse(json);
  } catch (const nlohmann::json::exception& e) {
    r.fail(fmt::format("bad metadata JSON: {}", e.what()));
  }
  if (!meta.contains("architecture") || !meta.contains("tensors")) r.fail("metadata without architecture or tensors");
  std::unique_ptr<Module> model;
  try {
    registerCompressionTypes();
    model = buildModule(meta["architecture"]);
  } catch (const std::exception& e) {
    throw fail(fmt::format("cannot rebuild the model: {}", e.what()));
  }
  std::map<std::string, Tensor*> targets;
  std::map<std::string, Parameter*> params;
  for (auto& [name, p] : model->namedParameters()) params["param/" + name] = p;
  for (auto& [name, b] : model->namedBuffers()) targets["buffer/" + name] = b;
  NoGradGuard guard;
  size_t filled = 0;
  for (const auto& entry : meta["tensors"]) {
    const std::string name = entry.at("name").get<std::string>();
    const Shape shape(entry.at("shape").get<std::vector<int64_t>>());
    const Tensor* expected = nullptr;
    if (auto it = params.find(name); it != params.end()) expected = &it->second->leaf().value();
    else if (auto jt = targets.find(name); jt != targets.end()) expected = jt->second;
    else throw fail(fmt::format("tensor '{}' does not belong to the model", name));
    if (!(expected->shape() == shape))
      throw fail(fmt::format("tensor '{}' has shape {}, the model expects {}", name, shape.str(), expected->shape().str()));
    Tensor t(shape, decodeBlock(r, shape.numel()));
    if (auto it = params.find(name); it != params.end()) it->second->leaf().mutableValue() = std::move(t);
    else *targets[name] = std::move(t);
    ++filled;
  }
  if (filled != params.size() + targets.size())
    throw fail(fmt::format("holds {} tensors, the model has {}", filled, params.size() + targets.size()));
  if (!r.atEnd()) r.fail("bytes left after the last tensor");
  return model;
}

nlohmann::json toJson(const ExportReport& report) {
  nlohmann::json tensors = nlohmann::json::array();
  for (const auto& t : report.tensors)
    tensors.push_back({{"name", t.name}, {"shape", t.shape.dims()}, {"elements", t.elements}, {"non_zero", t.nonZero},
                       {"encoding", tensorEncodingName(t.encoding)}, {"index_bits", t.indexBits},
                       {"value_bits", t.valueBits}, {"entries", t.entries}, {"fillers", t.fillers},
                       {"codebook_size", t.codebookSize}, {"dense_bytes", t.denseBytes}, {"index_bytes", t.indexBytes},
                       {"value_bytes", t.valueBytes}, {"bytes", t.bytes},
                       {"index_bits_per_weight", t.indexBitsPerWeight}, {"value_bits_per_weight", t.valueBitsPerWeight},
                       {"pruned_bytes", t.prunedBytes}, {"clustered_bytes", t.clusteredBytes}});
  return {{"tensors", tensors},
          {"total",
           {{"parameters", report.parameters}, {"non_zero_parameters", report.nonZeroParameters},
            {"dense_float_bytes", report.denseFloatBytes}, {"float_gzip_bytes", report.floatGzipBytes},
            {"pruned_bytes", report.prunedBytes}, {"clustered_bytes", report.clusteredBytes},
            {"huffman_bytes", report.huffmanBytes}, {"file_bytes", report.fileBytes},
            {"compression_ratio", report.compressionRatio}}}};
}

std::string formatExportReport(const ExportReport& report) {
  std::string out = fmt::format("{:<28} {:>14} {:>9} {:>9} {:>16} {:>5} {:>5} {:>8} {:>8} {:>9}\n", "tensor", "shape",
                                "dense B", "non-zero", "encoding", "idx b", "val b", "idx b/w", "val b/w", "bytes");
  for (const auto& t : report.tensors)
    out += fmt::format("{:<28} {:>14} {:>9} {:>9} {:>16} {:>5} {:>5} {:>8.2f} {:>8.2f} {:>9}\n", t.name, t.shape.str(),
                       t.denseBytes, t.nonZero, tensorEncodingName(t.encoding), t.indexBits, t.valueBits,
                       t.indexBitsPerWeight, t.valueBitsPerWeight, t.bytes);
  const auto ratio = [&](int64_t bytes) {
    return bytes > 0 ? static_cast<double>(report.denseFloatBytes) / static_cast<double>(bytes) : 0.0;
  };
  out += fmt::format("parameters {} ({} non-zero)\n", report.parameters, report.nonZeroParameters);
  out += fmt::format("dense float32           {:>10} bytes\n", report.denseFloatBytes);
  out += fmt::format("float32 + gzip -9       {:>10} bytes  {:6.1f}x\n", report.floatGzipBytes, ratio(report.floatGzipBytes));
  out += fmt::format("pruned (sparse float)   {:>10} bytes  {:6.1f}x\n", report.prunedBytes, ratio(report.prunedBytes));
  out += fmt::format("+ clustered (codebook)  {:>10} bytes  {:6.1f}x\n", report.clusteredBytes, ratio(report.clusteredBytes));
  out += fmt::format("+ Huffman (tensors)     {:>10} bytes  {:6.1f}x\n", report.huffmanBytes, ratio(report.huffmanBytes));
  out += fmt::format(".shrinkz file           {:>10} bytes  {:6.1f}x\n", report.fileBytes, report.compressionRatio);
  return out;
}

}  // namespace shrink
