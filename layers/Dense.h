#pragma once

#include <cstdint>
#include <optional>

#include "core/Init.h"
#include "core/Module.h"
#include "core/Random.h"
#include "layers/Activations.h"

namespace shrink {

struct DenseOptions {
  int64_t in = 0;   // input features (required)
  int64_t out = 0;  // output features (required)
  bool useBias = true;
  Activation activation = Activation::None;
  Initializer init = Initializer::GlorotUniform;  // the kernel's; the bias starts at zero
  /// The kernel is drawn from Generator(*seed) when a seed is given, else from `*generator`, else
  /// from defaultGenerator().
  std::optional<uint64_t> seed = std::nullopt;
  Generator* generator = nullptr;
};

/// Fully connected layer: y = activation(x W^T + b).
/// x [N, in] -> [N, out]. Parameters "weight" [out, in] and (with useBias) "bias" [out].
class Dense : public Module {
 public:
  using Options = DenseOptions;
  explicit Dense(Options options);

  Variable forward(const Variable& x) override;
  std::string typeName() const override { return "Dense"; }
  /// {"in", "out", "use_bias", "activation", "kernel_initializer"[, "seed"]}
  nlohmann::json config() const override;
  /// The kernel only.
  std::vector<Parameter*> compressibleWeights() override { return {weight_}; }

  Parameter& weight() { return *weight_; }
  /// Null without bias.
  Parameter* bias() { return bias_; }
  const Options& options() const { return options_; }

 private:
  Options options_;
  Parameter* weight_;
  Parameter* bias_ = nullptr;
};

}  // namespace shrink
