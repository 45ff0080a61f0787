#include "optim/Clip.h"

#include <cmath>

#include "core/Check.h"

namespace shrink {

float clipGradNorm(const std::vector<Parameter*>& params, float maxNorm) {
  SHRINK_CHECK(maxNorm > 0 && std::isfinite(maxNorm), "clipGradNorm: maxNorm must be positive and finite, got {}",
               maxNorm);
  double sumSquares = 0;  // double: a float sum over ~1M squares loses digits
  for (Parameter* p : params) {
    if (!p->trainable() || !p->leaf().hasGrad()) continue;
    sumSquares += p->leaf().grad().array().cast<double>().square().sum();
  }
  const double norm = std::sqrt(sumSquares);
  if (std::isfinite(norm) && norm > maxNorm) {
    const float scale = static_cast<float>(maxNorm / norm);
    for (Parameter* p : params) {
      if (!p->trainable() || !p->leaf().hasGrad()) continue;
      p->leaf().gradBuffer().array() *= scale;
    }
  }
  return static_cast<float>(norm);
}

}  // namespace shrink
