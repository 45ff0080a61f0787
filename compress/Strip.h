#pragma once

#include <memory>

#include "layers/Sequential.h"

namespace shrink {

/// tfmot's strip_pruning: every PruneLowMagnitude wrapper of `model` (nested Sequentials included)
/// is replaced by its layer, whose pruned weights hold the zeros of their masks; one inside another
/// wrapper (a ClusterWeights or QuantizeWrapper around it) too. Other transforms (quantization,
/// clustering) stay attached. Returns the number of wrappers removed.
int stripPruningInPlace(Sequential& model);

/// A stripped copy of `model` (same architecture without the wrappers, same weights and buffers);
/// `model` itself is left wrapped. Its predictions equal the wrapped model's.
std::unique_ptr<Sequential> stripPruning(const Sequential& model);

/// The float model of a quantization-aware trained one: every QuantizeWrapper of `model` (nested
/// Sequentials included) is replaced by its layer, whose weights become their fake-quantized values
/// (on the stored ranges), followed by the wrapper's output quantizer as a layer "<name>_quantizer".
/// ActivationQuantizer layers stay, so in eval mode the predictions equal the wrapped model's.
/// Pruning wrappers stay (a masked entry quantizes to 0); a ClusterWeights inside a QuantizeWrapper
/// is stripped with it, as the quantized values are no longer the centroids of its codebook.
/// Returns the number of QuantizeWrappers removed.
int stripQuantizationInPlace(Sequential& model);

/// Every QuantNoiseWrapper of `model` (nested Sequentials included) is replaced by its layer, whose
/// weights take their evaluation value: fully quantized for scalar noise, unchanged for block noise.
/// Returns the number of wrappers removed.
int stripQuantNoiseInPlace(Sequential& model);

/// tfmot's strip_clustering: every ClusterWeights of `model` (nested Sequentials included) is replaced
/// by its layer, whose clustered weights hold their clustered values: at most k distinct values per
/// tensor (per output channel with perChannel), and the same predictions as the wrapped model. One
/// inside another wrapper (a QuantizeWrapper around it) is replaced by its layer there. Returns the
/// number of wrappers removed.
int stripClusteringInPlace(Sequential& model);

/// A copy of `model` with its clustering wrappers stripped; `model` itself is left as it is.
std::unique_ptr<Sequential> stripClustering(const Sequential& model);

/// A copy of `model` with its quantization wrappers stripped; `model` itself is left as it is.
std::unique_ptr<Sequential> stripQuantization(const Sequential& model);

}  // namespace shrink
