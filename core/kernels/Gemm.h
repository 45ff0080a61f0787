#pragma once

#include <cstdint>

namespace shrink::kernels {

/// Whether an operand of a product is used as stored or transposed.
enum class Trans { No, Yes };

/// C = alpha * op(A) * op(B) + beta * C on row-major float32 matrices (cblas_sgemm).
/// op(A) is [m, k] (A stored [m, k] with lda >= k, or [k, m] with lda >= m when transposed);
/// op(B) is [k, n] (B stored [k, n] with ldb >= n, or [n, k] with ldb >= k); C is [m, n], ldc >= n.
/// beta == 0 overwrites C (NaNs in C do not propagate); k == 0 gives C = beta * C.
/// Large products are split across numThreads() OpenMP threads, each running a single-threaded
/// OpenBLAS product on a block of rows or columns of C; inside an OpenMP parallel region the
/// product runs on the calling thread only.
void sgemm(Trans transA, Trans transB, int64_t m, int64_t n, int64_t k, float alpha, const float* a,
           int64_t lda, const float* b, int64_t ldb, float beta, float* c, int64_t ldc);

/// The same product, always on the calling thread alone (for kernels that parallelise over images).
void sgemmSerial(Trans transA, Trans transB, int64_t m, int64_t n, int64_t k, float alpha,
                 const float* a, int64_t lda, const float* b, int64_t ldb, float beta, float* c,
                 int64_t ldc);

}  // namespace shrink::kernels
