#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "compress/FakeQuant.h"
#include "compress/Wrapping.h"
#include "core/Random.h"

namespace shrink {

/// The two flavours of Quant-Noise (Fan, Stock et al., ICLR 2021).
enum class QuantNoiseKind {
  /// Each training forward fake-quantizes a random fraction p of the weights (straight-through,
  /// clipped) and passes the others unchanged; evaluation is fully quantized.
  Scalar,
  /// The product-quantization proxy: blocks of the weight are dropped with probability p and the
  /// kept ones scaled by 1 / (1 - p); evaluation sees the weights unchanged.
  Block,
};

/// "scalar" | "block".
std::string quantNoiseKindName(QuantNoiseKind kind);
QuantNoiseKind parseQuantNoiseKind(const std::string& name);

struct QuantNoiseOptions {
  QuantNoiseKind kind = QuantNoiseKind::Scalar;
  /// Scalar: the fraction quantized per forward, in [0, 1] (1 = full quantization-aware training).
  /// Block: the drop probability, in [0, 1).
  double p = 0.1;
  /// Scalar: the weights' grid, 2..8 bits, symmetric narrow range on the weight's own range
  /// (per output channel for convolution kernels, per tensor otherwise).
  int bits = 8;
  RoundingMode rounding = RoundingMode::HalfUp;
  /// Block: a block is `blockSize` contiguous input weights of one output row (Dense; 1x1 Conv2D
  /// along its input channels), or, for a kh x kw Conv2D kernel, the whole kernel of one
  /// (output, input) pair. As fairseq, the input width (kh * kw for a k x k kernel) must be a
  /// multiple of blockSize.
  int64_t blockSize = 8;
  /// The noise of training forward t is drawn from Generator(seed, t), t counted in the buffer
  /// "noise_step", so a saved and resumed run draws the same noise.
  uint64_t seed = 0;
};

/// Quant-Noise as a wrapper around a Dense or Conv2D layer (or a wrapper of one, such as
/// PruneLowMagnitude): each weight the layer declares gets a transform of stage Quantize that adds
/// the noise during this wrapper's training forwards only. Unlike fairseq, the stored weights are
/// never modified: the noise lives in the forward value, so the optimizer updates the real weights.
/// Buffer "noise_step" [1] counts the training forwards (as a float: exact to 2^24).
class QuantNoiseWrapper : public LayerWrapper {
 public:
  using Options = QuantNoiseOptions;
  /// Throws std::invalid_argument when the layer declares no weights, p or bits are out of range,
  /// blockSize < 1, or (Block) a weight's input width is not a multiple of blockSize.
  QuantNoiseWrapper(std::unique_ptr<Module> layer, Options options);
  ~QuantNoiseWrapper() override;

  Variable forward(const Variable& x) override;
  std::string typeName() const override { return "QuantNoiseWrapper"; }
  /// {"layer": ..., "kind", "p", "bits", "rounding", "block_size", "seed"}
  nlohmann::json config() const override;
  static std::unique_ptr<Module> fromConfig(const nlohmann::json& config);

  const Options& options() const { return options_; }
  int64_t noiseStep() const { return static_cast<int64_t>((*noiseStep_)[0]); }

  /// For strip: bakes the evaluation value of each weight (fully quantized for Scalar, unchanged
  /// for Block) into its leaf, detaches the transforms and gives up the wrapped layer.
  std::unique_ptr<Module> releaseLayer();

 private:
  class NoiseTransform;

  Options options_;
  bool noisy_ = false;  ///< inside this wrapper's training forward
  Tensor* noiseStep_;
  std::vector<NamedWeight> weights_;
  std::vector<std::unique_ptr<NoiseTransform>> transforms_;
};

/// Quantizes a fraction p of `w`'s entries, chosen by `keep` (1 = quantize, w's shape), with the
/// fake-quant of `options` on the range [min, max] (one value, or w.dim(0) values), the rest passed
/// through: y = w + keep * (fakeQuant(w) - w), straight-through (clipped) for the quantized entries.
Variable scalarQuantNoise(const Variable& w, const Tensor& keep, std::span<const float> min,
                          std::span<const float> max, const FakeQuantOptions& options);

/// The element mask of block noise for a weight of `shape` ([out, in] or [out, in, kh, kw]): each
/// block kept with probability 1 - p (value 1) or dropped (value 0), drawn from `gen`. Blocks as in
/// QuantNoiseOptions::blockSize.
Tensor blockNoiseMask(const Shape& shape, int64_t blockSize, double p, Generator& gen);

/// Wraps every Dense/Conv2D of `model` (nested Sequentials included; layers already wrapped for
/// pruning count) in a QuantNoiseWrapper. Returns the number wrapped; none is an error.
/// stripQuantNoiseInPlace (compress/Strip.h) removes them.
int quantNoiseModel(Sequential& model, const QuantNoiseOptions& options);

}  // namespace shrink
