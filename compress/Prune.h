#pragma once

#include <functional>
#include <string>
#include <vector>

#include "compress/PruneLowMagnitude.h"
#include "layers/Sequential.h"

namespace shrink {

/// Chooses layers to wrap: the layer's name in its Sequential and the layer.
using LayerPredicate = std::function<bool(const std::string& name, const Module& layer)>;

/// Wraps child `index` of `model` in PruneLowMagnitude, keeping its weights; returns the wrapper.
/// Explicit, so a layer with no prunable weights (BatchNorm, Dropout, pooling, a custom layer that
/// declares none) or one already wrapped is an error.
PruneLowMagnitude& pruneLowMagnitude(Sequential& model, size_t index, const PruneOptions& options);

/// Wraps every layer of `model` (nested Sequentials included) that `select` accepts and that has
/// prunable weights; layers with nothing to prune are left as they are, as are layers already
/// wrapped. Returns the number of layers wrapped; a predicate that selects no prunable layer is an
/// error. Keras' clone_model with a cloning function, in place.
int pruneLowMagnitude(Sequential& model, const PruneOptions& options, const LayerPredicate& select = {});

/// Selects layers whose typeName() is one of `types` ("Dense", "Conv2D").
LayerPredicate byType(std::vector<std::string> types);
/// Selects the layers of these names; a name that is not in `model` is an error listing the names
/// it has.
LayerPredicate byNames(const Sequential& model, std::vector<std::string> names);

}  // namespace shrink
