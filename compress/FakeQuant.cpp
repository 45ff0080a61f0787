#include "compress/FakeQuant.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "core/Check.h"

namespace shrink {

namespace {

/// tfmot's moving-average rate, 1 - decay with decay 0.999, taken to float as TensorFlow does.
constexpr float kMovingAverageRate = static_cast<float>(1.0 - 0.999);
/// PyTorch MovingAverageMinMaxObserver's averaging constant.
constexpr float kObserverAveraging = 0.01f;

/// y = (k + qmin - zeroPoint) * scale with k = round((clamp(x) - g.min) / scale) rounded half up:
/// the integer grid index k found as TensorFlow does, the value as int8 inference dequantizes it
/// (so real 0 comes out exactly 0). The scaled value is >= 0, so the truncating int conversion is
/// the floor and the loop vectorises.
void quantizeHalfUp(const float* x, float* y, int64_t n, const QuantGrid& g, float qmin) {
  const float lo = g.min, hi = g.max, scale = g.scale, offset = qmin - g.zeroPoint;
  for (int64_t i = 0; i < n; ++i) {
    const float c = std::min(std::max(lo, x[i]), hi);
    y[i] = (static_cast<float>(static_cast<int32_t>((c - lo) / scale + 0.5f)) + offset) * scale;
  }
}

/// The same, rounding ties to the even integer of x / scale = k + offset: when the offset is odd,
/// k rounds to even after a shift by one.
void quantizeHalfEven(const float* x, float* y, int64_t n, const QuantGrid& g, float qmin) {
  const float lo = g.min, hi = g.max, scale = g.scale, offset = qmin - g.zeroPoint;
  const float shift = std::fmod(std::fabs(offset), 2.0f);
  for (int64_t i = 0; i < n; ++i) {
    const float c = std::min(std::max(lo, x[i]), hi);
    y[i] = (std::nearbyint((c - lo) / scale + shift) - shift + offset) * scale;
  }
}

/// gx += g where lo <= x <= hi.
void passInside(const float* x, const float* g, float* gx, int64_t n, float lo, float hi) {
  for (int64_t i = 0; i < n; ++i) gx[i] += (x[i] >= lo && x[i] <= hi) ? g[i] : 0.0f;
}

float gridMin(const FakeQuantOptions& o) { return o.narrowRange ? 1.0f : 0.0f; }

}  // namespace

std::string roundingModeName(RoundingMode mode) { return mode == RoundingMode::HalfEven ? "half_even" : "half_up"; }

RoundingMode parseRoundingMode(const std::string& name) {
  if (name == "half_up") return RoundingMode::HalfUp;
  if (name == "half_even") return RoundingMode::HalfEven;
  throw std::invalid_argument(fmt::format("rounding mode must be 'half_up' or 'half_even', got '{}'", name));
}

void checkQuantBits(int bits, const char* what) {
  SHRINK_CHECK(bits >= 2 && bits <= 8, "{}: quantization bits must be in [2, 8], got {}", what, bits);
}

QuantGrid nudgedGrid(float min, float max, const FakeQuantOptions& options) {
  checkQuantBits(options.bits, "fakeQuant");
  SHRINK_CHECK(std::isfinite(min) && std::isfinite(max) && min <= max,
               "fakeQuant: a range must be finite with min <= max, got [{}, {}]", min, max);
  const float qmin = gridMin(options);
  const float qmax = static_cast<float>((1 << options.bits) - 1);
  if (min == max) return {.min = min, .max = max, .scale = 0.0f, .zeroPoint = qmin};
  const float scale = (max - min) / (qmax - qmin);
  const float fromMin = qmin - min / scale;
  const float zeroPoint = fromMin < qmin ? qmin : fromMin > qmax ? qmax : std::round(fromMin);
  return {.min = (qmin - zeroPoint) * scale, .max = (qmax - zeroPoint) * scale, .scale = scale, .zeroPoint = zeroPoint};
}

Variable fakeQuant(const Variable& x, std::span<const float> min, std::span<const float> max,
                   const FakeQuantOptions& options) {
  SHRINK_CHECK(x.defined(), "fakeQuant: undefined input");
  const Shape& s = x.shape();
  const int64_t channels = static_cast<int64_t>(min.size());
  SHRINK_CHECK(min.size() == max.size(), "fakeQuant: {} min values but {} max values", min.size(), max.size());
  SHRINK_CHECK(channels == 1 || (s.rank() >= 1 && channels == s[0]),
               "fakeQuant: expected 1 range or one per slice along axis 0 of input {}, got {}", s.str(), channels);
  std::vector<QuantGrid> grids(static_cast<size_t>(channels));
  for (int64_t c = 0; c < channels; ++c) grids[c] = nudgedGrid(min[c], max[c], options);

  const int64_t inner = channels == 0 ? 0 : x.numel() / channels;
  Tensor out(s);
  const float* xv = x.value().data();
  for (int64_t c = 0; c < channels; ++c) {
    const QuantGrid& g = grids[c];
    float* y = out.data() + c * inner;
    if (g.scale == 0.0f)
      std::fill(y, y + inner, g.min);
    else if (options.rounding == RoundingMode::HalfUp)
      quantizeHalfUp(xv + c * inner, y, inner, g, gridMin(options));
    else
      quantizeHalfEven(xv + c * inner, y, inner, g, gridMin(options));
  }
  return Variable::fromOp(
      std::move(out), {x},
      [grids = std::move(grids), inner](std::vector<Variable>& in, const Tensor& gradOut, const Tensor&) {
        if (!in[0].requiresGrad()) return;
        const float* xs = in[0].value().data();
        float* gx = in[0].gradBuffer().data();
        for (size_t c = 0; c < grids.size(); ++c) {
          const int64_t at = static_cast<int64_t>(c) * inner;
          passInside(xs + at, gradOut.data() + at, gx + at, inner, grids[c].min, grids[c].max);
        }
      },
      "fakeQuant");
}

std::string rangeTrackingName(RangeTracking tracking) {
  switch (tracking) {
    case RangeTracking::MovingAverage: return "moving_average";
    case RangeTracking::FirstBatchMovingAverage: return "first_batch_moving_average";
    case RangeTracking::Dynamic: return "dynamic";
  }
  throw std::logic_error("rangeTrackingName: unknown RangeTracking");
}

RangeTracking parseRangeTracking(const std::string& name) {
  if (name == "moving_average") return RangeTracking::MovingAverage;
  if (name == "first_batch_moving_average") return RangeTracking::FirstBatchMovingAverage;
  if (name == "dynamic") return RangeTracking::Dynamic;
  throw std::invalid_argument(fmt::format(
      "range tracking must be 'moving_average', 'first_batch_moving_average' or 'dynamic', got '{}'", name));
}

void trackActivationRange(const Tensor& x, RangeTracking tracking, float& min, float& max, float& steps) {
  SHRINK_CHECK(x.numel() > 0, "trackActivationRange: empty batch {}", x.shape().str());
  const float batchMin = x.array().minCoeff();
  const float batchMax = x.array().maxCoeff();
  if (tracking == RangeTracking::MovingAverage) {
    min -= (min - std::min(batchMin, 0.0f)) * kMovingAverageRate;
    max -= (max - std::max(batchMax, 0.0f)) * kMovingAverageRate;
  } else if (tracking == RangeTracking::Dynamic || steps == 0.0f) {
    min = batchMin;
    max = batchMax;
  } else {
    min += kObserverAveraging * (batchMin - min);
    max += kObserverAveraging * (batchMax - max);
  }
  steps += 1.0f;
}

void lastValueRange(const Tensor& w, bool symmetric, std::span<float> min, std::span<float> max) {
  const int64_t channels = static_cast<int64_t>(min.size());
  SHRINK_CHECK(min.size() == max.size() && (channels == 1 || (w.rank() >= 1 && channels == w.dim(0))),
               "lastValueRange: expected 1 range or one per slice along axis 0 of weight {}, got {} and {} values",
               w.shape().str(), min.size(), max.size());
  const int64_t inner = channels == 0 ? 0 : w.numel() / channels;
  for (int64_t c = 0; c < channels; ++c) {
    const ConstArrayMap slice(w.data() + c * inner, inner);
    float lo = inner == 0 ? 0.0f : std::min(slice.minCoeff(), 0.0f);
    float hi = inner == 0 ? 0.0f : std::max(slice.maxCoeff(), 0.0f);
    if (symmetric) {
      hi = std::max(-lo, hi);
      lo = -hi;
    }
    min[c] = lo;
    max[c] = hi;
  }
}

}  // namespace shrink
