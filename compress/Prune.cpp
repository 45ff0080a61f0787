#include "compress/Prune.h"

#include <algorithm>
#include <memory>

#include "compress/Wrapping.h"
#include "core/Check.h"

namespace shrink {

namespace {

bool isWrapped(const Module& m) { return dynamic_cast<const PruneLowMagnitude*>(&m) != nullptr; }

int wrapSelected(Sequential& model, const PruneOptions& options, const LayerPredicate& select) {
  int wrapped = 0;
  for (size_t i = 0; i < model.size(); ++i) {
    Module& layer = model.at(i);
    if (auto* nested = dynamic_cast<Sequential*>(&layer)) {
      wrapped += wrapSelected(*nested, options, select);
      continue;
    }
    if (isWrapped(layer) || layer.compressibleWeights().empty()) continue;
    if (select && !select(model.name(i), layer)) continue;
    pruneLowMagnitude(model, i, options);
    ++wrapped;
  }
  return wrapped;
}

}  // namespace

PruneLowMagnitude& pruneLowMagnitude(Sequential& model, size_t index, const PruneOptions& options) {
  registerCompressionTypes();
  SHRINK_CHECK(index < model.size(), "pruneLowMagnitude: layer index {} out of range (the model has {} layers)",
               index, model.size());
  const Module& layer = model.at(index);
  SHRINK_CHECK(!isWrapped(layer), "pruneLowMagnitude: layer {} ('{}') is already wrapped for pruning", index,
               model.name(index));
  SHRINK_CHECK(!const_cast<Module&>(layer).compressibleWeights().empty(),
               "pruneLowMagnitude: layer {} ('{}', {}) has no prunable weights", index, model.name(index),
               layer.typeName());
  Module& wrapper = model.wrap(index, [&](std::unique_ptr<Module>& inner) {
    return std::make_unique<PruneLowMagnitude>(std::move(inner), options);
  });
  return static_cast<PruneLowMagnitude&>(wrapper);
}

int pruneLowMagnitude(Sequential& model, const PruneOptions& options, const LayerPredicate& select) {
  const int wrapped = wrapSelected(model, options, select);
  SHRINK_CHECK(wrapped > 0, "pruneLowMagnitude: no prunable layer selected (the model's prunable layers are "
                            "Dense and Conv2D, and wrapped ones are skipped)");
  return wrapped;
}

LayerPredicate byType(std::vector<std::string> types) {
  return [types = std::move(types)](const std::string&, const Module& layer) {
    return std::find(types.begin(), types.end(), layer.typeName()) != types.end();
  };
}

LayerPredicate byNames(const Sequential& model, std::vector<std::string> names) {
  for (const std::string& n : names) {
    const Module& layer = layerNamed(model, n, "pruneLowMagnitude");
    // Naming a layer is asking for it explicitly: one with nothing to prune is an error.
    SHRINK_CHECK(isWrapped(layer) || !const_cast<Module&>(layer).compressibleWeights().empty(),
                 "pruneLowMagnitude: layer '{}' ({}) has no prunable weights", n, layer.typeName());
  }
  return [names = std::move(names)](const std::string& name, const Module&) {
    return std::find(names.begin(), names.end(), name) != names.end();
  };
}

}  // namespace shrink
