#include "datasets/Friedman.h"

#include <cmath>
#include <numbers>

#include "core/Check.h"
#include "core/Random.h"

namespace shrink::data {

TensorDataset makeFriedman1(const FriedmanOptions& options) {
  SHRINK_CHECK(options.nSamples >= 1, "makeFriedman1: nSamples must be >= 1, got {}", options.nSamples);
  SHRINK_CHECK(options.nFeatures >= 5, "makeFriedman1: nFeatures must be >= 5, got {}", options.nFeatures);
  SHRINK_CHECK(std::isfinite(options.noise) && options.noise >= 0.0f,
               "makeFriedman1: noise must be a finite standard deviation >= 0, got {}", options.noise);
  Generator gen(options.seed);
  const int64_t n = options.nSamples;
  const int64_t d = options.nFeatures;
  Tensor x = gen.uniformTensor(Shape{n, d}, 0.0f, 1.0f);
  Tensor y(Shape{n, 1});
  for (int64_t i = 0; i < n; ++i) {
    const float* r = x.data() + i * d;
    const double x0 = r[0], x1 = r[1], x2 = r[2], x3 = r[3], x4 = r[4];
    double v = 10.0 * std::sin(std::numbers::pi * x0 * x1) + 20.0 * (x2 - 0.5) * (x2 - 0.5) + 10.0 * x3 +
               5.0 * x4;
    if (options.noise > 0.0f) v += static_cast<double>(options.noise) * gen.normal();
    y[i] = static_cast<float>(v);
  }
  return TensorDataset(std::move(x), std::move(y));
}

}  // namespace shrink::data
