#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "layers/Sequential.h"

namespace shrink {

/// One Dense, Conv2D or BatchNorm layer before and after shrinkStructured().
struct LayerShrink {
  std::string name;
  std::string type;
  int64_t unitsBefore = 0;  ///< Dense out, Conv2D filters, BatchNorm features
  int64_t unitsAfter = 0;
  int64_t paramsBefore = 0;  ///< the layer's parameters (trainable or not; BatchNorm's running statistics excluded)
  int64_t paramsAfter = 0;
  bool rebuilt = false;  ///< replaced by a smaller layer
};

struct ShrinkResult {
  /// Every Dense, Conv2D and BatchNorm layer of the model, in model order.
  std::vector<LayerShrink> layers;
  int64_t paramsBefore = 0;  ///< model.parameterCount() before and after
  int64_t paramsAfter = 0;
  /// Output units and filters removed, over all Dense/Conv2D layers.
  int64_t unitsRemoved() const;
};

/// Physically removes every dead output unit (Dense) and filter (Conv2D) of `model`, so the model is
/// smaller and faster with outputs unchanged up to float rounding.
///
/// A unit j of a Dense/Conv2D layer L other than the output layer is dead when row j of its kernel
/// (read through the kernel's transforms) is all zero, its bias[j] is zero (or L has none), and
/// gamma[j] and beta[j] are zero in every BatchNorm between L and the next Dense/Conv2D layer N,
/// and every activation in that chain maps 0 to 0 (layers with Sigmoid/Softmax in the chain are
/// left as they are). Structured pruning (StructuredPruner) produces exactly such units. A layer
/// whose units are all dead keeps its first one.
///
/// Removal: the rows of L's kernel and bias; the features of each BatchNorm in the chain (gamma,
/// beta, running mean and variance); the matching input channels of N (Conv2D: the input-channel
/// slices [:, c, :, :]; Dense: the kernel columns, where a Flatten from C channels of H*W positions
/// makes input feature c*H*W + s, so each removed channel takes its H*W block with it, H*W = N.in / C).
/// Each affected layer has its transforms baked into its leaves and is replaced (Sequential::replace,
/// same name, same mode and trainable flags) by a new Dense/Conv2D/BatchNorm with smaller options
/// holding the surviving values. Other layers are untouched. The replaced layers' parameters are
/// destroyed: build optimizers after shrinking, not before.
///
/// Handles flat Sequentials of Dense, Conv2D, BatchNorm, MaxPool2D, AvgPool2D, Dropout, Flatten and
/// activation layers; throws std::invalid_argument for a nested Sequential, for other layer types
/// between two Dense/Conv2D layers, and for a Dense/Conv2D held by a wrapper (strip wrappers first).
ShrinkResult shrinkStructured(Sequential& model);

}  // namespace shrink
