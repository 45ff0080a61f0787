#include "layers/Dense.h"

#include "core/Check.h"
#include "core/Functions.h"

namespace shrink {

Dense::Dense(Options options) : options_(options) {
  SHRINK_CHECK(options_.in > 0 && options_.out > 0, "Dense: in and out must be positive, got in={} out={}",
               options_.in, options_.out);
  options_.generator = nullptr;  // not kept: the layer must not outlive a borrowed generator
  Generator seeded(options.seed.value_or(0));
  Generator& gen = options.seed ? seeded : options.generator ? *options.generator : defaultGenerator();
  weight_ = &registerParameter("weight", initialize(options_.init, Shape{options_.out, options_.in}, gen));
  if (options_.useBias) bias_ = &registerParameter("bias", Tensor::zeros(Shape{options_.out}));
}

Variable Dense::forward(const Variable& x) {
  SHRINK_CHECK(x.defined(), "Dense::forward: undefined input");
  const Shape& s = x.shape();
  SHRINK_CHECK(s.rank() == 2 && s[1] == options_.in,
               "Dense::forward: expected an input [N, {}] ({} features), got {}{}", options_.in, options_.in,
               s.str(), s.rank() > 2 ? " (add a Flatten before it)" : "");
  Variable y = linear(x, weight_->value(), bias_ ? bias_->value() : Variable{});
  return applyActivation(options_.activation, y);
}

nlohmann::json Dense::config() const {
  nlohmann::json c = {{"in", options_.in},
                      {"out", options_.out},
                      {"use_bias", options_.useBias},
                      {"activation", activationName(options_.activation)},
                      {"kernel_initializer", initializerName(options_.init)}};
  if (options_.seed) c["seed"] = *options_.seed;
  return c;
}

}  // namespace shrink
