// The Deep Compression file (.shrinkz): canonical Huffman coding, relative indices with filler
// zeros, an exact round trip of a pruned and clustered MLP with its size against the float file, and
// the rejection of corrupted, truncated, foreign and newer files.
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <set>
#include <vector>

#include <gtest/gtest.h>

#include "compress/Export.h"
#include "compress/Huffman.h"
#include "compress/compress.h"
#include "core/Archive.h"
#include "core/Threads.h"
#include "layers/layers.h"
#include "optim/optim.h"
#include "tests/TestUtils.h"

namespace shrink {
namespace {

namespace fs = std::filesystem;

std::vector<uint32_t> roundTrip(const std::vector<uint32_t>& symbols, uint64_t* bits = nullptr) {
  const HuffmanCode code = buildHuffmanCode(symbols);
  const std::vector<uint8_t> encoded = huffmanEncode(code, symbols);
  if (bits) *bits = huffmanBits(code, symbols);
  EXPECT_EQ(encoded.size(), (huffmanBits(code, symbols) + 7) / 8);
  return huffmanDecode(code, encoded, symbols.size());
}

TEST(ExportTest, HuffmanRoundTripsAndGivesFrequentSymbolsShortCodes) {
  std::vector<uint32_t> symbols;
  for (int i = 0; i < 1000; ++i) symbols.push_back(i % 10 == 0 ? static_cast<uint32_t>(i / 10 % 20 * 2) : 3u);  // 3 and even symbols
  uint64_t bits = 0;
  EXPECT_EQ(roundTrip(symbols, &bits), symbols);
  const HuffmanCode code = buildHuffmanCode(symbols);
  EXPECT_EQ(code.lengths.size(), 39u);
  EXPECT_EQ(code.lengths[3], 1) << "the symbol of 90% of the stream gets a 1-bit code";
  EXPECT_EQ(code.lengths[5], 0) << "an absent symbol has no code";
  EXPECT_LT(bits, 1000u * 2) << "well below the 6 bits of a fixed-width code";
  // Kraft equality: a Huffman code of two or more symbols fills the code space exactly.
  double kraft = 0;
  for (uint8_t l : code.lengths)
    if (l > 0) kraft += std::ldexp(1.0, -l);
  EXPECT_DOUBLE_EQ(kraft, 1.0);
}

TEST(ExportTest, HuffmanHandlesOneSymbolAnEmptyStreamAndSkewedCounts) {
  const std::vector<uint32_t> one(17, 5u);
  uint64_t bits = 0;
  EXPECT_EQ(roundTrip(one, &bits), one);
  EXPECT_EQ(bits, 17u) << "one symbol: a 1-bit code";
  EXPECT_TRUE(roundTrip({}).empty());
  EXPECT_TRUE(buildHuffmanCode({}).lengths.empty());
  // Fibonacci counts drive an unlimited Huffman tree deeper than kMaxCodeLength.
  std::vector<uint32_t> skewed;
  uint64_t a = 1, b = 1;
  for (uint32_t s = 0; s < 30; ++s) {
    for (uint64_t i = 0; i < a; ++i) skewed.push_back(s);
    const uint64_t c = a + b;
    a = b;
    b = c;
    if (skewed.size() > 3'000'000) break;
  }
  const HuffmanCode code = buildHuffmanCode(skewed);
  for (uint8_t l : code.lengths) EXPECT_LE(l, HuffmanCode::kMaxCodeLength);
  EXPECT_EQ(roundTrip(skewed), skewed);
}

TEST(ExportTest, HuffmanDecodeRejectsAShortStream) {
  const std::vector<uint32_t> symbols{0, 1, 2, 3, 0, 0};
  const HuffmanCode code = buildHuffmanCode(symbols);
  const std::vector<uint8_t> encoded = huffmanEncode(code, symbols);
  EXPECT_THROW(huffmanDecode(code, encoded, 100), std::runtime_error);
}

TEST(ExportTest, RelativeIndicesInsertFillerZerosWhenAGapOverflows) {
  // 3-bit gaps (at most 8), as the paper's Fig. 2: position 4, then 15 (gap 11 > 8), then 16.
  const RelativeIndices rel = encodeRelativeIndices({4, 15, 16}, 3);
  EXPECT_EQ(rel.gaps, (std::vector<uint32_t>{4, 7, 2, 0}));  // stored as gap - 1
  EXPECT_EQ(rel.positions, (std::vector<int64_t>{4, 12, 15, 16}));
  EXPECT_EQ(rel.filler, (std::vector<bool>{false, true, false, false}));
  EXPECT_EQ(decodeRelativeIndices(rel.gaps), rel.positions);
  // A gap of several index ranges takes several fillers; a gap of exactly 2^bits none.
  const RelativeIndices far = encodeRelativeIndices({7, 40, 48}, 3);
  EXPECT_EQ(far.positions, (std::vector<int64_t>{7, 15, 23, 31, 39, 40, 48}));
  EXPECT_EQ(std::count(far.filler.begin(), far.filler.end(), true), 4);
  EXPECT_EQ(decodeRelativeIndices(far.gaps), far.positions);
  for (uint32_t g : far.gaps) EXPECT_LT(g, 8u);
  EXPECT_TRUE(encodeRelativeIndices({}, 5).gaps.empty());
  EXPECT_NE(test::messageOf([] { encodeRelativeIndices({3, 3}, 5); }).find("ascend"), std::string::npos);
}

TEST(ExportTest, SparseTensorWithLongGapsRoundTripsExactly) {
  setNumThreads(1);
  Sequential m;
  m.add<Dense>({.in = 200, .out = 3, .seed = 4});
  Tensor& w = static_cast<Dense&>(m.at(0)).weight().leaf().mutableValue();
  w.setZero();
  w[0] = 0.5f;
  w[150] = -0.25f;  // a gap of 150 with 2-bit indices: 37 fillers
  w[599] = 0.5f;
  w[598] = -0.0f;   // a negative zero is a value, not a pruned weight
  const fs::path p = fs::temp_directory_path() / ("shrink_export_gaps." + std::to_string(getpid()) + ".shrinkz");
  const ExportReport r = exportShrinkz(m, p.string(), {.indexBits = 2});
  ASSERT_EQ(r.tensors[0].name, "param/dense.weight");
  EXPECT_EQ(r.tensors[0].encoding, TensorEncoding::SparseCodebook);
  EXPECT_EQ(r.tensors[0].nonZero, 4);
  EXPECT_GT(r.tensors[0].fillers, 100);
  auto back = importShrinkz(p.string());
  const Tensor& w2 = static_cast<Dense&>(static_cast<Sequential&>(*back).at(0)).weight().leaf().value();
  ASSERT_EQ(w2.numel(), w.numel());
  EXPECT_EQ(std::memcmp(w2.data(), w.data(), sizeof(float) * static_cast<size_t>(w.numel())), 0);
  EXPECT_TRUE(std::signbit(w2[598]));
  fs::remove(p);
}

TEST(ExportTest, SixteenBitIndicesTakeTheWholeGapAlphabet) {
  // Positions 0 and 65,536: the largest 16-bit gap, symbol 65,535, an alphabet of 65,536 symbols;
  // 301 distinct non-zeros, too many for a codebook, so the values are stored as floats.
  Sequential m;
  m.add<Dense>({.in = 65837, .out = 1, .seed = 4});
  Tensor& w = static_cast<Dense&>(m.at(0)).weight().leaf().mutableValue();
  w.setZero();
  w[0] = 1.5f;
  for (int64_t i = 0; i < 300; ++i) w[65536 + i] = -2.0f + 0.01f * static_cast<float>(i);
  const fs::path p = fs::temp_directory_path() / ("shrink_export_wide." + std::to_string(getpid()) + ".shrinkz");
  const ExportReport r = exportShrinkz(m, p.string(), {.indexBits = 16});
  EXPECT_EQ(r.tensors[0].encoding, TensorEncoding::SparseRaw);
  EXPECT_EQ(r.tensors[0].fillers, 0);
  EXPECT_EQ(r.tensors[0].nonZero, 301);
  auto back = importShrinkz(p.string());
  const Tensor& w2 = static_cast<Dense&>(static_cast<Sequential&>(*back).at(0)).weight().leaf().value();
  EXPECT_EQ(std::memcmp(w2.data(), w.data(), sizeof(float) * static_cast<size_t>(w.numel())), 0);
  fs::remove(p);
}

/// A 100-300-10 MLP, 90% of each kernel pruned by magnitude, then 16 clusters that keep the zeros.
std::unique_ptr<Sequential> prunedClusteredMlp(std::unique_ptr<Sequential>* dense) {
  auto make = [] {
    auto m = std::make_unique<Sequential>();
    m->add<Dense>({.in = 100, .out = 300, .activation = Activation::ReLU, .seed = 1});
    m->add<Dense>({.in = 300, .out = 10, .seed = 2});
    return m;
  };
  *dense = make();
  auto m = make();
  for (size_t i = 0; i < 2; ++i) {
    Tensor& w = static_cast<Dense&>(m->at(i)).weight().leaf().mutableValue();
    const Tensor mask = magnitudeMask(w, 0.9).mask;
    for (int64_t j = 0; j < w.numel(); ++j) w[j] *= mask[j];
  }
  for (size_t i = 0; i < 2; ++i)
    static_cast<Dense&>(m->at(i)).bias()->leaf().mutableValue() = test::uniform(Shape{i == 0 ? 300 : 10}, 20 + i);
  EXPECT_EQ(clusterWeights(*m, ClusterOptions{.clusters = 16, .preserveSparsity = true, .seed = 7}), 2);
  EXPECT_EQ(stripClusteringInPlace(*m), 2);
  return m;
}

TEST(ExportTest, PrunedClusteredMlpPredictsBitForBitAndIsMuchSmallerThanTheFloatFile) {
  setNumThreads(1);
  std::unique_ptr<Sequential> dense;
  auto m = prunedClusteredMlp(&dense);
  const Tensor& w0 = static_cast<Dense&>(m->at(0)).weight().leaf().value();
  EXPECT_LE(std::set<float>(w0.begin(), w0.end()).size(), 16u);
  const fs::path dir = fs::temp_directory_path() / ("shrink_export_mlp." + std::to_string(getpid()));
  fs::create_directories(dir);
  const ExportReport r = exportShrinkz(*m, (dir / "m.shrinkz").string());
  saveModel(*dense, (dir / "dense.shrink").string());
  saveModel(*m, (dir / "pruned.shrink").string());
  const auto fileBytes = static_cast<int64_t>(fs::file_size(dir / "m.shrinkz"));
  const auto denseFile = static_cast<int64_t>(fs::file_size(dir / "dense.shrink"));
  const auto prunedFile = static_cast<int64_t>(fs::file_size(dir / "pruned.shrink"));
  EXPECT_EQ(r.fileBytes, fileBytes);
  EXPECT_EQ(r.denseFloatBytes, 4 * (100 * 300 + 300 + 300 * 10 + 10));
  EXPECT_GT(denseFile, 15 * fileBytes) << "dense float file " << denseFile << " vs .shrinkz " << fileBytes;
  EXPECT_GT(2 * prunedFile, 3 * fileBytes) << "zlib'd pruned float file " << prunedFile << " vs .shrinkz " << fileBytes;
  // The kernels are stored sparse with a codebook of at most 16 values (4 bits) and 5-bit gaps.
  ASSERT_EQ(r.tensors.size(), 4u);
  for (int i : {0, 2}) {
    const TensorExportReport& t = r.tensors[static_cast<size_t>(i)];
    EXPECT_EQ(t.encoding, TensorEncoding::SparseCodebook) << t.name;
    EXPECT_EQ(t.indexBits, 5);
    EXPECT_LE(t.valueBits, 4);
  }
  // Per non-zero of the large kernel: ~4 bits of gap and ~4 of value after Huffman (the 3,000-weight
  // kernel pays relatively more for its code tables and codebook).
  EXPECT_LT(r.tensors[0].indexBitsPerWeight + r.tensors[0].valueBitsPerWeight, 10.0);
  EXPECT_EQ(r.tensors[1].encoding, TensorEncoding::Raw) << "300 distinct biases exceed a codebook of 256";
  EXPECT_LT(r.huffmanBytes, r.clusteredBytes);
  EXPECT_LT(r.clusteredBytes, r.prunedBytes);
  EXPECT_LT(r.prunedBytes, r.denseFloatBytes);

  auto back = importShrinkz((dir / "m.shrinkz").string());
  const Tensor x = test::uniform(Shape{64, 100}, 3);
  m->eval();
  back->eval();
  const Tensor want = (*m)(Variable(x)).value();
  const Tensor got = (*back)(Variable(x)).value();
  ASSERT_EQ(got.numel(), want.numel());
  EXPECT_EQ(std::memcmp(got.data(), want.data(), sizeof(float) * static_cast<size_t>(want.numel())), 0);
  fs::remove_all(dir);
}

std::string runtimeMessage(const std::string& path) {
  try {
    importShrinkz(path);
  } catch (const std::runtime_error& e) {
    return e.what();
  }
  return "<no std::runtime_error thrown>";
}

TEST(ExportTest, CorruptedTruncatedForeignAndNewerFilesAreRejected) {
  setNumThreads(1);
  std::unique_ptr<Sequential> dense;
  auto m = prunedClusteredMlp(&dense);
  const fs::path dir = fs::temp_directory_path() / ("shrink_export_bad." + std::to_string(getpid()));
  fs::create_directories(dir);
  const std::string good = (dir / "m.shrinkz").string();
  exportShrinkz(*m, good);
  const std::vector<uint8_t> bytes = readFile(good);
  auto write = [&](const std::string& name, const std::vector<uint8_t>& b) {
    const std::string p = (dir / name).string();
    std::ofstream(p, std::ios::binary).write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size()));
    return p;
  };
  std::vector<uint8_t> flipped = bytes;
  flipped[bytes.size() / 2] ^= 0x10;
  const std::string f = write("flipped.shrinkz", flipped);
  EXPECT_NE(runtimeMessage(f).find(f), std::string::npos);
  EXPECT_NE(runtimeMessage(f).find("checksum mismatch"), std::string::npos) << runtimeMessage(f);

  const std::string t = write("truncated.shrinkz", std::vector<uint8_t>(bytes.begin(), bytes.end() - 100));
  EXPECT_NE(runtimeMessage(t).find("truncated"), std::string::npos) << runtimeMessage(t);
  EXPECT_NE(runtimeMessage(t).find(t), std::string::npos);
  const std::string h = write("header.shrinkz", std::vector<uint8_t>(bytes.begin(), bytes.begin() + 12));
  EXPECT_NE(runtimeMessage(h).find("truncated"), std::string::npos) << runtimeMessage(h);

  saveModel(*m, (dir / "model.shrink").string());
  const std::string foreign = (dir / "model.shrink").string();
  EXPECT_NE(runtimeMessage(foreign).find("not a .shrinkz file"), std::string::npos) << runtimeMessage(foreign);
  EXPECT_FALSE(isShrinkzFile(foreign));
  EXPECT_TRUE(isShrinkzFile(good));

  std::vector<uint8_t> newer = bytes;
  newer[8] = 2;  // the version field follows the 8-byte magic
  const std::string n = write("newer.shrinkz", newer);
  EXPECT_NE(runtimeMessage(n).find("version 2 is newer"), std::string::npos) << runtimeMessage(n);

  const std::string missing = (dir / "missing.shrinkz").string();
  EXPECT_NE(runtimeMessage(missing).find(missing), std::string::npos);
  fs::remove_all(dir);
}

TEST(ExportTest, WrappedModelsAndBadOptionsAreRefused) {
  std::unique_ptr<Sequential> dense;
  auto m = prunedClusteredMlp(&dense);
  clusterWeights(*m, ClusterOptions{.clusters = 4});
  const std::string p = (fs::temp_directory_path() / "shrink_export_never.shrinkz").string();
  EXPECT_NE(test::messageOf([&] { exportShrinkz(*m, p); }).find("strip the model first"), std::string::npos);
  EXPECT_NE(test::messageOf([&] { exportShrinkz(*dense, p, {.indexBits = 17}); }).find("indexBits"), std::string::npos);
  EXPECT_NE(test::messageOf([&] { exportShrinkz(*dense, p, {.valueBits = 9}); }).find("valueBits"), std::string::npos);
  EXPECT_FALSE(fs::exists(p));
}

}  // namespace
}  // namespace shrink
