#include <bit>
#include <cmath>
#include <vector>

#include "core/Check.h"
#include "core/Functions.h"
#include "core/kernels/Norm.h"

namespace shrink {

namespace {

void checkChannelVector(const Shape& s, int64_t channels, const char* name, const Shape& input) {
  SHRINK_CHECK(s.rank() == 1 && s[0] == channels, "batchNorm: expected {} [{}] for input {}, got {}", name,
               channels, input.str(), s.str());
}

/// The splitmix64 finaliser: a bijective mix of 64 bits.
inline uint64_t splitmix64(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

/// x * factor elementwise (factor has x's shape); the backward is gradOut * factor.
Variable scaleBy(const Variable& x, Tensor factor, const char* op) {
  Tensor out(x.shape());
  out.array() = x.value().array() * factor.array();
  return Variable::fromOp(
      std::move(out), {x},
      [factor = std::move(factor)](std::vector<Variable>& in, const Tensor& g, const Tensor&) {
        if (in[0].requiresGrad()) in[0].gradBuffer().array() += g.array() * factor.array();
      },
      op);
}

}  // namespace

Variable batchNorm(const Variable& x, const Variable& gamma, const Variable& beta, Tensor& runningMean,
                   Tensor& runningVar, bool training, BatchNormOptions options) {
  SHRINK_CHECK(x.defined(), "batchNorm: undefined input");
  SHRINK_CHECK(gamma.defined() && beta.defined(), "batchNorm: undefined gamma or beta (input {})", x.shape().str());
  const Shape& s = x.shape();
  SHRINK_CHECK(s.rank() == 2 || s.rank() == 4, "batchNorm: expected an input [N, F] or [N, C, H, W], got {}",
               s.str());
  const int64_t channels = s[1];
  checkChannelVector(gamma.shape(), channels, "gamma", s);
  checkChannelVector(beta.shape(), channels, "beta", s);
  checkChannelVector(runningMean.shape(), channels, "runningMean", s);
  checkChannelVector(runningVar.shape(), channels, "runningVar", s);
  SHRINK_CHECK(options.momentum >= 0.0f && options.momentum <= 1.0f, "batchNorm: momentum must be in [0, 1], got {}",
               options.momentum);
  SHRINK_CHECK(options.epsilon > 0.0f && std::isfinite(options.epsilon), "batchNorm: epsilon must be positive, got {}",
               options.epsilon);

  const kernels::NormGeometry g{s[0], channels, s.rank() == 4 ? s[2] * s[3] : 1};
  const int64_t count = g.count();
  // The unbiased variance for runningVar needs two values per channel (PyTorch rejects this case too).
  if (training)
    SHRINK_CHECK(count > 1, "batchNorm: training needs more than one value per channel, got input {}", s.str());

  std::vector<float> mean(channels), invStd(channels), scale(channels), shift(channels);
  if (training) {
    std::vector<float> var(channels);
    kernels::batchNormStatistics(g, x.value().span(), mean, var);
    const float m = options.momentum;
    const float bessel = static_cast<float>(double(count) / double(count - 1));
    for (int64_t c = 0; c < channels; ++c) {
      invStd[c] = 1.0f / std::sqrt(var[c] + options.epsilon);
      runningMean[c] = m * runningMean[c] + (1.0f - m) * mean[c];
      runningVar[c] = m * runningVar[c] + (1.0f - m) * var[c] * bessel;
    }
  } else {
    for (int64_t c = 0; c < channels; ++c) {
      mean[c] = runningMean[c];
      invStd[c] = 1.0f / std::sqrt(runningVar[c] + options.epsilon);
    }
  }
  const Tensor& gv = gamma.value();
  const Tensor& bv = beta.value();
  for (int64_t c = 0; c < channels; ++c) {
    scale[c] = gv[c] * invStd[c];
    shift[c] = bv[c] - mean[c] * scale[c];
  }
  Tensor out(s);
  kernels::batchNormForward(g, x.value().span(), scale, shift, out.span());

  return Variable::fromOp(
      std::move(out), {x, gamma, beta},
      [g, training, mean = std::move(mean), invStd = std::move(invStd)](std::vector<Variable>& in, const Tensor& gy,
                                                                          const Tensor&) {
        const bool needX = in[0].requiresGrad(), needGamma = in[1].requiresGrad(), needBeta = in[2].requiresGrad();
        const int64_t channels = g.channels;
        const std::span<const float> xs = in[0].value().span();
        // Training's input gradient needs both sums; inference needs them only for gamma and beta.
        std::vector<float> sumDy(channels), sumDyXhat(channels);
        if (needGamma || needBeta || (training && needX))
          kernels::batchNormBackwardSums(g, xs, gy.span(), mean, invStd, sumDy, sumDyXhat);
        if (needGamma) in[1].gradBuffer().array() += ConstArrayMap(sumDyXhat.data(), channels);
        if (needBeta) in[2].gradBuffer().array() += ConstArrayMap(sumDy.data(), channels);
        if (!needX) return;
        // Training: dx = gamma invStd (dy - mean(dy) - xhat mean(dy xhat)), the batch statistics'
        // dependence on x included. Inference: dx = gamma invStd dy.
        const Tensor& gammaValue = in[1].value();
        std::vector<float> a(channels), b(channels, 0.0f), d(channels, 0.0f);
        const float invCount = 1.0f / static_cast<float>(g.count());
        for (int64_t c = 0; c < channels; ++c) {
          a[c] = gammaValue[c] * invStd[c];
          if (training) {
            b[c] = -a[c] * invStd[c] * sumDyXhat[c] * invCount;
            d[c] = -a[c] * sumDy[c] * invCount;
          }
        }
        kernels::batchNormBackwardInput(g, xs, gy.span(), mean, a, b, d, in[0].gradBuffer().span());
      },
      "batchNorm");
}

Variable dropout(const Variable& x, float rate, bool training, Generator& gen) {
  SHRINK_CHECK(x.defined(), "dropout: undefined input");
  SHRINK_CHECK(rate >= 0.0f && rate < 1.0f, "dropout: rate must be in [0, 1), got {} (input {})", rate,
               x.shape().str());
  if (!training || rate == 0.0f) return x;
  const float scale = 1.0f / (1.0f - rate);
  // One draw from `gen` keys the mask; the bits of element pair k are splitmix64(key + k * golden), a
  // counter-based stream (SplittableRandom's), several times faster than one engine step per element.
  // Each 64 bits give two 32-bit uniforms u; an element is kept when u >= rate * 2^32, with
  // probability 1 - rate (to within 2^-32).
  const uint64_t key = gen.nextU64();
  const uint64_t threshold = static_cast<uint64_t>(std::ceil(double(rate) * 0x1.0p32));
  Tensor factor(x.shape());
  float* f = factor.data();
  const int64_t n = factor.numel();
  // Bit masks rather than a comparison the compiler would turn into a coin-flip branch: for u, t < 2^33,
  // (u - t) >> 63 is 1 exactly when u < t (dropped), so the mask keeps scale's bits or clears them.
  const uint32_t scaleBits = std::bit_cast<uint32_t>(scale);
  auto keep = [&](uint64_t u) {
    return std::bit_cast<float>(scaleBits & (static_cast<uint32_t>((u - threshold) >> 63) - 1u));
  };
  for (int64_t i = 0; i < n; i += 2) {
    const uint64_t bits = splitmix64(key + static_cast<uint64_t>(i / 2) * 0x9e3779b97f4a7c15ull);
    f[i] = keep(bits >> 32);
    if (i + 1 < n) f[i + 1] = keep(bits & 0xffffffffu);
  }
  return scaleBy(x, std::move(factor), "dropout");
}

Variable dropoutWithMask(const Variable& x, const Tensor& mask, float scale) {
  SHRINK_CHECK(x.defined(), "dropoutWithMask: undefined input");
  SHRINK_CHECK(mask.shape() == x.shape(), "dropoutWithMask: mask {} must have the shape of the input {}",
               mask.shape().str(), x.shape().str());
  SHRINK_CHECK(std::isfinite(scale), "dropoutWithMask: scale must be finite, got {}", scale);
  Tensor factor(mask.shape());
  factor.array() = mask.array() * scale;
  return scaleBy(x, std::move(factor), "dropoutWithMask");
}

}  // namespace shrink
