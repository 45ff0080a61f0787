#pragma once

#include <vector>

#include "core/Parameter.h"

namespace shrink {

/// Clips gradients by their global norm (tf.clip_by_global_norm, Keras `global_clipnorm`):
/// norm = sqrt(sum of squares of the gradients of all trainable parameters that have one); when
/// norm > maxNorm every such gradient is scaled by maxNorm / norm. Returns the norm before
/// clipping. A non-finite norm is returned as is and the gradients are left alone, so the NaN or
/// Inf stays visible. maxNorm must be > 0.
float clipGradNorm(const std::vector<Parameter*>& params, float maxNorm);

}  // namespace shrink
