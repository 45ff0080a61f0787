#pragma once

#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "core/Module.h"
#include "layers/Sequential.h"

namespace shrink {

/// What the compression wrappers (PruneLowMagnitude, QuantizeWrapper) share, and helpers of the
/// model-level entry points that place and remove them.

/// Base of the compression wrappers: owns the wrapped layer as child "layer" and passes its
/// compressibleWeights() on, so techniques stack (a QuantizeWrapper around a PruneLowMagnitude).
class LayerWrapper : public Module {
 public:
  /// std::logic_error once the layer was released (strip).
  Module& layer();
  const Module& layer() const;
  /// The wrapped layer's; none once it was released.
  std::vector<Parameter*> compressibleWeights() override;
  /// For strip of a wrapper inside this one: puts `layer` (the inner wrapper's released layer, whose
  /// weights are the same Parameters) in the place of the wrapped layer and returns that.
  std::unique_ptr<Module> replaceLayer(std::unique_ptr<Module> layer);

 protected:
  /// Registers `layer` (not null) as child "layer"; `type` names the wrapper in errors.
  LayerWrapper(std::unique_ptr<Module> layer, const char* type);
  bool hasLayer() const { return layer_ != nullptr; }
  /// Removes every child, the layer first, for strip; the wrapper is empty afterwards.
  std::vector<std::pair<std::string, std::unique_ptr<Module>>> releaseChildren();

 private:
  Module* layer_ = nullptr;
  const char* type_;
};

/// Sets a flag for the lifetime of the scope, clears it after: a wrapper's transforms behave
/// differently during the wrapper's own forward.
class FlagScope {
 public:
  FlagScope(bool& flag, bool on) : flag_(flag) { flag_ = on; }
  ~FlagScope() { flag_ = false; }
  FlagScope(const FlagScope&) = delete;
  FlagScope& operator=(const FlagScope&) = delete;

 private:
  bool& flag_;
};

/// A weight a wrapper transforms: its name inside the wrapped layer ("weight") and the parameter.
struct NamedWeight {
  std::string name;
  Parameter* parameter;
};

/// The layer's compressibleWeights() with their names in the layer. `wrapper` names the caller in
/// errors; a layer that declares a weight it does not register is a std::logic_error.
std::vector<NamedWeight> namedCompressibleWeights(Module& layer, const char* wrapper);

/// A weight name as the prefix of a wrapper's buffer names: "weight" -> "weight", "a.weight" -> "a_weight".
std::string bufferPrefix(const std::string& weightName);

/// The weight as a transform of `stage` sees it in the forward: the leaf through the transforms of
/// earlier stages.
Variable valueBefore(const Parameter& weight, TransformStage stage);

/// For strip: leaf <- `t` applied to the weight as `t` sees it in the forward (the leaf through the
/// transforms of earlier stages), computed without a graph; then `t` is detached. Earlier
/// transforms stay attached.
void bakeTransform(Parameter& weight, const WeightTransform& t);

/// The options a per-layer scheme (QuantizeScheme, ClusterScheme) gives layer `name`: its entry in
/// `layers`, else `defaults`.
template <class Options>
const Options& layerOptions(const std::map<std::string, Options>& layers, const Options& defaults,
                            const std::string& name) {
  auto it = layers.find(name);
  return it != layers.end() ? it->second : defaults;
}

/// Whether `names` holds `name` (a scheme's skip list).
bool listed(const std::vector<std::string>& names, const std::string& name);

/// Every module of type T under `model` (the model itself included, named ""), with its dotted name,
/// in model order.
template <class T>
std::vector<std::pair<std::string, T*>> modulesOfType(Module& model) {
  std::vector<std::pair<std::string, T*>> out;
  if (auto* m = dynamic_cast<T*>(&model)) out.emplace_back("", m);
  for (auto& [name, child] : model.namedModules())
    if (auto* m = dynamic_cast<T*>(child)) out.emplace_back(name, m);
  return out;
}

/// Every layer of `model` and of its nested Sequentials, depth first, with its name in its Sequential.
std::vector<std::pair<std::string, const Module*>> namedLayers(const Sequential& model);

/// The layer of `model` (nested Sequentials included) named `name`; std::invalid_argument naming
/// `caller` and listing the model's layer names when there is none.
const Module& layerNamed(const Sequential& model, const std::string& name, const char* caller);

/// Checks a per-layer scheme: `check` accepts the defaults and every entry of `layers`, and every
/// name in `layers` and `skip` is a layer of `model` (else std::invalid_argument naming `caller`).
template <class Options, class Check>
void checkLayerScheme(const Sequential& model, const Options& defaults, const std::map<std::string, Options>& layers,
                      const std::vector<std::string>& skip, const char* caller, Check check) {
  check(defaults);
  for (const auto& [name, options] : layers) {
    layerNamed(model, name, caller);
    check(options);
  }
  for (const std::string& name : skip) layerNamed(model, name, caller);
}

/// An independent copy of `model`: same architecture (compression wrappers included), parameters,
/// buffers and mode.
std::unique_ptr<Sequential> copyModel(const Sequential& model);

}  // namespace shrink
