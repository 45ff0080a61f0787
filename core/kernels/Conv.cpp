#include "core/kernels/Conv.h"

#include <algorithm>
#include <cstring>
#include <vector>

#include <omp.h>
#if defined(__AVX__)
#include <immintrin.h>
#endif

#include "core/Check.h"
#include "core/Tensor.h"
#include "core/Threads.h"
#include "core/kernels/ConvDirect.h"
#include "core/kernels/Gemm.h"

namespace shrink::kernels {

namespace {

using detail::Scratch;
using detail::threadScratch;

// dst[0, n) = src[0, n) for the short rows of im2col (n is an output width): whole vectors, the
// last one overlapping the previous where n is not a multiple of the vector width.
inline void copyRow(float* dst, const float* src, int64_t n) {
#if defined(__AVX__)
  if (n >= 8) {
    int64_t x = 0;
    for (; x + 8 <= n; x += 8) _mm256_storeu_ps(dst + x, _mm256_loadu_ps(src + x));
    if (x < n) _mm256_storeu_ps(dst + n - 8, _mm256_loadu_ps(src + n - 8));
    return;
  }
  if (n >= 4) {
    _mm_storeu_ps(dst, _mm_loadu_ps(src));
    _mm_storeu_ps(dst + n - 4, _mm_loadu_ps(src + n - 4));
    return;
  }
#endif
  for (int64_t x = 0; x < n; ++x) dst[x] = src[x];
}

// dst[0, n) += src[0, n).
inline void addRow(float* dst, const float* src, int64_t n) {
  int64_t x = 0;
#if defined(__AVX__)
  for (; x + 8 <= n; x += 8)
    _mm256_storeu_ps(dst + x, _mm256_add_ps(_mm256_loadu_ps(dst + x), _mm256_loadu_ps(src + x)));
  if (x + 4 <= n) {
    _mm_storeu_ps(dst + x, _mm_add_ps(_mm_loadu_ps(dst + x), _mm_loadu_ps(src + x)));
    x += 4;
  }
#endif
  for (; x < n; ++x) dst[x] += src[x];
}

// The direct AVX2 kernels beat im2col + sgemm when there are images for every thread, the kernel is
// not 1x1 (a pointwise convolution is a plain product; sgemm reads the image in place) and the
// channels they produce fill at least half of their 16-wide panels (`channels`: output channels for
// the forward and weight gradient, input channels for the input gradient).
bool useDirect(const Conv2dGeometry& g, int64_t channels) {
  return detail::directAvailable() && !g.isPointwise() && g.batch >= numThreads() && g.batch >= 2 &&
         channels >= 8;
}

// Threads to spread `batch` images over; 1 means "loop over images and let each GEMM split".
int imageTeam(int64_t batch) {
  const int threads = numThreads();
  return batch >= threads ? threads : 1;
}

// The input as im2col reads it: zero-padded to exactly the rows and columns the windows touch,
// h = (outH - 1) * strideH + kernelH by w = (outW - 1) * strideW + kernelW per channel (cropped
// where a valid convolution leaves input rows or columns unread).
struct PaddedLayout {
  int64_t h, w;
  // Input rows/columns [y0, y1) x [x0, x1) land at padded (y + padTop, x + padLeft).
  int64_t y0, y1, x0, x1;
  int64_t size(int64_t channels) const { return channels * h * w; }
};

PaddedLayout paddedLayout(const Conv2dGeometry& g) {
  PaddedLayout p;
  p.h = (g.outH - 1) * g.strideH + g.kernelH;
  p.w = (g.outW - 1) * g.strideW + g.kernelW;
  p.y0 = std::max<int64_t>(0, -g.padTop);
  p.y1 = std::min(g.inH, p.h - g.padTop);
  p.x0 = std::max<int64_t>(0, -g.padLeft);
  p.x1 = std::min(g.inW, p.w - g.padLeft);
  return p;
}

void addFromPadded(const Conv2dGeometry& g, const PaddedLayout& pl, const float* padded, float* dx) {
  if (pl.x0 >= pl.x1) return;
  for (int64_t c = 0; c < g.inChannels; ++c) {
    float* dxc = dx + c * g.inH * g.inW;
    const float* pc = padded + c * pl.h * pl.w;
    for (int64_t y = pl.y0; y < pl.y1; ++y)
      addRow(dxc + y * g.inW + pl.x0, pc + (y + g.padTop) * pl.w + pl.x0 + g.padLeft, pl.x1 - pl.x0);
  }
}

void checkSizes(const char* op, const Conv2dGeometry& g, size_t x, size_t w, size_t y) {
  SHRINK_ASSERT(static_cast<int64_t>(x) == g.inputSize() && static_cast<int64_t>(w) == g.weightSize() &&
                    static_cast<int64_t>(y) == g.outputSize(),
                "{}: buffer sizes {}, {}, {} do not match the geometry ({}, {}, {})", op, x, w, y, g.inputSize(),
                g.weightSize(), g.outputSize());
}

}  // namespace

bool Conv2dGeometry::isPointwise() const {
  return kernelH == 1 && kernelW == 1 && strideH == 1 && strideW == 1 && padTop == 0 && padLeft == 0 &&
         outH == inH && outW == inW;
}

void im2col(const Conv2dGeometry& g, const float* x, float* col) {
  const PaddedLayout pl = paddedLayout(g);
  float* padded = threadScratch(Scratch::Padded, pl.size(g.inChannels));
  detail::padImage(x, g.inChannels, g.inH, g.inW, g.padTop, g.padLeft, pl.h, pl.w, padded);
  const int64_t P = g.outPixels();
  for (int64_t c = 0; c < g.inChannels; ++c) {
    const float* pc = padded + c * pl.h * pl.w;
    for (int64_t i = 0; i < g.kernelH; ++i) {
      for (int64_t j = 0; j < g.kernelW; ++j) {
        float* row = col + ((c * g.kernelH + i) * g.kernelW + j) * P;
        for (int64_t oy = 0; oy < g.outH; ++oy) {
          const float* src = pc + (oy * g.strideH + i) * pl.w + j;
          float* dst = row + oy * g.outW;
          if (g.strideW == 1)
            copyRow(dst, src, g.outW);
          else
            for (int64_t ox = 0; ox < g.outW; ++ox) dst[ox] = src[ox * g.strideW];
        }
      }
    }
  }
}

void col2im(const Conv2dGeometry& g, const float* col, float* dx) {
  const PaddedLayout pl = paddedLayout(g);
  float* padded = threadScratch(Scratch::Padded, pl.size(g.inChannels));
  std::fill(padded, padded + pl.size(g.inChannels), 0.0f);
  const int64_t P = g.outPixels();
  for (int64_t c = 0; c < g.inChannels; ++c) {
    float* pc = padded + c * pl.h * pl.w;
    for (int64_t i = 0; i < g.kernelH; ++i) {
      for (int64_t j = 0; j < g.kernelW; ++j) {
        const float* row = col + ((c * g.kernelH + i) * g.kernelW + j) * P;
        for (int64_t oy = 0; oy < g.outH; ++oy) {
          float* dst = pc + (oy * g.strideH + i) * pl.w + j;
          const float* src = row + oy * g.outW;
          if (g.strideW == 1)
            addRow(dst, src, g.outW);
          else
            for (int64_t ox = 0; ox < g.outW; ++ox) dst[ox * g.strideW] += src[ox];
        }
      }
    }
  }
  addFromPadded(g, pl, padded, dx);
}

void conv2dForward(const Conv2dGeometry& g, std::span<const float> x, std::span<const float> w,
                   std::span<const float> bias, std::span<float> y) {
  checkSizes("conv2dForward", g, x.size(), w.size(), y.size());
  SHRINK_ASSERT(bias.empty() || static_cast<int64_t>(bias.size()) == g.outChannels,
                "conv2dForward: bias of {} for {} output channels", bias.size(), g.outChannels);
  if (useDirect(g, g.outChannels)) {
    detail::directForward(g, x.data(), w.data(), bias.empty() ? nullptr : bias.data(), y.data());
    return;
  }
  const int64_t K = g.colRows(), P = g.outPixels(), F = g.outChannels;
  const int64_t inImage = g.inChannels * g.inH * g.inW;
  const bool pointwise = g.isPointwise();
#pragma omp parallel num_threads(imageTeam(g.batch))
  {
    float* col = pointwise ? nullptr : threadScratch(Scratch::Col, K * P);
#pragma omp for schedule(static)
    for (int64_t n = 0; n < g.batch; ++n) {
      const float* xn = x.data() + n * inImage;
      float* yn = y.data() + n * F * P;
      if (!pointwise) im2col(g, xn, col);
      float beta = 0.0f;
      if (!bias.empty()) {
        for (int64_t f = 0; f < F; ++f) std::fill(yn + f * P, yn + (f + 1) * P, bias[f]);
        beta = 1.0f;
      }
      sgemm(Trans::No, Trans::No, F, P, K, 1.0f, w.data(), K, pointwise ? xn : col, P, beta, yn, P);
    }
  }
}

void conv2dBackwardInput(const Conv2dGeometry& g, std::span<const float> dy, std::span<const float> w,
                         std::span<float> dx) {
  checkSizes("conv2dBackwardInput", g, dx.size(), w.size(), dy.size());
  if (useDirect(g, g.inChannels) && g.strideH == 1 && g.strideW == 1) {
    detail::directBackwardInput(g, dy.data(), w.data(), dx.data());
    return;
  }
  const int64_t K = g.colRows(), P = g.outPixels(), F = g.outChannels;
  const int64_t inImage = g.inChannels * g.inH * g.inW;
  const bool pointwise = g.isPointwise();
#pragma omp parallel num_threads(imageTeam(g.batch))
  {
    float* col = pointwise ? nullptr : threadScratch(Scratch::Col, K * P);
#pragma omp for schedule(static)
    for (int64_t n = 0; n < g.batch; ++n) {
      const float* dyn = dy.data() + n * F * P;
      float* dxn = dx.data() + n * inImage;
      if (pointwise) {
        sgemm(Trans::Yes, Trans::No, K, P, F, 1.0f, w.data(), K, dyn, P, 1.0f, dxn, P);
      } else {
        sgemm(Trans::Yes, Trans::No, K, P, F, 1.0f, w.data(), K, dyn, P, 0.0f, col, P);
        col2im(g, col, dxn);
      }
    }
  }
}

void conv2dBackwardWeight(const Conv2dGeometry& g, std::span<const float> x, std::span<const float> dy,
                          std::span<float> dw) {
  checkSizes("conv2dBackwardWeight", g, x.size(), dw.size(), dy.size());
  if (useDirect(g, g.outChannels)) {
    detail::directBackwardWeight(g, x.data(), dy.data(), dw.data());
    return;
  }
  const int64_t K = g.colRows(), P = g.outPixels(), F = g.outChannels;
  const int64_t inImage = g.inChannels * g.inH * g.inW;
  const bool pointwise = g.isPointwise();
#pragma omp parallel num_threads(imageTeam(g.batch))
  {
    // A team of one accumulates straight into dw; otherwise each thread into its own partial sum.
    const bool partial = omp_get_num_threads() > 1;
    float* acc = dw.data();
    if (partial) {
      acc = threadScratch(Scratch::Acc, F * K);
      std::fill(acc, acc + F * K, 0.0f);
    }
    float* col = pointwise ? nullptr : threadScratch(Scratch::Col, K * P);
#pragma omp for schedule(static) nowait
    for (int64_t n = 0; n < g.batch; ++n) {
      const float* xn = x.data() + n * inImage;
      if (!pointwise) im2col(g, xn, col);
      sgemm(Trans::No, Trans::Yes, F, K, P, 1.0f, dy.data() + n * F * P, P, pointwise ? xn : col, P, 1.0f, acc,
            K);
    }
    if (partial) {
#pragma omp critical(shrink_conv2d_dw)
      for (int64_t i = 0; i < F * K; ++i) dw[i] += acc[i];
    }
  }
}

void conv2dBackwardBias(const Conv2dGeometry& g, std::span<const float> dy, std::span<float> db) {
  SHRINK_ASSERT(static_cast<int64_t>(dy.size()) == g.outputSize() &&
                    static_cast<int64_t>(db.size()) == g.outChannels,
                "conv2dBackwardBias: sizes {}, {} do not match the geometry", dy.size(), db.size());
  const int64_t P = g.outPixels(), F = g.outChannels;
  for (int64_t n = 0; n < g.batch; ++n) {
    for (int64_t f = 0; f < F; ++f) {
      db[f] += ConstArrayMap(dy.data() + (n * F + f) * P, P).sum();
    }
  }
}

}  // namespace shrink::kernels
