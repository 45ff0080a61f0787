#include "layers/BatchNorm.h"

#include <cmath>

#include "core/Check.h"
#include "layers/Config.h"

namespace shrink {

BatchNorm::BatchNorm(Options options) : options_(options) {
  SHRINK_CHECK(options_.features > 0, "BatchNorm: features must be positive, got {}", options_.features);
  SHRINK_CHECK(options_.momentum >= 0.0f && options_.momentum <= 1.0f, "BatchNorm: momentum must be in [0, 1], got {}",
               options_.momentum);
  SHRINK_CHECK(options_.epsilon > 0.0f && std::isfinite(options_.epsilon),
               "BatchNorm: epsilon must be positive, got {}", options_.epsilon);
  const Shape s{options_.features};
  gamma_ = &registerParameter("gamma", Tensor::ones(s));
  beta_ = &registerParameter("beta", Tensor::zeros(s));
  runningMean_ = &registerBuffer("running_mean", Tensor::zeros(s));
  runningVar_ = &registerBuffer("running_var", Tensor::ones(s));
}

Variable BatchNorm::forward(const Variable& x) {
  SHRINK_CHECK(x.defined(), "BatchNorm::forward: undefined input");
  const Shape& s = x.shape();
  SHRINK_CHECK((s.rank() == 2 || s.rank() == 4) && s[1] == options_.features,
               "BatchNorm::forward: expected [N, {0}] or [N, {0}, H, W], got {1}", options_.features, s.str());
  return batchNorm(x, gamma_->value(), beta_->value(), *runningMean_, *runningVar_, isTraining(),
                   BatchNormOptions{.momentum = options_.momentum, .epsilon = options_.epsilon});
}

nlohmann::json BatchNorm::config() const {
  return {{"features", options_.features},
          {"momentum", jsonFloat(options_.momentum)},
          {"epsilon", jsonFloat(options_.epsilon)}};
}

}  // namespace shrink
