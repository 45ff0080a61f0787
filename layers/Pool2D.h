#pragma once

#include "core/Functions.h"
#include "core/Module.h"

namespace shrink {

/// Shared by MaxPool2D and AvgPool2D: options, checks and config.
/// x [N, C, H, W] -> [N, C, OH, OW]; no parameters. Strides of 0 mean "equal to the kernel" (Keras).
class Pool2D : public Module {
 public:
  using Options = Pool2dOptions;
  /// {"pool_size": [kh, kw], "strides": [sh, sw], "padding"}; the strides are the resolved ones.
  nlohmann::json config() const override;
  const Options& options() const { return options_; }

 protected:
  Pool2D(Options options, const char* type);
  /// Checks that x is 4-D NCHW and large enough; `type` names the layer in the message.
  void checkInput(const Variable& x) const;
  Options options_;

 private:
  const char* type_;
};

/// The maximum of each window.
class MaxPool2D : public Pool2D {
 public:
  explicit MaxPool2D(Options options = {}) : Pool2D(options, "MaxPool2D") {}
  Variable forward(const Variable& x) override;
  std::string typeName() const override { return "MaxPool2D"; }
};

/// The mean of each window (padded cells not counted).
class AvgPool2D : public Pool2D {
 public:
  explicit AvgPool2D(Options options = {}) : Pool2D(options, "AvgPool2D") {}
  Variable forward(const Variable& x) override;
  std::string typeName() const override { return "AvgPool2D"; }
};

}  // namespace shrink
