#pragma once

#include <cstdint>

#include "core/kernels/Conv.h"

/// Internals of the convolution kernels (core/kernels/Conv.cpp dispatches here): per-thread
/// scratch, zero padding, and the "direct" AVX2/FMA convolution, which reads its operands straight
/// from a zero-padded copy of each image instead of materialising im2col and calling sgemm.
namespace shrink::kernels::detail {

/// Per-thread scratch buffers, grown on demand and kept, so steady-state training allocates nothing.
enum class Scratch { Col, Acc, Padded, Packed, Shared, Count };
float* threadScratch(Scratch slot, int64_t n);

/// out [channels, outH, outW] = x [channels, h, w] placed at (padTop, padLeft) in zeros; rows and
/// columns of x that fall outside out are dropped.
void padImage(const float* x, int64_t channels, int64_t h, int64_t w, int64_t padTop, int64_t padLeft,
              int64_t outH, int64_t outW, float* out);

/// Whether this build has the direct kernels (AVX2 and FMA at compile time).
bool directAvailable();

/// The same contracts as conv2dForward / conv2dBackwardInput / conv2dBackwardWeight (conv2dBackwardInput
/// only for strides of 1). Images are spread over numThreads() threads; the caller ensures batch >= 2.
void directForward(const Conv2dGeometry& g, const float* x, const float* w, const float* bias, float* y);
void directBackwardInput(const Conv2dGeometry& g, const float* dy, const float* w, float* dx);
void directBackwardWeight(const Conv2dGeometry& g, const float* x, const float* dy, float* dw);

}  // namespace shrink::kernels::detail
