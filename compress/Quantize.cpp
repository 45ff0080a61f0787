#include "compress/Quantize.h"

#include <algorithm>
#include <memory>
#include <set>

#include "compress/PruneLowMagnitude.h"
#include "compress/Wrapping.h"
#include "core/Check.h"
#include "layers/BatchNorm.h"
#include "layers/Conv2D.h"
#include "layers/Dense.h"

namespace shrink {

namespace {

bool isQuantizationModule(const Module& m) {
  return dynamic_cast<const QuantizeWrapper*>(&m) != nullptr || dynamic_cast<const ActivationQuantizer*>(&m) != nullptr;
}

/// A Dense or Conv2D without fused activation, possibly inside a pruning wrapper: a BatchNorm after
/// it folds into it at inference.
bool foldable(const Module& m) {
  const Module* layer = &m;
  if (const auto* pruned = dynamic_cast<const PruneLowMagnitude*>(layer)) layer = &pruned->layer();
  if (const auto* dense = dynamic_cast<const Dense*>(layer)) return dense->options().activation == Activation::None;
  if (const auto* conv = dynamic_cast<const Conv2D*>(layer)) return conv->options().activation == Activation::None;
  return false;
}

class Quantizer {
 public:
  explicit Quantizer(const QuantizeScheme& scheme) : scheme_(scheme) {}

  /// Wraps and inserts in `model` and its nested Sequentials; returns the number of layers wrapped.
  int run(Sequential& model) {
    int wrapped = 0;
    for (size_t i = 0; i < model.size(); ++i) {
      Module& layer = model.at(i);
      const std::string name = model.name(i);
      if (auto* nested = dynamic_cast<Sequential*>(&layer)) {
        wrapped += run(*nested);
      } else if (skipped(name)) {
        continue;
      } else if (dynamic_cast<BatchNorm*>(&layer) != nullptr) {
        model.insert(i + 1, std::make_unique<ActivationQuantizer>(outputQuantizerOptions(optionsOf(name))),
                     name + "_quantizer");
        ++i;
      } else if (foldsBatchNorm(model, i)) {
        std::unique_ptr<BatchNorm> batchNorm(static_cast<BatchNorm*>(model.remove(i + 1).release()));
        model.wrap(i, [&](std::unique_ptr<Module>& inner) {
          return std::make_unique<QuantizeWrapper>(std::unique_ptr<Conv2D>(static_cast<Conv2D*>(inner.release())),
                                                   std::move(batchNorm), optionsOf(name));
        });
        ++wrapped;
      } else if (!layer.compressibleWeights().empty()) {
        QuantizeOptions options = optionsOf(name);
        if (foldable(layer) && feedsBatchNorm(model, i)) options.quantizeOutput = false;
        model.wrap(i, [&](std::unique_ptr<Module>& inner) {
          return std::make_unique<QuantizeWrapper>(std::move(inner), options);
        });
        ++wrapped;
      }
    }
    return wrapped;
  }

 private:
  bool skipped(const std::string& name) const { return listed(scheme_.skip, name); }
  const QuantizeOptions& optionsOf(const std::string& name) const {
    return layerOptions(scheme_.layers, scheme_.defaults, name);
  }
  bool feedsBatchNorm(const Sequential& model, size_t i) const {
    return i + 1 < model.size() && dynamic_cast<const BatchNorm*>(&model.at(i + 1)) != nullptr &&
           !skipped(model.name(i + 1));
  }
  /// With foldBatchNorm: a Conv2D without fused activation feeding a BatchNorm of its filters.
  bool foldsBatchNorm(const Sequential& model, size_t i) const {
    const auto* conv = dynamic_cast<const Conv2D*>(&model.at(i));
    if (!scheme_.foldBatchNorm || conv == nullptr || !foldable(*conv) || !feedsBatchNorm(model, i)) return false;
    return static_cast<const BatchNorm&>(model.at(i + 1)).options().features == conv->options().out;
  }

  const QuantizeScheme& scheme_;
};

}  // namespace

int quantizeModel(Sequential& model, const QuantizeScheme& scheme) {
  registerCompressionTypes();
  for (const auto& [name, layer] : namedLayers(model))
    SHRINK_CHECK(!isQuantizationModule(*layer), "quantizeModel: the model is already quantized (layer '{}' is a {})",
                 name, layer->typeName());
  checkLayerScheme(model, scheme.defaults, scheme.layers, scheme.skip, "quantizeModel", checkQuantizeOptions);

  const int wrapped = Quantizer(scheme).run(model);
  SHRINK_CHECK(wrapped > 0, "quantizeModel: no layer to quantize (Dense and Conv2D layers are, unless skipped)");
  if (scheme.quantizeInput)
    model.insert(0, std::make_unique<ActivationQuantizer>(outputQuantizerOptions(scheme.defaults)), "input_quantizer");
  return wrapped;
}

int64_t quantizedModelBytes(Module& model) {
  std::set<const Parameter*> quantized;
  int64_t bytes = 0;
  for (auto& [name, wrapper] : quantizeWrappers(model))
    for (const QuantizedWeight& w : wrapper->quantizedWeights()) {
      quantized.insert(w.parameter);
      bytes += (w.parameter->numel() * wrapper->options().weightBits + 7) / 8 + 8 * w.min->numel();
    }
  for (Parameter* p : model.parameters())
    if (quantized.count(p) == 0) bytes += 4 * p->numel();
  for (auto& [name, q] : modulesOfType<ActivationQuantizer>(model))
    if (q->options().tracking != RangeTracking::Dynamic) bytes += 8;
  return bytes;
}

std::vector<std::pair<std::string, QuantizeWrapper*>> quantizeWrappers(Module& model) {
  return modulesOfType<QuantizeWrapper>(model);
}

}  // namespace shrink
