#include "compress/Huffman.h"

#include <algorithm>
#include <queue>
#include <stdexcept>

#include <fmt/format.h>

#include "core/Check.h"

namespace shrink {

namespace {

/// Code lengths of a Huffman tree over the non-zero `counts` (depth of each leaf).
std::vector<uint8_t> treeLengths(const std::vector<uint64_t>& counts) {
  struct Node {
    uint64_t weight;
    int index;
  };
  const auto heavier = [](const Node& a, const Node& b) {
    return a.weight != b.weight ? a.weight > b.weight : a.index > b.index;
  };
  std::priority_queue<Node, std::vector<Node>, decltype(heavier)> queue(heavier);
  std::vector<int> parent;
  const int n = static_cast<int>(counts.size());
  parent.assign(static_cast<size_t>(n), -1);
  for (int s = 0; s < n; ++s)
    if (counts[static_cast<size_t>(s)] > 0) queue.push({counts[static_cast<size_t>(s)], s});
  std::vector<uint8_t> lengths(counts.size(), 0);
  if (queue.size() == 1) {
    lengths[static_cast<size_t>(queue.top().index)] = 1;
    return lengths;
  }
  while (queue.size() > 1) {
    const Node a = queue.top();
    queue.pop();
    const Node b = queue.top();
    queue.pop();
    const int inner = static_cast<int>(parent.size());
    parent.push_back(-1);
    parent[static_cast<size_t>(a.index)] = inner;
    parent[static_cast<size_t>(b.index)] = inner;
    queue.push({a.weight + b.weight, inner});
  }
  for (int s = 0; s < n; ++s) {
    if (counts[static_cast<size_t>(s)] == 0) continue;
    int depth = 0;
    for (int p = parent[static_cast<size_t>(s)]; p != -1; p = parent[static_cast<size_t>(p)]) ++depth;
    lengths[static_cast<size_t>(s)] = static_cast<uint8_t>(std::min(depth, 255));
  }
  return lengths;
}

/// Canonical codes from lengths: codes[s] holds the code of symbol s (valid when lengths[s] > 0).
std::vector<uint32_t> canonicalCodes(const std::vector<uint8_t>& lengths) {
  std::vector<uint32_t> countPerLength(HuffmanCode::kMaxCodeLength + 2, 0);
  for (uint8_t l : lengths) {
    if (l > HuffmanCode::kMaxCodeLength) throw std::runtime_error(fmt::format("Huffman code length {} too long", l));
    if (l > 0) ++countPerLength[l];
  }
  std::vector<uint32_t> next(HuffmanCode::kMaxCodeLength + 2, 0);
  uint32_t code = 0;
  for (int l = 1; l <= HuffmanCode::kMaxCodeLength; ++l) {
    code = (code + countPerLength[static_cast<size_t>(l - 1)]) << 1;
    next[static_cast<size_t>(l)] = code;
  }
  std::vector<uint32_t> codes(lengths.size(), 0);
  for (size_t s = 0; s < lengths.size(); ++s)
    if (lengths[s] > 0) codes[s] = next[lengths[s]]++;
  return codes;
}

}  // namespace

HuffmanCode buildHuffmanCode(std::span<const uint32_t> symbols) {
  HuffmanCode code;
  if (symbols.empty()) return code;
  const uint32_t maxSymbol = *std::max_element(symbols.begin(), symbols.end());
  SHRINK_CHECK(maxSymbol < 65536, "buildHuffmanCode: symbol {} outside the alphabet (< 65536)", maxSymbol);
  std::vector<uint64_t> counts(maxSymbol + 1, 0);
  for (uint32_t s : symbols) ++counts[s];
  for (;;) {
    code.lengths = treeLengths(counts);
    if (*std::max_element(code.lengths.begin(), code.lengths.end()) <= HuffmanCode::kMaxCodeLength) return code;
    for (uint64_t& c : counts)
      if (c > 0) c = (c + 1) / 2;  // flatten the distribution until the deepest leaf fits
  }
}

uint64_t huffmanBits(const HuffmanCode& code, std::span<const uint32_t> symbols) {
  uint64_t bits = 0;
  for (uint32_t s : symbols) {
    SHRINK_CHECK(s < code.lengths.size() && code.lengths[s] > 0, "huffmanBits: symbol {} has no code", s);
    bits += code.lengths[s];
  }
  return bits;
}

std::vector<uint8_t> huffmanEncode(const HuffmanCode& code, std::span<const uint32_t> symbols) {
  const std::vector<uint32_t> codes = canonicalCodes(code.lengths);
  std::vector<uint8_t> out((huffmanBits(code, symbols) + 7) / 8, 0);
  uint64_t bit = 0;
  for (uint32_t s : symbols) {
    const int len = code.lengths[s];
    for (int i = len - 1; i >= 0; --i, ++bit)
      if ((codes[s] >> i) & 1u) out[bit / 8] |= static_cast<uint8_t>(0x80u >> (bit % 8));
  }
  return out;
}

std::vector<uint32_t> huffmanDecode(const HuffmanCode& code, std::span<const uint8_t> bits, size_t count) {
  // Canonical decoding: per length, the first code and where its symbols start in the sorted list.
  constexpr int kMax = HuffmanCode::kMaxCodeLength;
  std::vector<uint32_t> countPerLength(kMax + 1, 0);
  for (uint8_t l : code.lengths) {
    if (l > kMax) throw std::runtime_error(fmt::format("Huffman code length {} too long", l));
    if (l > 0) ++countPerLength[l];
  }
  std::vector<uint32_t> sorted;
  for (int l = 1; l <= kMax; ++l)
    for (size_t s = 0; s < code.lengths.size(); ++s)
      if (code.lengths[s] == l) sorted.push_back(static_cast<uint32_t>(s));
  // Kraft check: the lengths must not over-subscribe the code space.
  uint64_t kraft = 0;
  for (int l = 1; l <= kMax; ++l) kraft += static_cast<uint64_t>(countPerLength[static_cast<size_t>(l)]) << (kMax - l);
  if (kraft > (uint64_t{1} << kMax)) throw std::runtime_error("Huffman code lengths do not form a prefix code");
  std::vector<uint32_t> out;
  out.reserve(count);
  if (count > 0 && sorted.empty()) throw std::runtime_error("Huffman stream of symbols without any code");
  const uint64_t totalBits = static_cast<uint64_t>(bits.size()) * 8;
  uint64_t bit = 0;
  while (out.size() < count) {
    uint32_t codeValue = 0, first = 0, offset = 0;
    bool found = false;
    for (int l = 1; l <= kMax; ++l) {
      if (bit >= totalBits) throw std::runtime_error("Huffman stream ends early");
      codeValue = (codeValue << 1) | ((bits[bit / 8] >> (7 - bit % 8)) & 1u);
      ++bit;
      const uint32_t n = countPerLength[static_cast<size_t>(l)];
      if (codeValue - first < n) {
        out.push_back(sorted[offset + codeValue - first]);
        found = true;
        break;
      }
      offset += n;
      first = (first + n) << 1;
    }
    if (!found) throw std::runtime_error("Huffman stream holds an invalid code");
  }
  return out;
}

}  // namespace shrink
