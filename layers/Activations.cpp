#include "layers/Activations.h"

#include <cmath>

#include "core/Check.h"
#include "core/Functions.h"

namespace shrink {

std::string activationName(Activation a) {
  switch (a) {
    case Activation::None: return "linear";
    case Activation::ReLU: return "relu";
    case Activation::LeakyReLU: return "leaky_relu";
    case Activation::Sigmoid: return "sigmoid";
    case Activation::Tanh: return "tanh";
    case Activation::Softmax: return "softmax";
  }
  SHRINK_ASSERT(false, "activationName: unknown activation {}", static_cast<int>(a));
}

Activation parseActivation(const std::string& name) {
  if (name.empty() || name == "none") return Activation::None;
  for (Activation a : {Activation::None, Activation::ReLU, Activation::LeakyReLU, Activation::Sigmoid,
                       Activation::Tanh, Activation::Softmax})
    if (activationName(a) == name) return a;
  throw std::invalid_argument(fmt::format(
      "unknown activation '{}' (known: linear, relu, leaky_relu, sigmoid, tanh, softmax)", name));
}

Variable applyActivation(Activation a, const Variable& x) {
  switch (a) {
    case Activation::None: return x;
    case Activation::ReLU: return relu(x);
    case Activation::LeakyReLU: return leakyRelu(x, LeakyReLUOptions{}.alpha);
    case Activation::Sigmoid: return sigmoid(x);
    case Activation::Tanh: return tanh(x);
    case Activation::Softmax: return softmax(x);
  }
  SHRINK_ASSERT(false, "applyActivation: unknown activation {}", static_cast<int>(a));
}

Variable ReLU::forward(const Variable& x) { return relu(x); }

LeakyReLU::LeakyReLU(Options options) : alpha_(options.alpha) {
  SHRINK_CHECK(std::isfinite(alpha_) && alpha_ >= 0.0f, "LeakyReLU: alpha must be finite and >= 0, got {}",
               alpha_);
}

Variable LeakyReLU::forward(const Variable& x) { return leakyRelu(x, alpha_); }

nlohmann::json LeakyReLU::config() const { return {{"alpha", jsonFloat(alpha_)}}; }

Variable Sigmoid::forward(const Variable& x) { return sigmoid(x); }

Variable Tanh::forward(const Variable& x) { return tanh(x); }

Variable Softmax::forward(const Variable& x) {
  SHRINK_CHECK(x.defined() && x.value().rank() >= 1, "Softmax::forward: expected an input of rank >= 1, got {}",
               x.defined() ? x.shape().str() : "an undefined variable");
  return softmax(x);
}

}  // namespace shrink
