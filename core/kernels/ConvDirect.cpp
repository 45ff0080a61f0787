#include "core/kernels/ConvDirect.h"

#include <algorithm>
#include <vector>

#include <omp.h>
#if defined(__AVX2__) && defined(__FMA__)
#include <immintrin.h>
#define SHRINK_DIRECT_CONV 1
#endif

#include "core/Check.h"
#include "core/Tensor.h"
#include "core/Threads.h"

namespace shrink::kernels::detail {

float* threadScratch(Scratch slot, int64_t n) {
  thread_local std::vector<float, shrink::detail::AlignedAllocator<float>> buffers[static_cast<int>(Scratch::Count)];
  auto& b = buffers[static_cast<int>(slot)];
  if (static_cast<int64_t>(b.size()) < n) b.resize(static_cast<size_t>(n));
  return b.data();
}

void padImage(const float* x, int64_t channels, int64_t h, int64_t w, int64_t padTop, int64_t padLeft,
              int64_t outH, int64_t outW, float* out) {
  const int64_t x0 = std::max<int64_t>(0, -padLeft), x1 = std::min(w, outW - padLeft);
  for (int64_t c = 0; c < channels; ++c) {
    const float* xc = x + c * h * w;
    float* oc = out + c * outH * outW;
    for (int64_t py = 0; py < outH; ++py) {
      float* dst = oc + py * outW;
      const int64_t y = py - padTop;
      if (y < 0 || y >= h || x0 >= x1) {
        std::fill(dst, dst + outW, 0.0f);
        continue;
      }
      std::fill(dst, dst + x0 + padLeft, 0.0f);
      std::copy(xc + y * w + x0, xc + y * w + x1, dst + x0 + padLeft);
      std::fill(dst + x1 + padLeft, dst + outW, 0.0f);
    }
  }
}

#if SHRINK_DIRECT_CONV

namespace {

// A micro-tile covers kPanel output channels (two AVX registers) by kTile pixels (forward) or
// kTile kernel taps (weight gradient): 12 accumulators, the Haswell-style 6x16 FMA tile.
constexpr int kPanel = 16;
constexpr int kTile = 6;

// n items cut into ceil(n / kTile) tiles whose sizes differ by at most one (25 -> 5 x 5, not 6, 6, 6,
// 6, 1): a short last tile would run a much less efficient micro-kernel.
struct Tiling {
  explicit Tiling(int64_t n) : count((n + kTile - 1) / kTile), small(n / count), larger(n % count) {}
  int size(int64_t i) const { return static_cast<int>(small + (i < larger ? 1 : 0)); }
  int64_t count, small, larger;
};

// One convolution seen as a product over taps: output pixel p of channel f sums
// in[pixBase[p] + tapOffset[k]] * weight[k][f] over the taps k = (c, i, j) of a padded image.
struct Plan {
  int64_t outChannels, panels, taps, pixels;
  std::vector<int64_t> tapOffset, pixBase;
};

Plan makePlan(int64_t inChannels, int64_t paddedH, int64_t paddedW, int64_t outChannels, int64_t kh, int64_t kw,
              int64_t outH, int64_t outW, int64_t strideH, int64_t strideW) {
  Plan p{outChannels, (outChannels + kPanel - 1) / kPanel, inChannels * kh * kw,
         outH * outW, {}, {}};
  p.tapOffset.reserve(static_cast<size_t>(p.taps));
  for (int64_t c = 0; c < inChannels; ++c)
    for (int64_t i = 0; i < kh; ++i)
      for (int64_t j = 0; j < kw; ++j) p.tapOffset.push_back((c * paddedH + i) * paddedW + j);
  p.pixBase.reserve(static_cast<size_t>(p.pixels));
  for (int64_t oy = 0; oy < outH; ++oy)
    for (int64_t ox = 0; ox < outW; ++ox) p.pixBase.push_back(oy * strideH * paddedW + ox * strideW);
  return p;
}

// y[f][p0 + t] (+)= bias[f] + sum_k in[pixBase[t] + tapOffset[k]] * w[k][f] for t < T, f < fCount.
// w is one packed panel [taps][16]; y points at channel 0 of the panel, pixel p0.
template <int T, bool kAccumulate>
void forwardTile(const float* in, const int64_t* pixBase, const int64_t* tapOffset, int64_t taps, const float* w,
                 const float* bias, float* y, int64_t pixels, int64_t fCount) {
  __m256 acc0[T], acc1[T];
  const __m256 init0 = bias ? _mm256_loadu_ps(bias) : _mm256_setzero_ps();
  const __m256 init1 = bias ? _mm256_loadu_ps(bias + 8) : _mm256_setzero_ps();
  const float* base[T];
#pragma GCC unroll 6
  for (int t = 0; t < T; ++t) {
    acc0[t] = init0;
    acc1[t] = init1;
    base[t] = in + pixBase[t];
    asm("" : "+r"(base[t]));  // six base registers, so each broadcast is one load from base + offset
  }
  for (int64_t k = 0; k < taps; ++k) {
    const __m256 b0 = _mm256_load_ps(w + k * kPanel);
    const __m256 b1 = _mm256_load_ps(w + k * kPanel + 8);
    const int64_t o = tapOffset[k];
#pragma GCC unroll 6
    for (int t = 0; t < T; ++t) {
      const __m256 a = _mm256_broadcast_ss(base[t] + o);
      acc0[t] = _mm256_fmadd_ps(a, b0, acc0[t]);
      acc1[t] = _mm256_fmadd_ps(a, b1, acc1[t]);
    }
  }
  alignas(32) float tile[T][kPanel];
#pragma GCC unroll 6
  for (int t = 0; t < T; ++t) {
    _mm256_store_ps(tile[t], acc0[t]);
    _mm256_store_ps(tile[t] + 8, acc1[t]);
  }
  for (int64_t f = 0; f < fCount; ++f) {
    float* row = y + f * pixels;
#pragma GCC unroll 6
    for (int t = 0; t < T; ++t) row[t] = kAccumulate ? row[t] + tile[t][f] : tile[t][f];
  }
}

using ForwardTileFn = void (*)(const float*, const int64_t*, const int64_t*, int64_t, const float*, const float*,
                               float*, int64_t, int64_t);

template <bool kAccumulate>
constexpr ForwardTileFn kForwardTiles[kTile + 1] = {
    nullptr,
    forwardTile<1, kAccumulate>,
    forwardTile<2, kAccumulate>,
    forwardTile<3, kAccumulate>,
    forwardTile<4, kAccumulate>,
    forwardTile<5, kAccumulate>,
    forwardTile<6, kAccumulate>};

// All panels and pixels of one padded image.
template <bool kAccumulate>
void forwardImage(const Plan& plan, const float* in, const float* wPacked, const float* biasPacked, float* y) {
  for (int64_t panel = 0; panel < plan.panels; ++panel) {
    const float* w = wPacked + panel * plan.taps * kPanel;
    const float* bias = biasPacked ? biasPacked + panel * kPanel : nullptr;
    const int64_t fCount = std::min<int64_t>(kPanel, plan.outChannels - panel * kPanel);
    float* yPanel = y + panel * kPanel * plan.pixels;
    const Tiling tiles(plan.pixels);
    for (int64_t i = 0, p0 = 0; i < tiles.count; ++i) {
      const int t = tiles.size(i);
      kForwardTiles<kAccumulate>[t](in, plan.pixBase.data() + p0, plan.tapOffset.data(), plan.taps, w, bias,
                                    yPanel + p0, plan.pixels, fCount);
      p0 += t;
    }
  }
}

// dw[k0 + t][f] += sum_p in[pixBase[p] + tapOffset[t]] * dy[p][f] for t < T; dy is one packed panel
// [pixels][16], dw one panel of the per-thread accumulator [taps][16].
template <int T>
void weightTile(const float* in, const int64_t* pixBase, int64_t pixels, const int64_t* tapOffset, const float* dy,
                float* dw) {
  __m256 acc0[T], acc1[T];
  const float* tap[T];
#pragma GCC unroll 6
  for (int t = 0; t < T; ++t) {
    acc0[t] = _mm256_setzero_ps();
    acc1[t] = _mm256_setzero_ps();
    tap[t] = in + tapOffset[t];
    asm("" : "+r"(tap[t]));  // six tap registers, each broadcast one load from tap + pixel
  }
  for (int64_t p = 0; p < pixels; ++p) {
    const __m256 b0 = _mm256_load_ps(dy + p * kPanel);
    const __m256 b1 = _mm256_load_ps(dy + p * kPanel + 8);
    const int64_t o = pixBase[p];
#pragma GCC unroll 6
    for (int t = 0; t < T; ++t) {
      const __m256 a = _mm256_broadcast_ss(tap[t] + o);
      acc0[t] = _mm256_fmadd_ps(a, b0, acc0[t]);
      acc1[t] = _mm256_fmadd_ps(a, b1, acc1[t]);
    }
  }
#pragma GCC unroll 6
  for (int t = 0; t < T; ++t) {
    float* row = dw + t * kPanel;
    _mm256_store_ps(row, _mm256_add_ps(_mm256_load_ps(row), acc0[t]));
    _mm256_store_ps(row + 8, _mm256_add_ps(_mm256_load_ps(row + 8), acc1[t]));
  }
}

using WeightTileFn = void (*)(const float*, const int64_t*, int64_t, const int64_t*, const float*, float*);
constexpr WeightTileFn kWeightTiles[kTile + 1] = {nullptr,       weightTile<1>, weightTile<2>, weightTile<3>,
                                                  weightTile<4>, weightTile<5>, weightTile<6>};

int team() { return numThreads(); }

}  // namespace

bool directAvailable() { return true; }

void directForward(const Conv2dGeometry& g, const float* x, const float* w, const float* bias, float* y) {
  const int64_t ph = (g.outH - 1) * g.strideH + g.kernelH, pw = (g.outW - 1) * g.strideW + g.kernelW;
  const Plan plan = makePlan(g.inChannels, ph, pw, g.outChannels, g.kernelH, g.kernelW, g.outH, g.outW, g.strideH,
                             g.strideW);
  const int64_t K = plan.taps;
  // Weights packed as panels [F / 16][K][16] (zero-padded channels), and the bias likewise.
  float* wPacked = threadScratch(Scratch::Shared, plan.panels * K * kPanel + plan.panels * kPanel);
  float* biasPacked = bias ? wPacked + plan.panels * K * kPanel : nullptr;
  std::fill(wPacked, wPacked + plan.panels * K * kPanel + plan.panels * kPanel, 0.0f);
  for (int64_t f = 0; f < g.outChannels; ++f) {
    float* dst = wPacked + (f / kPanel) * K * kPanel + f % kPanel;
    for (int64_t k = 0; k < K; ++k) dst[k * kPanel] = w[f * K + k];
    if (bias) biasPacked[f] = bias[f];
  }
  const int64_t inImage = g.inChannels * g.inH * g.inW, outImage = g.outChannels * plan.pixels;
#pragma omp parallel num_threads(team())
  {
    float* padded = threadScratch(Scratch::Padded, g.inChannels * ph * pw);
#pragma omp for schedule(static)
    for (int64_t n = 0; n < g.batch; ++n) {
      padImage(x + n * inImage, g.inChannels, g.inH, g.inW, g.padTop, g.padLeft, ph, pw, padded);
      forwardImage<false>(plan, padded, wPacked, biasPacked, y + n * outImage);
    }
  }
}

void directBackwardInput(const Conv2dGeometry& g, const float* dy, const float* w, float* dx) {
  SHRINK_ASSERT(g.strideH == 1 && g.strideW == 1, "directBackwardInput: strides must be 1");
  // dx is the stride-1 convolution of dy, zero-padded by (kernel - 1 - pad) at the top/left, with the
  // kernel flipped and its channel axes swapped.
  const int64_t ph = g.inH + g.kernelH - 1, pw = g.inW + g.kernelW - 1;
  const Plan plan =
      makePlan(g.outChannels, ph, pw, g.inChannels, g.kernelH, g.kernelW, g.inH, g.inW, 1, 1);
  const int64_t K = plan.taps, khw = g.kernelH * g.kernelW;
  float* wPacked = threadScratch(Scratch::Shared, plan.panels * K * kPanel);
  std::fill(wPacked, wPacked + plan.panels * K * kPanel, 0.0f);
  for (int64_t f = 0; f < g.outChannels; ++f)
    for (int64_t c = 0; c < g.inChannels; ++c) {
      float* dst = wPacked + (c / kPanel) * K * kPanel + c % kPanel;
      const float* src = w + (f * g.inChannels + c) * khw;
      for (int64_t t = 0; t < khw; ++t) dst[(f * khw + t) * kPanel] = src[khw - 1 - t];
    }
  const int64_t inImage = g.inChannels * g.inH * g.inW, outImage = g.outChannels * g.outPixels();
#pragma omp parallel num_threads(team())
  {
    float* padded = threadScratch(Scratch::Padded, g.outChannels * ph * pw);
#pragma omp for schedule(static)
    for (int64_t n = 0; n < g.batch; ++n) {
      padImage(dy + n * outImage, g.outChannels, g.outH, g.outW, g.kernelH - 1 - g.padTop, g.kernelW - 1 - g.padLeft,
               ph, pw, padded);
      forwardImage<true>(plan, padded, wPacked, nullptr, dx + n * inImage);
    }
  }
}

void directBackwardWeight(const Conv2dGeometry& g, const float* x, const float* dy, float* dw) {
  const int64_t ph = (g.outH - 1) * g.strideH + g.kernelH, pw = (g.outW - 1) * g.strideW + g.kernelW;
  const Plan plan = makePlan(g.inChannels, ph, pw, g.outChannels, g.kernelH, g.kernelW, g.outH, g.outW, g.strideH,
                             g.strideW);
  const int64_t K = plan.taps, P = plan.pixels, F = g.outChannels;
  const int64_t inImage = g.inChannels * g.inH * g.inW, outImage = F * P;
  const Tiling tapTiles(K);
#pragma omp parallel num_threads(team())
  {
    float* padded = threadScratch(Scratch::Padded, g.inChannels * ph * pw);
    float* dyPacked = threadScratch(Scratch::Packed, plan.panels * P * kPanel);
    float* acc = threadScratch(Scratch::Acc, plan.panels * K * kPanel);
    std::fill(acc, acc + plan.panels * K * kPanel, 0.0f);
    if (F % kPanel != 0) std::fill(dyPacked, dyPacked + plan.panels * P * kPanel, 0.0f);
#pragma omp for schedule(static) nowait
    for (int64_t n = 0; n < g.batch; ++n) {
      padImage(x + n * inImage, g.inChannels, g.inH, g.inW, g.padTop, g.padLeft, ph, pw, padded);
      const float* dyn = dy + n * outImage;
      for (int64_t f = 0; f < F; ++f) {
        float* dst = dyPacked + (f / kPanel) * P * kPanel + f % kPanel;
        for (int64_t p = 0; p < P; ++p) dst[p * kPanel] = dyn[f * P + p];
      }
      for (int64_t panel = 0; panel < plan.panels; ++panel) {
        for (int64_t i = 0, k0 = 0; i < tapTiles.count; ++i) {
          const int t = tapTiles.size(i);
          kWeightTiles[t](padded, plan.pixBase.data(), P, plan.tapOffset.data() + k0, dyPacked + panel * P * kPanel,
                          acc + (panel * K + k0) * kPanel);
          k0 += t;
        }
      }
    }
#pragma omp critical(shrink_direct_conv_dw)
    for (int64_t f = 0; f < F; ++f) {
      const float* src = acc + (f / kPanel) * K * kPanel + f % kPanel;
      float* dst = dw + f * K;
      for (int64_t k = 0; k < K; ++k) dst[k] += src[k * kPanel];
    }
  }
}

#else  // no AVX2/FMA: Conv.cpp keeps to im2col + sgemm

bool directAvailable() { return false; }
void directForward(const Conv2dGeometry&, const float*, const float*, const float*, float*) {
  throw std::logic_error("directForward: built without AVX2/FMA");
}
void directBackwardInput(const Conv2dGeometry&, const float*, const float*, float*) {
  throw std::logic_error("directBackwardInput: built without AVX2/FMA");
}
void directBackwardWeight(const Conv2dGeometry&, const float*, const float*, float*) {
  throw std::logic_error("directBackwardWeight: built without AVX2/FMA");
}

#endif

}  // namespace shrink::kernels::detail
