#pragma once

#include <cstdint>
#include <span>

namespace shrink::kernels {

/// A tensor normalised over axis 1, viewed as [outer, channels, inner]: [N, F] is outer N, inner 1;
/// [N, C, H, W] is outer N, inner H * W. Each channel owns count() = outer * inner values.
struct NormGeometry {
  int64_t outer = 0, channels = 0, inner = 1;
  int64_t count() const { return outer * inner; }
  int64_t size() const { return outer * channels * inner; }
};

/// mean[c] and the biased variance var[c] of each channel's values (two passes, double accumulation).
/// Channels are spread over the OpenMP threads.
void batchNormStatistics(const NormGeometry& g, std::span<const float> x, std::span<float> mean,
                         std::span<float> var);

/// y = x * scale[c] + shift[c] for every value of channel c.
void batchNormForward(const NormGeometry& g, std::span<const float> x, std::span<const float> scale,
                      std::span<const float> shift, std::span<float> y);

/// Per channel: sumDy[c] = sum of dy, sumDyXhat[c] = sum of dy * (x - mean[c]) * invStd[c], the
/// gradients of beta and gamma.
void batchNormBackwardSums(const NormGeometry& g, std::span<const float> x, std::span<const float> dy,
                           std::span<const float> mean, std::span<const float> invStd, std::span<float> sumDy,
                           std::span<float> sumDyXhat);

/// dx += a[c] * dy + b[c] * (x - mean[c]) + d[c]: the input gradient of either mode. Inference:
/// a = gamma * invStd, b = d = 0. Training (M = count()): a = gamma * invStd,
/// b = -a * invStd * sumDyXhat / M, d = -a * sumDy / M.
void batchNormBackwardInput(const NormGeometry& g, std::span<const float> x, std::span<const float> dy,
                            std::span<const float> mean, std::span<const float> a, std::span<const float> b,
                            std::span<const float> d, std::span<float> dx);

}  // namespace shrink::kernels
