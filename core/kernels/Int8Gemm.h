#pragma once

#include <cstdint>

namespace shrink::kernels {

/// Integer products for int8 inference (TFLite's scheme, Jacob et al. 2018).
///
/// Representation: activations are uint8 on an asymmetric grid, real = scale * (q - zeroPoint)
/// with q in [0, 255] (the grid shrink's activation fake-quant uses); weights are int8 on a
/// symmetric grid with zero point 0, real = scale * q with q in [-127, 127]. Products are summed
/// in int32: 255 * 127 * 2 fits int16 pairs summed into int32 lanes, and a dot product of k terms
/// cannot overflow while k * 255 * 127 < 2^31 (k < 66,000), which gemmU8S8 checks.

/// C[i, j] = sum_p (A[i, p] - aZeroPoint) * B[j, p] for i < m, j < n, p < k: rows of A (uint8
/// activations, row stride lda) times rows of B (int8 weights [n, k], row stride ldb) into int32 C
/// [m, n] (row stride ldc), overwriting C. The zero-point term is taken out of the loop:
/// C = sum_p A B - aZeroPoint * bRowSums[j], with bRowSums[j] = sum_p B[j, p] (int8RowSums).
/// AVX2 when compiled for it (operands widened to int16, _mm256_madd_epi16), else plain loops;
/// runs on the calling thread. Throws std::invalid_argument when k is too large for int32 sums.
void gemmU8S8(int64_t m, int64_t n, int64_t k, const uint8_t* a, int64_t lda, int32_t aZeroPoint, const int8_t* b,
              int64_t ldb, const int32_t* bRowSums, int32_t* c, int64_t ldc);

/// sums[j] = sum_p B[j, p] for the rows of B [n, k] (row stride ldb).
void int8RowSums(int64_t n, int64_t k, const int8_t* b, int64_t ldb, int32_t* sums);

/// A positive real multiplier as int32 fixed point: real ~= multiplier * 2^(shift - 31) with
/// multiplier in [2^30, 2^31) (a Q0.31 value in [0.5, 1)), or multiplier 0 for real 0.
struct QuantizedMultiplier {
  int32_t multiplier = 0;
  int shift = 0;
};

/// TFLite's QuantizeMultiplier: frexp splits real = q * 2^shift with q in [0.5, 1); the multiplier
/// is round(q * 2^31) (half away from zero), and q rounding up to 1 gives 2^30 with shift + 1.
/// Reals below 2^-32 (shift < -31) become 0. Throws std::invalid_argument unless real is finite
/// and >= 0.
QuantizedMultiplier quantizeMultiplier(double real);

/// gemmlowp's SaturatingRoundingDoublingHighMul: the high 32 bits of 2 a b, i.e. a b / 2^31
/// rounded to nearest, computed as (a b + nudge) / 2^31 truncated, with nudge 2^30 for a b >= 0 and
/// 1 - 2^30 otherwise (so ties go towards +infinity: 1.5 -> 2, -1.5 -> -1); INT32_MIN * INT32_MIN
/// saturates to INT32_MAX.
int32_t saturatingRoundingDoublingHighMul(int32_t a, int32_t b);

/// gemmlowp's RoundingDivideByPOT: x / 2^exponent rounded to nearest, ties away from zero
/// (3 / 2 -> 2, -3 / 2 -> -2); 0 <= exponent <= 31.
int32_t roundingDivideByPOT(int32_t x, int exponent);

/// x * real for the real m stands for, rounded: a left shift (shift > 0; saturating to int32),
/// saturatingRoundingDoublingHighMul by the multiplier, then roundingDivideByPOT by -shift
/// (shift < 0), TFLite's MultiplyByQuantizedMultiplier.
int32_t multiplyByQuantizedMultiplier(int32_t x, QuantizedMultiplier m);

}  // namespace shrink::kernels
