#pragma once

#include <cstdint>
#include <span>

namespace shrink::kernels {

/// Everything a 2-D convolution kernel needs to know, NCHW. Input x [batch, inChannels, inH, inW];
/// weight [outChannels, inChannels, kernelH, kernelW]; output [batch, outChannels, outH, outW].
/// Output pixel (oy, ox) reads input rows oy * strideH - padTop + i and columns
/// ox * strideW - padLeft + j; reads outside the input are zeros (so bottom/right padding is
/// implied by outH/outW).
struct Conv2dGeometry {
  int64_t batch = 0, inChannels = 0, inH = 0, inW = 0;
  int64_t outChannels = 0, kernelH = 0, kernelW = 0;
  int64_t strideH = 1, strideW = 1, padTop = 0, padLeft = 0;
  int64_t outH = 0, outW = 0;

  /// Rows of the im2col matrix: inChannels * kernelH * kernelW.
  int64_t colRows() const { return inChannels * kernelH * kernelW; }
  /// Output pixels per image and channel: outH * outW.
  int64_t outPixels() const { return outH * outW; }
  int64_t inputSize() const { return batch * inChannels * inH * inW; }
  int64_t weightSize() const { return outChannels * colRows(); }
  int64_t outputSize() const { return batch * outChannels * outPixels(); }
  /// True when im2col would copy the image unchanged (1x1 kernel, stride 1, no padding).
  bool isPointwise() const;
};

/// One image x [inChannels, inH, inW] -> col [colRows, outPixels]: row (c, i, j) holds input
/// channel c shifted by kernel tap (i, j) at every output pixel, zeros where it falls in the padding.
void im2col(const Conv2dGeometry& g, const float* x, float* col);

/// The adjoint of im2col: dx [inChannels, inH, inW] += the col [colRows, outPixels] entries
/// scattered back to the input pixels they were read from.
void col2im(const Conv2dGeometry& g, const float* col, float* dx);

/// y [batch, outChannels, outH, outW] = conv(x, w) + bias. `bias` is [outChannels] or empty.
/// Per image one GEMM w [F, C*kh*kw] x im2col(x_n); images are spread over the OpenMP threads.
void conv2dForward(const Conv2dGeometry& g, std::span<const float> x, std::span<const float> w,
                   std::span<const float> bias, std::span<float> y);

/// dx [batch, inChannels, inH, inW] += the gradient of the convolution with respect to its
/// input, given dy [batch, outChannels, outH, outW] and w.
void conv2dBackwardInput(const Conv2dGeometry& g, std::span<const float> dy, std::span<const float> w,
                         std::span<float> dx);

/// dw [outChannels, inChannels, kernelH, kernelW] += the gradient with respect to the weight,
/// given the input x and dy.
void conv2dBackwardWeight(const Conv2dGeometry& g, std::span<const float> x, std::span<const float> dy,
                          std::span<float> dw);

/// db [outChannels] += dy summed over the batch and the output pixels.
void conv2dBackwardBias(const Conv2dGeometry& g, std::span<const float> dy, std::span<float> db);

}  // namespace shrink::kernels
