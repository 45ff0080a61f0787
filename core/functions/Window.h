#pragma once

// The geometry shared by the sliding-window ops: core/functions (Conv.cpp, Pool.cpp) and the integer
// ops of compress/Int8.cpp.

#include <algorithm>
#include <cstdint>
#include <span>

#include "core/Functions.h"
#include "core/kernels/Conv.h"
#include "core/kernels/Pool.h"

namespace shrink::detail {

/// Output size and leading padding of one spatial axis of a window of size `k` moved by `stride` over
/// `in` cells. Valid: no padding, out = (in - k) / stride + 1 (0 when in < k). Same: TensorFlow's rule,
/// out = ceil(in / stride), pad_total = max((out - 1) * stride + k - in, 0), the odd one at the end.
inline void axisGeometry(Padding padding, int64_t in, int64_t k, int64_t stride, int64_t& out,
                         int64_t& padBegin) {
  if (padding == Padding::Valid) {
    out = in >= k ? (in - k) / stride + 1 : 0;
    padBegin = 0;
  } else {
    out = (in + stride - 1) / stride;
    const int64_t total = std::max<int64_t>((out - 1) * stride + k - in, 0);
    padBegin = total / 2;
  }
}

/// The geometry of a convolution of x [N, C, H, W] by w [F, C, kh, kw]; outH or outW is 0 when the
/// window does not fit (the caller reports it).
inline kernels::Conv2dGeometry conv2dGeometry(std::span<const int64_t> x, std::span<const int64_t> w,
                                              int64_t strideH, int64_t strideW, Padding padding) {
  kernels::Conv2dGeometry g;
  g.batch = x[0];
  g.inChannels = x[1];
  g.inH = x[2];
  g.inW = x[3];
  g.outChannels = w[0];
  g.kernelH = w[2];
  g.kernelW = w[3];
  g.strideH = strideH;
  g.strideW = strideW;
  axisGeometry(padding, g.inH, g.kernelH, g.strideH, g.outH, g.padTop);
  axisGeometry(padding, g.inW, g.kernelW, g.strideW, g.outW, g.padLeft);
  return g;
}

/// The geometry of a kernelH x kernelW pooling window over x [N, C, H, W] (strides >= 1); outH or
/// outW is 0 when the window does not fit (the caller reports it).
inline kernels::Pool2dGeometry pool2dGeometry(std::span<const int64_t> x, int64_t kernelH, int64_t kernelW,
                                              int64_t strideH, int64_t strideW, Padding padding) {
  kernels::Pool2dGeometry g;
  g.batch = x[0];
  g.channels = x[1];
  g.inH = x[2];
  g.inW = x[3];
  g.kernelH = kernelH;
  g.kernelW = kernelW;
  g.strideH = strideH;
  g.strideW = strideW;
  axisGeometry(padding, g.inH, g.kernelH, g.strideH, g.outH, g.padTop);
  axisGeometry(padding, g.inW, g.kernelW, g.strideW, g.outW, g.padLeft);
  return g;
}

}  // namespace shrink::detail
