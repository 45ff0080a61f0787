#pragma once

#include <cstdint>
#include <vector>

#include "core/Tensor.h"

namespace shrink {

/// Magnitude masks: pure functions from weights to 0/1 masks of the same shape (1 = kept).
///
/// Counting rule (tfmot): of N candidates at sparsity s, k = max(round(N (1 - s)), 1) are kept,
/// round half to even. The threshold is the k-th largest magnitude; every candidate whose magnitude
/// is >= the threshold is kept, so ties can keep a few more than k.
struct MaskResult {
  Tensor mask;          ///< the weight's shape, entries 0 or 1
  float threshold = 0;  ///< the smallest kept magnitude (of pooled magnitudes for blocks)
};

/// The number of candidates kept out of n at `sparsity`: max(round_half_even(n (1 - s)), 1).
int64_t keptCount(int64_t n, double sparsity);

/// Per-tensor magnitude mask. sparsity in [0, 1).
MaskResult magnitudeMask(const Tensor& weight, double sparsity);

/// One threshold across several tensors (PyTorch's global_unstructured): the counting rule over
/// all their entries together; one mask per tensor, in order. Every mask shares the threshold.
std::vector<MaskResult> globalMagnitudeMasks(const std::vector<const Tensor*>& weights, double sparsity);

enum class BlockPooling { Avg, Max };

/// Block sparsity (tfmot): the weight is viewed as a matrix [rows, cols] — Dense [out, in] as is,
/// Conv2D [out, in, kh, kw] as [out, in*kh*kw] — its magnitudes are pooled over non-overlapping
/// blockRows x blockCols windows (SAME padding: edge blocks are partial; AVG averages the entries
/// that exist), the counting rule picks blocks on the pooled matrix, and each kept block keeps all
/// its entries. blockRows, blockCols >= 1.
MaskResult blockMask(const Tensor& weight, double sparsity, int64_t blockRows, int64_t blockCols,
                     BlockPooling pooling);

/// N:M sparsity (e.g. 2:4): in every group of m consecutive weights along the input dimension, the
/// n largest magnitudes are kept (ties to the lower index). Dense [out, in]: groups run along `in`
/// in each row. Conv2D [out, in, kh, kw]: groups run along `in` at each (out, kh, kw). A last,
/// shorter group (in not a multiple of m) keeps its n largest as if zero-padded.
/// 1 <= n < m. The threshold reported is 0.
MaskResult nOfMMask(const Tensor& weight, int64_t n, int64_t m);

}  // namespace shrink
