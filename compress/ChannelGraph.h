#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "core/Module.h"
#include "layers/Activations.h"
#include "layers/BatchNorm.h"
#include "layers/Sequential.h"

namespace shrink {

/// A Dense or Conv2D layer of a Sequential seen as a producer of output units (Dense: rows of the
/// [out, in] kernel) or filters (Conv2D: slices [in, kh, kw] of the [out, in, kh, kw] kernel), with
/// what lies between it and the next Dense/Conv2D (the consumer of its channels).
///
/// Structured pruning and physical removal only reason about this chain: a unit whose kernel row
/// and bias are zero, and whose gamma and beta are zero in every BatchNorm of the chain, reaches
/// the next layer as an exact 0, provided every activation in the chain (the layer's fused one
/// included) maps 0 to 0 (None, ReLU, LeakyReLU, Tanh); pooling, Dropout and Flatten keep zeros.
struct ChannelLayer {
  size_t index = 0;          ///< position of the child in the Sequential
  std::string name;          ///< the child's name
  Module* module = nullptr;  ///< the child itself: the layer, or a wrapper module holding it
  Module* layer = nullptr;   ///< the Dense or Conv2D (== module unless wrapped)
  bool wrapped = false;      ///< the child is a wrapper whose single child is the layer
  bool isConv = false;
  Parameter* weight = nullptr;
  Parameter* bias = nullptr;  ///< null without bias
  int64_t units = 0;          ///< Dense out / Conv2D filters
  int64_t inputs = 0;         ///< Dense in / Conv2D input channels
  Activation activation = Activation::None;  ///< the fused one
  /// Every BatchNorm between this layer and the next Dense/Conv2D, with its Sequential index.
  std::vector<BatchNorm*> batchNorms;
  std::vector<size_t> batchNormIndices;
  /// Empty when a zeroed unit stays exactly 0 up to the next Dense/Conv2D in train and eval mode;
  /// otherwise what breaks it ("activation 'sigmoid' of layer 'dense'"). Always empty for the output layer.
  std::string zeroBlocker;
  /// The Sequential index whose output is the feature map the next layer sees from this one:
  /// the layer itself, or the last of the activation layers directly after it (Taylor's z).
  size_t tapIndex = 0;
  bool isOutput = false;  ///< the model's last Dense/Conv2D
};

/// The Dense/Conv2D layers of `model` in order, each with its chain to the next (the last one is
/// the output layer). A child that is not a known layer type but holds exactly one child, a Dense or
/// Conv2D, is taken as that layer (`wrapped`). Throws std::invalid_argument for a nested
/// Sequential, for a model without Dense/Conv2D, and for a layer type between two Dense/Conv2D layers
/// whose effect on single channels is unknown.
std::vector<ChannelLayer> channelLayers(Sequential& model);

/// Whether `type` (a typeName) maps 0 to 0 elementwise and keeps channels apart (ReLU, LeakyReLU,
/// Tanh, pooling, Dropout, Flatten).
bool keepsZeroChannels(const std::string& type);

}  // namespace shrink
