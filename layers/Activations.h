#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "core/Module.h"
#include "layers/Config.h"

namespace shrink {

/// An activation fused into a layer (Keras' `activation=` argument on Dense and Conv2D); the layer
/// applies it to its output, so quantization later sees the activated values.
/// LeakyReLU uses slope 0.3 (Keras' LeakyReLU default); Softmax runs over the last axis.
enum class Activation { None, ReLU, LeakyReLU, Sigmoid, Tanh, Softmax };

/// "linear" (None, as Keras) | "relu" | "leaky_relu" | "sigmoid" | "tanh" | "softmax".
std::string activationName(Activation a);
/// The inverse of activationName; also accepts "none" and "" for None.
Activation parseActivation(const std::string& name);
/// `a` applied to x (any shape); None returns x itself.
Variable applyActivation(Activation a, const Variable& x);

/// max(x, 0), elementwise; any shape.
class ReLU : public Module {
 public:
  using Options = NoOptions;
  explicit ReLU(Options = {}) {}
  Variable forward(const Variable& x) override;
  std::string typeName() const override { return "ReLU"; }
};

struct LeakyReLUOptions {
  float alpha = 0.3f;  // Keras' default; PyTorch's is 0.01
};

/// x where x > 0, else alpha * x; any shape.
class LeakyReLU : public Module {
 public:
  using Options = LeakyReLUOptions;
  explicit LeakyReLU(Options options = {});
  Variable forward(const Variable& x) override;
  std::string typeName() const override { return "LeakyReLU"; }
  /// {"alpha": ...}
  nlohmann::json config() const override;
  float alpha() const { return alpha_; }

 private:
  float alpha_;
};

/// 1 / (1 + exp(-x)), elementwise; any shape.
class Sigmoid : public Module {
 public:
  using Options = NoOptions;
  explicit Sigmoid(Options = {}) {}
  Variable forward(const Variable& x) override;
  std::string typeName() const override { return "Sigmoid"; }
};

/// tanh(x), elementwise; any shape.
class Tanh : public Module {
 public:
  using Options = NoOptions;
  explicit Tanh(Options = {}) {}
  Variable forward(const Variable& x) override;
  std::string typeName() const override { return "Tanh"; }
};

/// Softmax over the last axis: [N, K] -> [N, K], rows summing to 1.
class Softmax : public Module {
 public:
  using Options = NoOptions;
  explicit Softmax(Options = {}) {}
  Variable forward(const Variable& x) override;
  std::string typeName() const override { return "Softmax"; }
};

}  // namespace shrink
