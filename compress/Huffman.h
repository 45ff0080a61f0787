#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

namespace shrink {

/// Canonical Huffman coding of a stream of small symbols (0 .. alphabet - 1, alphabet <= 65536), as
/// Deep Compression's last stage (Han et al. 2016, §4) applies it to weight indices and index gaps.
///
/// The code is described by one length per symbol (0: the symbol does not occur); codes are
/// assigned canonically (shorter first, then by symbol), so the lengths alone rebuild the decoder.
/// A stream of one distinct symbol gets a 1-bit code; an empty stream has no codes. Lengths are
/// limited to kMaxCodeLength bits (counts are flattened until the tree fits).
struct HuffmanCode {
  static constexpr int kMaxCodeLength = 24;
  std::vector<uint8_t> lengths;  ///< per symbol; size = alphabet (max used symbol + 1)
};

/// The code lengths for `symbols`; the alphabet is the largest symbol + 1 (empty for an empty stream).
HuffmanCode buildHuffmanCode(std::span<const uint32_t> symbols);

/// The encoded bit stream (MSB first, the last byte zero-padded); every symbol must have a length.
std::vector<uint8_t> huffmanEncode(const HuffmanCode& code, std::span<const uint32_t> symbols);

/// Decodes `count` symbols; throws std::runtime_error when the bits run out, form no code, or the
/// lengths do not describe a prefix code.
std::vector<uint32_t> huffmanDecode(const HuffmanCode& code, std::span<const uint8_t> bits, size_t count);

/// The size in bits of `symbols` encoded with `code`.
uint64_t huffmanBits(const HuffmanCode& code, std::span<const uint32_t> symbols);

}  // namespace shrink
