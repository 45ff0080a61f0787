#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "compress/FakeQuant.h"
#include "compress/Wrapping.h"

namespace shrink {

class BatchNorm;
class Conv2D;

struct ActivationQuantizerOptions {
  int bits = 8;  ///< 2..8; the grid is asymmetric, [0, 2^bits - 1]
  RangeTracking tracking = RangeTracking::MovingAverage;
  RoundingMode rounding = RoundingMode::HalfUp;
};

/// Fake-quantizes what passes through it (any shape) on one range, tracked in training mode and
/// fixed in eval mode: the model's input quantizer, QuantizeWrapper's output quantizer, the output
/// quantizer of a BatchNorm. Buffers "min" and "max" [1] (the tracked range, [-6, 6] at first) and
/// "steps" [1] (training batches seen, or calibration batches: 0 means the range was never set
/// from data). The range used is the tracked one widened to contain 0. With Dynamic tracking each
/// example is quantized on its own range instead (its input needs a batch axis).
class ActivationQuantizer : public Module {
 public:
  using Options = ActivationQuantizerOptions;
  /// Receives the values an ActivationQuantizer sees during calibration.
  using Observer = std::function<void(const Tensor&)>;
  /// Throws std::invalid_argument for bits outside [2, 8].
  explicit ActivationQuantizer(Options options = {});

  /// Training mode: updates the range with this batch (trackActivationRange), then quantizes.
  /// With an observer set: hands the batch to it and returns x unquantized, in either mode.
  Variable forward(const Variable& x) override;
  std::string typeName() const override { return "ActivationQuantizer"; }
  /// {"bits", "range_tracking", "rounding"}
  nlohmann::json config() const override;
  /// The inverse of config().
  static std::unique_ptr<Module> fromConfig(const nlohmann::json& config);

  const Options& options() const { return options_; }
  float min() const { return (*min_)[0]; }
  float max() const { return (*max_)[0]; }
  int64_t steps() const { return static_cast<int64_t>((*steps_)[0]); }

  /// Calibration (PyTorch's observers): while set, forward() passes its input through in float and
  /// hands it to `observer`; an empty function ends it. The range buffers are left alone.
  void setObserver(Observer observer) { observer_ = std::move(observer); }
  /// Sets the range buffers: [min, max] (finite, min <= max) found from `steps` batches (>= 0).
  void setRange(float min, float max, int64_t steps);

 private:
  Options options_;
  Observer observer_;
  Tensor* min_;
  Tensor* max_;
  Tensor* steps_;
};

/// How QuantizeWrapper quantizes one layer; the defaults are tfmot's 8-bit scheme.
struct QuantizeOptions {
  int weightBits = 8;      ///< 2..8
  int activationBits = 8;  ///< 2..8, the output's
  /// One weight range per output channel (axis 0) instead of one per tensor. Unset: per channel
  /// for convolution kernels (rank 4), per tensor otherwise (Dense).
  std::optional<bool> perAxis = std::nullopt;
  /// Weights on a symmetric narrow-range grid: range [-m, m] with m the largest |w|, integers
  /// [-(2^(b-1) - 1), 2^(b-1) - 1], zero point in the middle (int8 [-127, 127], TFLite's weights).
  /// false: the range [min(w, 0), max(w, 0)] on the full grid [0, 2^b - 1].
  bool symmetricWeights = true;
  /// Fake-quantize the layer's output (after its fused activation). quantizeModel turns it off
  /// for a layer whose output goes into a BatchNorm, which gets the quantizer instead.
  bool quantizeOutput = true;
  RangeTracking outputTracking = RangeTracking::MovingAverage;
  /// For weights and output.
  RoundingMode rounding = RoundingMode::HalfUp;
  /// Keep the zeros of a pruned model through training (tfmot's prune-preserving scheme, PQAT): the
  /// entries that are exactly 0 when wrapping (read through earlier transforms) are masked out of
  /// the value that is fake-quantized and so of the gradient; 0 quantizes to exactly 0.
  bool preserveSparsity = false;
};

/// Throws std::invalid_argument naming the field when a bit width is outside [2, 8].
void checkQuantizeOptions(const QuantizeOptions& options);

/// The options of the output quantizer these layer options describe.
ActivationQuantizerOptions outputQuantizerOptions(const QuantizeOptions& options);

/// One weight a QuantizeWrapper fake-quantizes, with its range buffers (shape [1], or [out] per axis).
struct QuantizedWeight {
  std::string name;  ///< the parameter's name inside the wrapped layer, e.g. "weight"
  Parameter* parameter;
  Tensor* min;
  Tensor* max;
  bool perAxis;
  /// With preserveSparsity: "<name>_sparsity_mask" (1 where the weight was non-zero when wrapped,
  /// the weight's shape); else null.
  Tensor* sparsityMask = nullptr;
};

/// tfmot's QuantizeWrapper for quantization-aware training. Owns the wrapped layer (child "layer",
/// a Dense, a Conv2D, or a wrapper of one such as PruneLowMagnitude) and:
/// - for each weight the layer declares through compressibleWeights(), range buffers
///   "<name>_min", "<name>_max" and a fake-quant transform of stage Quantize, so it applies after a
///   pruning mask or cluster gather. The range is the weight's own (tfmot's LastValueQuantizer,
///   lastValueRange): set from the weight when wrapping, recomputed at every training forward of
///   this wrapper, fixed otherwise (eval, value() read elsewhere, strip);
/// - with quantizeOutput, a child "output_quantizer" (ActivationQuantizer) applied to the layer's
///   output.
/// Gradients reach the weights straight through (clipped to the range). No callback is needed.
///
/// Batch normalisation folding (Jacob et al. 2018) for a Conv2D without fused activation followed by
/// a BatchNorm of its channels: the wrapper also owns the BatchNorm (child "batch_norm") and
/// quantizes the folded kernel w * s, s = gamma / sqrt(var + epsilon) per output channel, in a
/// convolution with the folded bias:
///   y = conv(x, fq(w s)) + beta + (b - mean) s, b the convolution's bias (or 0);
/// - training: mean and var are the batch's, from a float pass z = conv(x, w) + b (the BatchNorm's
///   running statistics move as the layer's would): the paper's graph, differentiated as built, so
///   gradients reach w, b, gamma and beta also through the batch statistics;
/// - otherwise (eval, strip): the running statistics: the convolution an int8 kernel runs after
///   folding.
class QuantizeWrapper : public LayerWrapper {
 public:
  using Options = QuantizeOptions;
  /// Throws std::invalid_argument when the layer declares no weights, is already a QuantizeWrapper,
  /// or the options are invalid (bits outside [2, 8], perAxis on a scalar weight).
  QuantizeWrapper(std::unique_ptr<Module> layer, Options options);
  /// Folds `batchNorm` into `conv`. Also throws when the convolution has a fused activation or the
  /// BatchNorm's features are not its filters.
  QuantizeWrapper(std::unique_ptr<Conv2D> conv, std::unique_ptr<BatchNorm> batchNorm, Options options);
  ~QuantizeWrapper() override;

  Variable forward(const Variable& x) override;
  std::string typeName() const override { return "QuantizeWrapper"; }
  /// {"layer": architecture of the wrapped layer[, "batch_norm": that of the folded BatchNorm],
  ///  "weight_bits", "activation_bits"[, "per_axis"], "symmetric_weights", "quantize_output",
  ///  "output_tracking", "rounding", "preserve_sparsity"}
  nlohmann::json config() const override;
  /// The inverse of config().
  static std::unique_ptr<Module> fromConfig(const nlohmann::json& config);

  /// Null without output quantization.
  ActivationQuantizer* outputQuantizer() { return outputQuantizer_; }
  /// The BatchNorm folded into the convolution; null without folding.
  BatchNorm* foldedBatchNorm() { return batchNorm_; }
  const Options& options() const { return options_; }
  const std::vector<QuantizedWeight>& quantizedWeights() const { return weights_; }

  /// What strip takes out of the wrapper.
  struct Released {
    std::unique_ptr<Module> layer;
    std::unique_ptr<Module> outputQuantizer;  ///< null without output quantization
  };
  /// For strip: writes each weight's fake-quantized value (stored ranges) into its leaf, detaches
  /// the quantize transforms (earlier ones, such as a pruning mask, stay: a masked entry quantizes to
  /// exactly 0) and gives up the layer and the output quantizer. The wrapper must then be discarded.
  /// With folding, the layer is a Conv2D with bias holding the folded kernel and bias of eval mode,
  /// and the BatchNorm is gone.
  Released release();

 private:
  class WeightQuantizer;

  Variable foldedForward(const Variable& x);
  /// gamma / sqrt(running_var + epsilon), [C].
  Variable runningFoldScale() const;
  /// beta + (b - mean) * scale, [C]: the folded bias for a channel mean and fold scale.
  Variable foldedBias(const Variable& mean, const Variable& scale);
  /// The weight as the fake-quantizer sees it: w, or w * s per output channel with folding (the
  /// scale of the current forward, else the running one).
  Variable toQuantize(const Variable& w) const;
  /// Sets each weight range from the weight to quantize (wrapping, folding).
  void resetWeightRanges();

  Options options_;
  ActivationQuantizer* outputQuantizer_ = nullptr;
  BatchNorm* batchNorm_ = nullptr;
  /// True only inside forward() in training mode: when the weight ranges follow the weights.
  bool trackingWeights_ = false;
  /// True during the float pass of folding in training: the transforms pass the weights through.
  bool floatWeights_ = false;
  /// The fold scale of the forward under way (undefined outside forward()).
  Variable foldScale_;
  std::vector<QuantizedWeight> weights_;
  std::vector<std::unique_ptr<WeightQuantizer>> transforms_;
};

}  // namespace shrink
