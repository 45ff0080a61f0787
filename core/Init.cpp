#include "core/Init.h"

#include <cmath>

#include "core/Check.h"

namespace shrink {

Fans computeFans(const Shape& shape) {
  SHRINK_CHECK(shape.rank() >= 1, "computeFans: shape {} has no dimensions", shape.str());
  if (shape.rank() == 1) return {double(shape[0]), double(shape[0])};
  double receptive = 1;
  for (size_t i = 2; i < shape.rank(); ++i) receptive *= double(shape[i]);
  return {double(shape[1]) * receptive, double(shape[0]) * receptive};
}

Tensor glorotUniform(const Shape& shape, Generator& gen) {
  const Fans f = computeFans(shape);
  const float limit = static_cast<float>(std::sqrt(6.0 / (f.in + f.out)));
  return gen.uniformTensor(shape, -limit, limit);
}

Tensor heNormal(const Shape& shape, Generator& gen) {
  const Fans f = computeFans(shape);
  // Keras divides by the stddev of a standard normal truncated to [-2, 2].
  const float stddev = static_cast<float>(std::sqrt(2.0 / f.in) / 0.87962566103423978);
  Tensor t(shape);
  for (float& v : t) {
    float z;
    do z = gen.normal();
    while (std::fabs(z) > 2.0f);
    v = stddev * z;
  }
  return t;
}

Tensor heUniform(const Shape& shape, Generator& gen) {
  const Fans f = computeFans(shape);
  const float limit = static_cast<float>(std::sqrt(6.0 / f.in));
  return gen.uniformTensor(shape, -limit, limit);
}

Tensor initialize(Initializer init, const Shape& shape, Generator& gen) {
  switch (init) {
    case Initializer::GlorotUniform: return glorotUniform(shape, gen);
    case Initializer::HeNormal: return heNormal(shape, gen);
    case Initializer::HeUniform: return heUniform(shape, gen);
    case Initializer::Zeros: return Tensor::zeros(shape);
    case Initializer::Ones: return Tensor::ones(shape);
  }
  SHRINK_ASSERT(false, "initialize: unknown initializer");
}

}  // namespace shrink
