#pragma once

#include <cstdint>

#include "core/Functions.h"
#include "core/Module.h"

namespace shrink {

/// The layer's options (core's BatchNormOptions is the op's: momentum and epsilon only).
struct BatchNormLayerOptions {
  int64_t features = 0;  // F of [N, F], or C of [N, C, H, W] (required)
  float momentum = 0.99f;
  float epsilon = 1e-3f;
};

/// Batch normalisation over axis 1 (Keras' BatchNormalization, PyTorch's BatchNorm1d/2d):
/// y = gamma (x - mean) / sqrt(var + epsilon) + beta, per feature / channel.
/// Training mode normalises with the batch statistics and updates the running ones
/// (running = momentum * running + (1 - momentum) * batch); eval mode uses the running ones.
/// x [N, F] or [N, F, H, W] -> same shape. Parameters "gamma" [F] (ones), "beta" [F] (zeros);
/// buffers "running_mean" [F] (zeros), "running_var" [F] (ones).
class BatchNorm : public Module {
 public:
  using Options = BatchNormLayerOptions;
  explicit BatchNorm(Options options);

  Variable forward(const Variable& x) override;
  std::string typeName() const override { return "BatchNorm"; }
  /// {"features", "momentum", "epsilon"}
  nlohmann::json config() const override;

  Parameter& gamma() { return *gamma_; }
  Parameter& beta() { return *beta_; }
  Tensor& runningMean() { return *runningMean_; }
  Tensor& runningVar() { return *runningVar_; }
  const Options& options() const { return options_; }

 private:
  Options options_;
  Parameter* gamma_;
  Parameter* beta_;
  Tensor* runningMean_;
  Tensor* runningVar_;
};

}  // namespace shrink
