#pragma once

#include <cstdint>
#include <span>
#include <string>

#include "core/Variable.h"

namespace shrink {

/// How a value halfway between two grid points is rounded.
enum class RoundingMode {
  /// Towards +infinity: floor(v + 0.5), TensorFlow's FakeQuantWithMinMaxVars.
  HalfUp,
  /// To the even integer of x / scale, PyTorch's fake_quantize (std::nearbyint).
  HalfEven,
};

/// "half_up" | "half_even" (architecture files, the CLI).
std::string roundingModeName(RoundingMode mode);
RoundingMode parseRoundingMode(const std::string& name);

/// Throws std::invalid_argument naming `what` and the value unless 2 <= bits <= 8.
void checkQuantBits(int bits, const char* what);

struct FakeQuantOptions {
  int bits = 8;  ///< 2..8
  /// Integer grid [1, 2^bits - 1] instead of [0, 2^bits - 1] (symmetric int8 weights: [-127, 127]).
  bool narrowRange = false;
  RoundingMode rounding = RoundingMode::HalfUp;
};

/// The grid TensorFlow derives from a range [min, max]: with qmin = narrowRange ? 1 : 0 and
/// qmax = 2^bits - 1, scale = (max - min) / (qmax - qmin), and the zero point
/// qmin - min / scale clamped to [qmin, qmax] and rounded half away from zero, so that real 0 is
/// exactly a grid point. The grid is min + k * scale, k = 0 .. qmax - qmin.
/// min == max gives the one-point grid {min} (scale 0).
struct QuantGrid {
  float min = 0;    ///< nudged: (qmin - zeroPoint) * scale
  float max = 0;    ///< nudged: (qmax - zeroPoint) * scale
  float scale = 0;
  float zeroPoint = 0;  ///< an integer in [qmin, qmax]
};
/// Requires finite min <= max; the options' bits must be valid.
QuantGrid nudgedGrid(float min, float max, const FakeQuantOptions& options);

/// Fake quantization, TensorFlow's FakeQuantWithMinMaxVars(PerChannel) with axis 0 as the channel
/// axis (the output channel of Dense [out, in] and Conv2D [out, in, kh, kw] kernels):
/// k = round((clamp(x, gmin, gmax) - gmin) / scale) on the nudgedGrid of each range, rounded as
/// options.rounding says, and y = (k + qmin - zeroPoint) * scale, the value int8 inference
/// dequantizes (TensorFlow writes k * scale + gmin, equal up to float rounding; ours keeps 0 exact).
/// `min`, `max`: one value (one range for the whole tensor) or x.dim(0) values (one range per slice
/// x[c]); finite, min <= max. Ranges need not contain 0: the grid is nudged to contain it.
/// Backward: straight-through with clipping, dL/dx = dL/dy where gmin <= x <= gmax (inclusive), else
/// 0. The ranges get no gradient (they are tracked, not learned); the grids are captured at forward.
/// NaN inputs map to the grid's min.
Variable fakeQuant(const Variable& x, std::span<const float> min, std::span<const float> max,
                   const FakeQuantOptions& options = {});

/// How an activation range follows the values seen in training.
enum class RangeTracking {
  /// tfmot's MovingAverageQuantizer: the range starts at [-6, 6]; every batch the batch range,
  /// widened to contain 0, is averaged in: r <- r - 0.001 (r - batch), no zero-debiasing (early
  /// steps stay close to the initial range).
  MovingAverage,
  /// PyTorch's MovingAverageMinMaxObserver: the first batch sets the range, later batches are
  /// averaged in: r <- r + 0.01 (batch - r). The tracked range is the raw one; 0 is added when
  /// quantizing.
  FirstBatchMovingAverage,
  /// No stored range: every example of a batch (slice along axis 0) is quantized on its own range
  /// [min(x, 0), max(x, 0)], in training and evaluation alike, the on-the-fly input quantization of
  /// TFLite's dynamic-range (hybrid) kernels. Tracking keeps the last batch's range, for information.
  Dynamic,
};

/// "moving_average" | "first_batch_moving_average" | "dynamic".
std::string rangeTrackingName(RangeTracking tracking);
RangeTracking parseRangeTracking(const std::string& name);

/// The initial activation range, tfmot's [-6, 6].
inline constexpr float kInitialActivationRange = 6.0f;

/// One training step of an activation range: updates min, max (one value each) and steps (the
/// number of batches seen, as a float) from the batch `x` (any shape, not empty). Dynamic: min and
/// max become the batch's.
void trackActivationRange(const Tensor& x, RangeTracking tracking, float& min, float& max, float& steps);

/// tfmot's LastValueQuantizer: the range of weight `w` itself, widened to contain 0; per tensor
/// (min, max hold one value) or per slice along axis 0 (min, max hold w.dim(0) values). Symmetric:
/// [-m, m] with m = max(|min|, |max|), the range of a narrow-range grid with zero point at its
/// middle (int8 [-127, 127]).
void lastValueRange(const Tensor& w, bool symmetric, std::span<float> min, std::span<float> max);

}  // namespace shrink
