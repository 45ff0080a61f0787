#pragma once

#include <memory>

#include "layers/Sequential.h"

namespace shrink {

/// tfmot's strip_pruning: every PruneLowMagnitude wrapper of `model` (nested Sequentials included)
/// is replaced by its layer, whose pruned weights hold the zeros of their masks. Other transforms
/// (quantization, clustering) stay attached. Returns the number of wrappers removed.
int stripPruningInPlace(Sequential& model);

/// A stripped copy of `model` (same architecture without the wrappers, same weights and buffers);
/// `model` itself is left wrapped. Its predictions equal the wrapped model's.
std::unique_ptr<Sequential> stripPruning(const Sequential& model);

}  // namespace shrink
