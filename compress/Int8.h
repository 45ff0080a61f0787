#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "compress/FakeQuant.h"
#include "core/Archive.h"
#include "core/Functions.h"
#include "core/Module.h"
#include "core/Tensor.h"
#include "core/kernels/Int8Gemm.h"

namespace shrink {

/// The integer grid of an activation: real = scale * (q - zeroPoint), q a uint8 in [0, qmax]
/// (qmax = 2^bits - 1): the grid of shrink's activation fake-quant (nudgedGrid of the tracked range
/// widened to contain 0), so real 0 is the integer zeroPoint.
struct Int8Grid {
  float scale = 1;
  int32_t zeroPoint = 0;
  int32_t qmax = 255;
};

enum class Int8OpType {
  Quantize,  ///< float input -> uint8 on `out` (the model's input quantizer)
  Dense,     ///< uint8 [N, in] -> uint8 [N, out]
  Conv2D,    ///< uint8 [N, C, H, W] -> uint8 [N, F, OH, OW] (im2col on uint8, padding = the zero point)
  MaxPool,   ///< the maximum of the uint8 values of each window (same grid)
  AvgPool,   ///< the int32 window sum divided by the cell count, rounded half up (same grid)
  Flatten,   ///< [N, ...] -> [N, rest]
  Clamp,     ///< a ReLU layer: max(q, zeroPoint) on the current grid
  /// A BatchNorm and its output quantizer: uint8 [N, C, ...] -> uint8 on a new grid, per channel
  /// acc = (q - in.zeroPoint) * w[c] + bias[c] with one weight [C, 1] per channel, requantized.
  ChannelAffine,
};

/// "quantize" | "dense" | "conv2d" | "max_pool" | "avg_pool" | "flatten" | "clamp" | "channel_affine".
std::string int8OpTypeName(Int8OpType type);
/// The inverse; std::invalid_argument for an unknown name.
Int8OpType parseInt8OpType(const std::string& name);

/// One integer op of an Int8Model. Dense and Conv2D compute, per output channel c,
///   acc = sum (q_in - in.zeroPoint) * w + bias[c]                (int32)
///   q_out = clamp(out.zeroPoint + acc * M[c], clampMin, clampMax)  (M[c] = in.scale * weightScale[c] / out.scale
/// as an int32 fixed-point multiplier and shift, kernels::multiplyByQuantizedMultiplier), where the
/// clamp range is the fused activation on the output grid (none: [0, qmax]; ReLU: [zeroPoint, qmax]).
struct Int8Op {
  Int8OpType type = Int8OpType::Flatten;
  std::string name;  ///< the layer it was converted from
  Int8Grid in;       ///< the grid of the input (all but Quantize)
  Int8Grid out;      ///< the grid of the output; equal to `in` for the pooling, Flatten and Clamp ops
  RoundingMode rounding = RoundingMode::HalfUp;  ///< Quantize: as the fake-quant it replaces

  // Dense, Conv2D and ChannelAffine.
  Shape weightShape;                ///< [out, in], [out, in, kh, kw] or [channels, 1]
  std::vector<int8_t> weight;       ///< symmetric, zero point 0, in [-127, 127]
  std::vector<float> weightScale;   ///< one per output channel
  std::vector<int32_t> bias;        ///< round(b / (in.scale * weightScale[c])), one per output channel
  int32_t clampMin = 0;
  int32_t clampMax = 255;
  Conv2dOptions conv;  ///< Conv2D
  Pool2dOptions pool;  ///< MaxPool, AvgPool

  // Derived from the above by prepare().
  std::vector<int32_t> rowSums;  ///< sum of each output channel's weights (zero-point term)
  std::vector<kernels::QuantizedMultiplier> multipliers;
  /// Fills rowSums and multipliers; std::invalid_argument when the fields are inconsistent.
  void prepare();
};

/// A model that runs in integer arithmetic: uint8 activations, int8 weights, int32 accumulators
/// and biases, fixed-point requantization (TFLite's scheme). Float only at the two ends: the
/// input is quantized on the input quantizer's grid and the last op's output is dequantized.
/// Built by convertToInt8 or read back with load.
class Int8Model {
 public:
  Int8Model() = default;
  explicit Int8Model(std::vector<Int8Op> ops);

  /// float input [N, ...] -> dequantized output [N, ...] of the last op, in batches of batchSize
  /// examples (std::invalid_argument for a shape an op cannot take). Batches are spread over
  /// shrink's threads (numThreads()).
  Tensor predict(const Tensor& floatInput, int64_t batchSize = 256) const;

  const std::vector<Int8Op>& ops() const { return ops_; }
  /// One line per op: type, name, weight shape, grids.
  std::string summary() const;

  /// The archive save writes: metadata {"format": "shrink-int8", "version": 1, "ops": [...]} (the
  /// ops' types, names, grids, clamp ranges and options) and per weighted op i the entries
  /// "ops.<i>.weight" (int8), "ops.<i>.bias" (int32) and "ops.<i>.weight_scale" (float32).
  Archive toArchive() const;
  /// The inverse; std::runtime_error naming `what` for an archive that is not an int8 model or is
  /// inconsistent.
  static Int8Model fromArchive(const Archive& archive, const std::string& what);
  /// Whether the archive's metadata says it holds an int8 model.
  static bool isInt8Archive(const Archive& archive);

  /// core/Archive: versioned, zlib-compressed, checksummed, written atomically.
  void save(const std::string& path) const;
  /// std::runtime_error naming the path for a missing, foreign or corrupt file.
  static Int8Model load(const std::string& path);
  /// The size save writes, in bytes.
  int64_t fileBytes() const;

 private:
  std::vector<Int8Op> ops_;
};

/// Converts a model prepared by quantizeModel and trained (QAT) or calibrated (eval mode; the
/// model is copied, not changed) into an Int8Model whose integer outputs reproduce the fake-quant
/// model's: int8 weights are the fake-quant grid indices of each weight (per tensor for Dense, per
/// output channel for Conv2D, symmetric narrow range), biases are rounded to the accumulator scale
/// in.scale * weightScale, output grids are the nudged grids of the output quantizers; a BatchNorm
/// folded into its convolution (QuantizeScheme::foldBatchNorm) is converted with its running
/// statistics. A weight channel that is all zeros (scale 0) gets weight scale 1.
///
/// Runs: the input quantizer (first layer), QuantizeWrappers of Dense and Conv2D (possibly around
/// a pruning wrapper) with no or a ReLU activation and an output quantizer, a BatchNorm on
/// quantized values followed by its output quantizer (quantizeModel's "<name>_quantizer", running
/// statistics), MaxPool2D, AvgPool2D, Flatten, ReLU and Dropout (identity) layers, in nested
/// Sequentials too. A BatchNorm left in float after a layer without output quantizer is refused.
/// Throws std::invalid_argument: for a model with no QuantizeWrapper; for an activation quantizer
/// that has seen no batch ("int8 conversion of a model that was never calibrated or trained");
/// for a layer or fused activation it cannot run, naming it; for asymmetric weights or a missing
/// input quantizer.
Int8Model convertToInt8(const Module& quantizedModel);

}  // namespace shrink
