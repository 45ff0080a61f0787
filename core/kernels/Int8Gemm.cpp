#include "core/kernels/Int8Gemm.h"

#include <cmath>
#include <limits>

#if defined(__AVX2__)
#include <immintrin.h>
#endif

#include "core/Check.h"

namespace shrink::kernels {

namespace {

/// The longest dot product whose int32 sum cannot overflow: k * 255 * 127 < 2^31.
constexpr int64_t kMaxDepth = std::numeric_limits<int32_t>::max() / (255 * 127);

int32_t dotTail(const uint8_t* a, const int8_t* b, int64_t from, int64_t k) {
  int32_t s = 0;
  for (int64_t p = from; p < k; ++p) s += static_cast<int32_t>(a[p]) * static_cast<int32_t>(b[p]);
  return s;
}

#if defined(__AVX2__)

/// 16 uint8 / int8 values widened to int16.
inline __m256i loadU8(const uint8_t* p) {
  return _mm256_cvtepu8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
}
inline __m256i loadS8(const int8_t* p) {
  return _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
}

/// The sums of the eight int32 lanes of each of four accumulators, as one vector [s0, s1, s2, s3].
inline __m128i sum4(__m256i a0, __m256i a1, __m256i a2, __m256i a3) {
  const __m256i s = _mm256_hadd_epi32(_mm256_hadd_epi32(a0, a1), _mm256_hadd_epi32(a2, a3));
  return _mm_add_epi32(_mm256_castsi256_si128(s), _mm256_extracti128_si256(s, 1));
}

/// Row a (length k) against rows b0..b3: four raw dot products.
void dot4(const uint8_t* a, const int8_t* b, int64_t ldb, int64_t k, int32_t* out) {
  const int8_t *b0 = b, *b1 = b + ldb, *b2 = b + 2 * ldb, *b3 = b + 3 * ldb;
  __m256i acc0 = _mm256_setzero_si256(), acc1 = acc0, acc2 = acc0, acc3 = acc0;
  int64_t p = 0;
  for (; p + 16 <= k; p += 16) {
    const __m256i av = loadU8(a + p);
    acc0 = _mm256_add_epi32(acc0, _mm256_madd_epi16(av, loadS8(b0 + p)));
    acc1 = _mm256_add_epi32(acc1, _mm256_madd_epi16(av, loadS8(b1 + p)));
    acc2 = _mm256_add_epi32(acc2, _mm256_madd_epi16(av, loadS8(b2 + p)));
    acc3 = _mm256_add_epi32(acc3, _mm256_madd_epi16(av, loadS8(b3 + p)));
  }
  _mm_storeu_si128(reinterpret_cast<__m128i*>(out), sum4(acc0, acc1, acc2, acc3));
  out[0] += dotTail(a, b0, p, k);
  out[1] += dotTail(a, b1, p, k);
  out[2] += dotTail(a, b2, p, k);
  out[3] += dotTail(a, b3, p, k);
}

int32_t dot1(const uint8_t* a, const int8_t* b, int64_t k) {
  __m256i acc = _mm256_setzero_si256();
  int64_t p = 0;
  for (; p + 16 <= k; p += 16) acc = _mm256_add_epi32(acc, _mm256_madd_epi16(loadU8(a + p), loadS8(b + p)));
  const __m256i z = _mm256_setzero_si256();
  return _mm_cvtsi128_si32(sum4(acc, z, z, z)) + dotTail(a, b, p, k);
}

#else

void dot4(const uint8_t* a, const int8_t* b, int64_t ldb, int64_t k, int32_t* out) {
  for (int r = 0; r < 4; ++r) out[r] = dotTail(a, b + r * ldb, 0, k);
}

int32_t dot1(const uint8_t* a, const int8_t* b, int64_t k) { return dotTail(a, b, 0, k); }

#endif

}  // namespace

void gemmU8S8(int64_t m, int64_t n, int64_t k, const uint8_t* a, int64_t lda, int32_t aZeroPoint, const int8_t* b,
              int64_t ldb, const int32_t* bRowSums, int32_t* c, int64_t ldc) {
  SHRINK_CHECK(k <= kMaxDepth, "gemmU8S8: depth {} exceeds {}, the longest int32-safe dot product", k, kMaxDepth);
  for (int64_t i = 0; i < m; ++i) {
    const uint8_t* ar = a + i * lda;
    int32_t* cr = c + i * ldc;
    int64_t j = 0;
    for (; j + 4 <= n; j += 4) dot4(ar, b + j * ldb, ldb, k, cr + j);
    for (; j < n; ++j) cr[j] = dot1(ar, b + j * ldb, k);
    for (j = 0; j < n; ++j) cr[j] -= aZeroPoint * bRowSums[j];
  }
}

void int8RowSums(int64_t n, int64_t k, const int8_t* b, int64_t ldb, int32_t* sums) {
  for (int64_t j = 0; j < n; ++j) {
    int32_t s = 0;
    for (int64_t p = 0; p < k; ++p) s += b[j * ldb + p];
    sums[j] = s;
  }
}

QuantizedMultiplier quantizeMultiplier(double real) {
  SHRINK_CHECK(std::isfinite(real) && real >= 0, "quantizeMultiplier: the multiplier must be finite and >= 0, got {}",
               real);
  if (real == 0) return {};
  int shift = 0;
  const double q = std::frexp(real, &shift);  // real = q * 2^shift, q in [0.5, 1)
  int64_t fixed = static_cast<int64_t>(std::round(q * static_cast<double>(int64_t{1} << 31)));
  if (fixed == (int64_t{1} << 31)) {
    fixed /= 2;
    ++shift;
  }
  if (shift < -31) return {};
  SHRINK_CHECK(shift <= 30, "quantizeMultiplier: the multiplier {} is too large", real);
  return {static_cast<int32_t>(fixed), shift};
}

int32_t saturatingRoundingDoublingHighMul(int32_t a, int32_t b) {
  if (a == b && a == std::numeric_limits<int32_t>::min()) return std::numeric_limits<int32_t>::max();
  const int64_t ab = static_cast<int64_t>(a) * static_cast<int64_t>(b);
  const int64_t nudge = ab >= 0 ? (int64_t{1} << 30) : (1 - (int64_t{1} << 30));
  return static_cast<int32_t>((ab + nudge) / (int64_t{1} << 31));
}

int32_t roundingDivideByPOT(int32_t x, int exponent) {
  const int32_t mask = static_cast<int32_t>((int64_t{1} << exponent) - 1);
  const int32_t remainder = x & mask;
  const int32_t threshold = (mask >> 1) + (x < 0 ? 1 : 0);
  return (x >> exponent) + (remainder > threshold ? 1 : 0);
}

int32_t multiplyByQuantizedMultiplier(int32_t x, QuantizedMultiplier m) {
  const int leftShift = m.shift > 0 ? m.shift : 0;
  const int rightShift = m.shift > 0 ? 0 : -m.shift;
  int64_t shifted = static_cast<int64_t>(x) * (int64_t{1} << leftShift);
  if (shifted > std::numeric_limits<int32_t>::max()) shifted = std::numeric_limits<int32_t>::max();
  if (shifted < std::numeric_limits<int32_t>::min()) shifted = std::numeric_limits<int32_t>::min();
  return roundingDivideByPOT(saturatingRoundingDoublingHighMul(static_cast<int32_t>(shifted), m.multiplier),
                             rightShift);
}

}  // namespace shrink::kernels
