#pragma once

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "compress/QuantizeWrapper.h"
#include "layers/Sequential.h"

namespace shrink {

/// What quantizeModel does to a model: tfmot's default 8-bit scheme unless told otherwise.
struct QuantizeScheme {
  /// Options of every quantized layer that `layers` does not name.
  QuantizeOptions defaults;
  /// Options of particular layers, by name, in place of the defaults (start from a copy of them to
  /// change one field). For a BatchNorm only the output quantizer's fields count.
  std::map<std::string, QuantizeOptions> layers;
  /// Layers left in float: neither wrapped nor followed by a quantizer.
  std::vector<std::string> skip;
  /// Insert an ActivationQuantizer "input_quantizer" (the defaults' activation bits, tracking and
  /// rounding) as the model's first layer.
  bool quantizeInput = true;
  /// Fold each BatchNorm that follows a Conv2D without fused activation into the convolution's
  /// QuantizeWrapper (Jacob et al. 2018; see QuantizeWrapper), which then quantizes the folded kernel
  /// and the output after the BatchNorm, with the convolution's options. Off: tfmot's layout, the
  /// BatchNorm runs in float between the convolution and its output quantizer.
  bool foldBatchNorm = false;
};

/// tfmot's quantize_model for quantization-aware training, in place:
/// - every layer with weights (Dense, Conv2D, or one already wrapped, e.g. for pruning), nested
///   Sequentials included, is wrapped in a QuantizeWrapper with its options;
/// - a Dense/Conv2D without fused activation followed by a BatchNorm gets no output quantizer, and
///   every BatchNorm gets an ActivationQuantizer layer "<name>_quantizer" after it, so the
///   quantizer sits where the folded layer's output will be (tfmot's Conv2D + BatchNorm pattern);
///   with foldBatchNorm, a Conv2D's BatchNorm is instead taken out of the model and folded into the
///   convolution's wrapper;
/// - with quantizeInput, an ActivationQuantizer "input_quantizer" is inserted first.
/// Activation layers (ReLU, MaxPool2D, Flatten, Dropout) keep quantized values on their grid and
/// get no quantizer; Sigmoid, Tanh, Softmax and AvgPool2D layers run in float.
/// Build the optimizer afterwards. Returns the number of layers wrapped. Throws
/// std::invalid_argument when the model already holds quantization modules, when a name in
/// `scheme` is not a layer of the model (listing its layers), or when nothing gets wrapped.
int quantizeModel(Sequential& model, const QuantizeScheme& scheme = {});

/// The bytes an integer converter would store for `model`'s parameters and ranges: each weight a
/// QuantizeWrapper quantizes at its weightBits per value (bit-packed, rounded up to whole bytes per
/// tensor) plus a float32 scale and an int32 zero point per range (per channel with per-axis
/// ranges); every other parameter (biases, which TFLite keeps as int32; BatchNorm's) 4 bytes per
/// value; 8 bytes for the range of each ActivationQuantizer with a stored range. A float model is
/// 4 bytes per parameter.
int64_t quantizedModelBytes(Module& model);

/// Every QuantizeWrapper under `model`, with its dotted name, in model order.
std::vector<std::pair<std::string, QuantizeWrapper*>> quantizeWrappers(Module& model);

}  // namespace shrink
