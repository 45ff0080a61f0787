#include "core/kernels/Pool.h"

#include <algorithm>
#include <limits>
#include <vector>

#include "core/Check.h"
#include "core/Threads.h"

namespace shrink::kernels {

namespace {

// Below this many input elements a pass costs less than waking the OpenMP team.
constexpr int64_t kParallelMin = 1 << 15;

int planeTeam(const Pool2dGeometry& g) {
  return g.planes() >= 2 && g.inputSize() >= kParallelMin ? numThreads() : 1;
}

void checkSizes(const char* what, const Pool2dGeometry& g, size_t in, size_t out) {
  SHRINK_ASSERT(static_cast<int64_t>(in) == g.inputSize() && static_cast<int64_t>(out) == g.outputSize(),
                "{}: buffers of {} and {} elements for a [{}, {}, {}, {}] -> [{}, {}] pooling", what, in, out,
                g.batch, g.channels, g.inH, g.inW, g.outH, g.outW);
}

// The input range [begin, end) of each output position along one axis, padding clipped away.
struct AxisRanges {
  std::vector<int64_t> begin, end;
  AxisRanges(int64_t out, int64_t in, int64_t k, int64_t stride, int64_t pad) : begin(out), end(out) {
    for (int64_t o = 0; o < out; ++o) {
      const int64_t start = o * stride - pad;
      begin[o] = std::max<int64_t>(start, 0);
      end[o] = std::min<int64_t>(start + k, in);
    }
  }
};

// The input cells [y0, y1) x [x0, x1) of one window, within its plane.
struct Window {
  int64_t y0, y1, x0, x1;
  int64_t cells() const { return (y1 - y0) * (x1 - x0); }
};

// Calls visit(plane, out, window) for every window: `plane` is the offset of its input plane
// (p * inH * inW), `out` the index of its output in the whole [batch, channels, outH, outW] buffer.
// Planes are spread over the OpenMP team; within a plane the windows come in row-major order.
template <class Visit>
void forEachWindow(const Pool2dGeometry& g, const Visit& visit) {
  const AxisRanges rows(g.outH, g.inH, g.kernelH, g.strideH, g.padTop);
  const AxisRanges cols(g.outW, g.inW, g.kernelW, g.strideW, g.padLeft);
  const int64_t inPlane = g.inH * g.inW, outPlane = g.outH * g.outW;
#pragma omp parallel for num_threads(planeTeam(g)) schedule(static)
  for (int64_t p = 0; p < g.planes(); ++p)
    for (int64_t oy = 0; oy < g.outH; ++oy)
      for (int64_t ox = 0; ox < g.outW; ++ox)
        visit(p * inPlane, p * outPlane + oy * g.outW + ox,
              Window{rows.begin[oy], rows.end[oy], cols.begin[ox], cols.end[ox]});
}

}  // namespace

void maxPool2dForward(const Pool2dGeometry& g, std::span<const float> x, std::span<float> y,
                      std::span<int32_t> argmax) {
  checkSizes("maxPool2dForward", g, x.size(), y.size());
  SHRINK_ASSERT(argmax.empty() || static_cast<int64_t>(argmax.size()) == g.outputSize(),
                "maxPool2dForward: argmax of {} entries for {} outputs", argmax.size(), g.outputSize());
  const float* xd = x.data();
  float* yd = y.data();
  int32_t* am = argmax.empty() ? nullptr : argmax.data();
  forEachWindow(g, [&](int64_t plane, int64_t out, const Window& w) {
    const float* xp = xd + plane;
    // Selects and flags, not branches (on real activations each comparison is a coin flip); a NaN
    // anywhere in the window becomes the output, so it propagates.
    float best = -std::numeric_limits<float>::infinity();
    int64_t bestAt = w.y0 * g.inW + w.x0;
    bool nan = false;
    for (int64_t iy = w.y0; iy < w.y1; ++iy) {
      const float* row = xp + iy * g.inW;
      for (int64_t ix = w.x0; ix < w.x1; ++ix) {
        const float v = row[ix];
        const bool take = v > best;
        bestAt = take ? iy * g.inW + ix : bestAt;
        best = take ? v : best;
        nan |= v != v;
      }
    }
    yd[out] = nan ? std::numeric_limits<float>::quiet_NaN() : best;
    if (am) am[out] = static_cast<int32_t>(bestAt);
  });
}

void maxPool2dBackward(const Pool2dGeometry& g, std::span<const float> dy, std::span<const int32_t> argmax,
                       std::span<float> dx) {
  checkSizes("maxPool2dBackward", g, dx.size(), dy.size());
  SHRINK_ASSERT(static_cast<int64_t>(argmax.size()) == g.outputSize(),
                "maxPool2dBackward: argmax of {} entries for {} outputs", argmax.size(), g.outputSize());
  const int64_t inPlane = g.inH * g.inW, outPlane = g.outH * g.outW;
  const float* dyd = dy.data();
  const int32_t* am = argmax.data();
  float* dxd = dx.data();
#pragma omp parallel for num_threads(planeTeam(g)) schedule(static)
  for (int64_t p = 0; p < g.planes(); ++p) {
    float* dxp = dxd + p * inPlane;
    const float* dyp = dyd + p * outPlane;
    const int32_t* ap = am + p * outPlane;
    for (int64_t o = 0; o < outPlane; ++o) dxp[ap[o]] += dyp[o];
  }
}

void avgPool2dForward(const Pool2dGeometry& g, std::span<const float> x, std::span<float> y) {
  checkSizes("avgPool2dForward", g, x.size(), y.size());
  const float* xd = x.data();
  float* yd = y.data();
  forEachWindow(g, [&](int64_t plane, int64_t out, const Window& w) {
    const float* xp = xd + plane;
    float s = 0.0f;
    for (int64_t iy = w.y0; iy < w.y1; ++iy) {
      const float* row = xp + iy * g.inW;
      for (int64_t ix = w.x0; ix < w.x1; ++ix) s += row[ix];
    }
    yd[out] = s / static_cast<float>(w.cells());
  });
}

void avgPool2dBackward(const Pool2dGeometry& g, std::span<const float> dy, std::span<float> dx) {
  checkSizes("avgPool2dBackward", g, dx.size(), dy.size());
  const float* dyd = dy.data();
  float* dxd = dx.data();
  forEachWindow(g, [&](int64_t plane, int64_t out, const Window& w) {
    float* dxp = dxd + plane;
    const float share = dyd[out] / static_cast<float>(w.cells());
    for (int64_t iy = w.y0; iy < w.y1; ++iy) {
      float* row = dxp + iy * g.inW;
      for (int64_t ix = w.x0; ix < w.x1; ++ix) row[ix] += share;
    }
  });
}

}  // namespace shrink::kernels
