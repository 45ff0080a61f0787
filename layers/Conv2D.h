#pragma once

#include <cstdint>
#include <optional>

#include "core/Functions.h"
#include "core/Init.h"
#include "core/Module.h"
#include "core/Random.h"
#include "layers/Activations.h"

namespace shrink {

/// A (height, width) pair: kernel sizes and strides, written `{5, 5}`.
struct Size2D {
  int64_t h = 0;
  int64_t w = 0;
};

struct Conv2DOptions {
  int64_t in = 0;    // input channels (required)
  int64_t out = 0;   // filters (required)
  Size2D kernel = {};  // (required)
  Size2D stride = {1, 1};
  Padding padding = Padding::Valid;  // Same: TensorFlow's, output ceil(in / stride)
  bool useBias = true;
  /// Any but Softmax (in NCHW the last axis is the width, so a fused softmax would be meaningless).
  Activation activation = Activation::None;
  Initializer init = Initializer::GlorotUniform;  // the kernel's; the bias starts at zero
  /// As DenseOptions: Generator(*seed), else `*generator`, else defaultGenerator().
  std::optional<uint64_t> seed = std::nullopt;
  Generator* generator = nullptr;
};

/// 2-D convolution (cross-correlation, as every framework) with an optional fused activation.
/// x [N, in, H, W] -> [N, out, OH, OW]. Parameters "weight" [out, in, kh, kw] and (with useBias)
/// "bias" [out].
class Conv2D : public Module {
 public:
  using Options = Conv2DOptions;
  explicit Conv2D(Options options);

  Variable forward(const Variable& x) override;
  std::string typeName() const override { return "Conv2D"; }
  /// {"in", "out", "kernel_size": [kh, kw], "strides": [sh, sw], "padding", "use_bias", "activation",
  ///  "kernel_initializer"[, "seed"]}
  nlohmann::json config() const override;
  /// The kernel only.
  std::vector<Parameter*> compressibleWeights() override { return {weight_}; }

  Parameter& weight() { return *weight_; }
  /// Null without bias.
  Parameter* bias() { return bias_; }
  const Options& options() const { return options_; }
  /// The conv2d op's options for this layer's strides and padding.
  Conv2dOptions opOptions() const;

 private:
  Options options_;
  Parameter* weight_;
  Parameter* bias_ = nullptr;
};

}  // namespace shrink
