#pragma once

#include "core/Random.h"
#include "core/Tensor.h"

namespace shrink {

/// Weight initialisers with Keras' definitions. Fans follow our layouts: Dense [out, in] has
/// fanIn = in, fanOut = out; Conv2D [out, in, kh, kw] has fanIn = in*kh*kw, fanOut = out*kh*kw.
enum class Initializer { GlorotUniform, HeNormal, HeUniform, Zeros, Ones };

struct Fans {
  double in = 0;
  double out = 0;
};
Fans computeFans(const Shape& shape);

/// Glorot (Xavier) uniform: U(-l, l), l = sqrt(6 / (fanIn + fanOut)). Keras' kernel default.
Tensor glorotUniform(const Shape& shape, Generator& gen);
/// He normal: truncated normal (cut at 2 sigma), stddev = sqrt(2 / fanIn) / 0.8796, as Keras.
Tensor heNormal(const Shape& shape, Generator& gen);
/// He uniform: U(-l, l), l = sqrt(6 / fanIn).
Tensor heUniform(const Shape& shape, Generator& gen);
Tensor initialize(Initializer init, const Shape& shape, Generator& gen);

}  // namespace shrink
