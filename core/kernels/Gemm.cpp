#include "core/kernels/Gemm.h"

#include <algorithm>

#include <cblas.h>
#include <omp.h>

#include "core/Threads.h"

namespace shrink::kernels {

namespace {

// Below this many multiply-adds a product is not worth waking a second thread for.
constexpr int64_t kParallelMinMacs = int64_t{1} << 18;
// Blocks of C handed to threads start on multiples of this (OpenBLAS's micro-tile sizes divide it).
constexpr int64_t kBlockAlign = 16;

CBLAS_TRANSPOSE cblasTrans(Trans t) { return t == Trans::Yes ? CblasTrans : CblasNoTrans; }

void scale(int64_t m, int64_t n, float beta, float* c, int64_t ldc) {
  for (int64_t i = 0; i < m; ++i) {
    float* row = c + i * ldc;
    if (beta == 0.0f)
      std::fill(row, row + n, 0.0f);
    else
      for (int64_t j = 0; j < n; ++j) row[j] *= beta;
  }
}

}  // namespace

void sgemmSerial(Trans transA, Trans transB, int64_t m, int64_t n, int64_t k, float alpha,
                 const float* a, int64_t lda, const float* b, int64_t ldb, float beta, float* c,
                 int64_t ldc) {
  if (m <= 0 || n <= 0) return;
  if (k <= 0 || alpha == 0.0f) {
    if (beta != 1.0f) scale(m, n, beta, c, ldc);
    return;
  }
  cblas_sgemm(CblasRowMajor, cblasTrans(transA), cblasTrans(transB), static_cast<int>(m),
              static_cast<int>(n), static_cast<int>(k), alpha, a, static_cast<int>(std::max<int64_t>(lda, 1)),
              b, static_cast<int>(std::max<int64_t>(ldb, 1)), beta, c,
              static_cast<int>(std::max<int64_t>(ldc, 1)));
}

void sgemm(Trans transA, Trans transB, int64_t m, int64_t n, int64_t k, float alpha, const float* a,
           int64_t lda, const float* b, int64_t ldb, float beta, float* c, int64_t ldc) {
  const int threads = numThreads();
  const int64_t longest = std::max(m, n);
  if (threads <= 1 || omp_in_parallel() || m * n * k < kParallelMinMacs || longest < 2 * kBlockAlign) {
    sgemmSerial(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
    return;
  }
  // Split the longer side of C into one aligned block per thread.
  const int64_t parts = std::min<int64_t>(threads, longest / kBlockAlign);
  const int64_t block = ((longest + parts - 1) / parts + kBlockAlign - 1) / kBlockAlign * kBlockAlign;
  const bool splitRows = m >= n;
#pragma omp parallel for num_threads(static_cast<int>(parts)) schedule(static, 1)
  for (int64_t p = 0; p < parts; ++p) {
    const int64_t lo = p * block;
    const int64_t hi = std::min(longest, lo + block);
    if (lo >= hi) continue;
    if (splitRows) {
      const float* ap = transA == Trans::Yes ? a + lo : a + lo * lda;
      sgemmSerial(transA, transB, hi - lo, n, k, alpha, ap, lda, b, ldb, beta, c + lo * ldc, ldc);
    } else {
      const float* bp = transB == Trans::Yes ? b + lo * ldb : b + lo;
      sgemmSerial(transA, transB, m, hi - lo, k, alpha, a, lda, bp, ldb, beta, c + lo, ldc);
    }
  }
}

}  // namespace shrink::kernels
