#include "compress/Wrapping.h"

#include <algorithm>

#include "compress/PruneLowMagnitude.h"
#include "core/Check.h"
#include "optim/ModelFile.h"

namespace shrink {

namespace {

void collectLayers(const Sequential& model, std::vector<std::pair<std::string, const Module*>>& out) {
  for (size_t i = 0; i < model.size(); ++i) {
    out.emplace_back(model.name(i), &model.at(i));
    if (const auto* nested = dynamic_cast<const Sequential*>(&model.at(i))) collectLayers(*nested, out);
  }
}

}  // namespace

LayerWrapper::LayerWrapper(std::unique_ptr<Module> layer, const char* type) : type_(type) {
  SHRINK_CHECK(layer != nullptr, "{}: no layer given", type);
  layer_ = &registerModule("layer", std::move(layer));
}

Module& LayerWrapper::layer() {
  SHRINK_ASSERT(layer_ != nullptr, "{}: the wrapped layer was released by strip", type_);
  return *layer_;
}

const Module& LayerWrapper::layer() const {
  SHRINK_ASSERT(layer_ != nullptr, "{}: the wrapped layer was released by strip", type_);
  return *layer_;
}

std::vector<Parameter*> LayerWrapper::compressibleWeights() {
  return layer_ != nullptr ? layer_->compressibleWeights() : std::vector<Parameter*>{};
}

std::unique_ptr<Module> LayerWrapper::replaceLayer(std::unique_ptr<Module> layer) {
  SHRINK_ASSERT(layer_ != nullptr, "{}: the layer was already released", type_);
  SHRINK_CHECK(layer != nullptr, "{}: no layer given", type_);
  Module* next = layer.get();
  std::unique_ptr<Module> previous = replaceModule("layer", std::move(layer));
  layer_ = next;
  return previous;
}

std::vector<std::pair<std::string, std::unique_ptr<Module>>> LayerWrapper::releaseChildren() {
  SHRINK_ASSERT(layer_ != nullptr, "{}: the layer was already released", type_);
  layer_ = nullptr;
  return releaseModules();
}

std::vector<NamedWeight> namedCompressibleWeights(Module& layer, const char* wrapper) {
  const auto named = layer.namedParameters();
  std::vector<NamedWeight> out;
  for (Parameter* p : layer.compressibleWeights()) {
    auto it = std::find_if(named.begin(), named.end(), [&](const auto& entry) { return entry.second == p; });
    SHRINK_ASSERT(it != named.end(), "{}: layer '{}' declares a weight it does not register", wrapper,
                  layer.typeName());
    out.push_back({it->first, p});
  }
  return out;
}

std::string bufferPrefix(const std::string& weightName) {
  std::string prefix = weightName;
  std::replace(prefix.begin(), prefix.end(), '.', '_');
  return prefix;
}

Variable valueBefore(const Parameter& weight, TransformStage stage) {
  Variable v = weight.leaf();
  for (const WeightTransform* t : weight.transforms())
    if (t->stage() < stage) v = t->apply(v);
  return v;
}

void bakeTransform(Parameter& weight, const WeightTransform& t) {
  Tensor baked;
  {
    NoGradGuard noGrad;
    baked = t.apply(valueBefore(weight, t.stage())).value();
  }
  weight.removeTransform(&t);
  weight.leaf().mutableValue() = std::move(baked);
}

bool listed(const std::vector<std::string>& names, const std::string& name) {
  return std::find(names.begin(), names.end(), name) != names.end();
}

std::vector<std::pair<std::string, const Module*>> namedLayers(const Sequential& model) {
  std::vector<std::pair<std::string, const Module*>> out;
  collectLayers(model, out);
  return out;
}

const Module& layerNamed(const Sequential& model, const std::string& name, const char* caller) {
  const auto layers = namedLayers(model);
  auto it = std::find_if(layers.begin(), layers.end(), [&](const auto& l) { return l.first == name; });
  if (it != layers.end()) return *it->second;
  std::vector<std::string> known;
  for (const auto& l : layers) known.push_back(l.first);
  throw std::invalid_argument(
      fmt::format("{}: no layer named '{}'; the model has: {}", caller, name, fmt::join(known, ", ")));
}

std::unique_ptr<Sequential> copyModel(const Sequential& model) {
  registerCompressionTypes();
  std::unique_ptr<Module> copy = cloneModel(model);
  auto* seq = dynamic_cast<Sequential*>(copy.get());
  SHRINK_ASSERT(seq != nullptr, "copyModel: the copy of a Sequential is a {}", copy->typeName());
  copy.release();
  return std::unique_ptr<Sequential>(seq);
}

}  // namespace shrink
