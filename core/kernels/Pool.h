#pragma once

#include <cstdint>
#include <span>

namespace shrink::kernels {

/// Everything a 2-D pooling kernel needs to know, NCHW. Input x [batch, channels, inH, inW]; output
/// [batch, channels, outH, outW]. Output pixel (oy, ox) pools input rows oy * strideH - padTop + i
/// (0 <= i < kernelH) and columns ox * strideW - padLeft + j; cells outside the input are padding and
/// are ignored (never the max, not counted in the mean). Every window must hold at least one input cell.
struct Pool2dGeometry {
  int64_t batch = 0, channels = 0, inH = 0, inW = 0;
  int64_t kernelH = 0, kernelW = 0;
  int64_t strideH = 1, strideW = 1, padTop = 0, padLeft = 0;
  int64_t outH = 0, outW = 0;

  /// Independent [H, W] planes: batch * channels.
  int64_t planes() const { return batch * channels; }
  int64_t inputSize() const { return planes() * inH * inW; }
  int64_t outputSize() const { return planes() * outH * outW; }
};

/// y [batch, channels, outH, outW] = the maximum of each window. When `argmax` is not empty (outputSize
/// entries) it receives, for each output, the index within its input plane (row * inW + column) of the
/// cell chosen: the first maximum in row-major window order. Planes are spread over the OpenMP threads.
void maxPool2dForward(const Pool2dGeometry& g, std::span<const float> x, std::span<float> y,
                      std::span<int32_t> argmax);

/// dx [batch, channels, inH, inW] += dy routed to the cells `argmax` recorded.
void maxPool2dBackward(const Pool2dGeometry& g, std::span<const float> dy, std::span<const int32_t> argmax,
                       std::span<float> dx);

/// y = the mean of the input cells of each window (padding excluded from the count).
void avgPool2dForward(const Pool2dGeometry& g, std::span<const float> x, std::span<float> y);

/// dx += dy / (input cells of the window), spread over the window's input cells.
void avgPool2dBackward(const Pool2dGeometry& g, std::span<const float> dy, std::span<float> dx);

}  // namespace shrink::kernels
