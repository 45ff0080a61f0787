#include "layers/Registry.h"

#include <algorithm>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>

#include "core/Check.h"
#include "layers/Activations.h"
#include "layers/BatchNorm.h"
#include "layers/Config.h"
#include "layers/Conv2D.h"
#include "layers/Dense.h"
#include "layers/Dropout.h"
#include "layers/Flatten.h"
#include "layers/Pool2D.h"
#include "layers/Sequential.h"

namespace shrink {

namespace {

const char* const kSequential = "Sequential";

/// Reads an enum-valued string field, naming the field when the value is unknown.
template <class Parse>
auto named(const ConfigReader& c, const std::string& type, const std::string& key, const std::string& fallback,
           Parse parse) {
  const std::string v = c.string(key, fallback);
  try {
    return parse(v);
  } catch (const std::invalid_argument& e) {
    throw std::invalid_argument(fmt::format("{} config: field '{}': {}", type, key, e.what()));
  }
}

std::optional<uint64_t> optionalSeed(const ConfigReader& c) {
  if (!c.has("seed")) return std::nullopt;
  return c.unsignedInteger("seed");
}

std::unique_ptr<Module> makeDense(const nlohmann::json& config) {
  ConfigReader c(config, "Dense");
  DenseOptions o;
  o.in = c.integer("in");
  o.out = c.integer("out");
  o.useBias = c.boolean("use_bias", true);
  o.activation = named(c, "Dense", "activation", "linear", parseActivation);
  o.init = named(c, "Dense", "kernel_initializer", "glorot_uniform", parseInitializer);
  o.seed = optionalSeed(c);
  c.finish();
  return std::make_unique<Dense>(o);
}

std::unique_ptr<Module> makeConv2D(const nlohmann::json& config) {
  ConfigReader c(config, "Conv2D");
  Conv2DOptions o;
  o.in = c.integer("in");
  o.out = c.integer("out");
  const auto kernel = c.pair("kernel_size");
  o.kernel = {kernel.first, kernel.second};
  const auto stride = c.pair("strides", {1, 1});
  o.stride = {stride.first, stride.second};
  o.padding = named(c, "Conv2D", "padding", "valid", parsePadding);
  o.useBias = c.boolean("use_bias", true);
  o.activation = named(c, "Conv2D", "activation", "linear", parseActivation);
  o.init = named(c, "Conv2D", "kernel_initializer", "glorot_uniform", parseInitializer);
  o.seed = optionalSeed(c);
  c.finish();
  return std::make_unique<Conv2D>(o);
}

template <class Pool>
ModuleFactory makePool(const char* type) {
  return [type](const nlohmann::json& config) -> std::unique_ptr<Module> {
    ConfigReader c(config, type);
    const auto kernel = c.pair("pool_size", {2, 2});
    const auto stride = c.pair("strides", kernel);
    SHRINK_CHECK(kernel.first <= INT32_MAX && kernel.second <= INT32_MAX && stride.first <= INT32_MAX &&
                     stride.second <= INT32_MAX,
                 "{} config: pool_size and strides must fit in 32 bits", type);
    Pool2dOptions o{.kernelH = static_cast<int>(kernel.first),
                    .kernelW = static_cast<int>(kernel.second),
                    .strideH = static_cast<int>(stride.first),
                    .strideW = static_cast<int>(stride.second),
                    .padding = named(c, type, "padding", "valid", parsePadding)};
    c.finish();
    return std::make_unique<Pool>(o);
  };
}

std::unique_ptr<Module> makeBatchNorm(const nlohmann::json& config) {
  ConfigReader c(config, "BatchNorm");
  BatchNormLayerOptions o;
  o.features = c.integer("features");
  o.momentum = static_cast<float>(c.number("momentum", o.momentum));
  o.epsilon = static_cast<float>(c.number("epsilon", o.epsilon));
  c.finish();
  return std::make_unique<BatchNorm>(o);
}

std::unique_ptr<Module> makeDropout(const nlohmann::json& config) {
  ConfigReader c(config, "Dropout");
  DropoutOptions o;
  o.rate = static_cast<float>(c.number("rate", o.rate));
  o.seed = optionalSeed(c);
  c.finish();
  return std::make_unique<Dropout>(o);
}

std::unique_ptr<Module> makeLeakyReLU(const nlohmann::json& config) {
  ConfigReader c(config, "LeakyReLU");
  LeakyReLUOptions o;
  o.alpha = static_cast<float>(c.number("alpha", o.alpha));
  c.finish();
  return std::make_unique<LeakyReLU>(o);
}

/// Factories of layers without options: the config must be empty.
template <class T>
ModuleFactory makeSimple(const char* type) {
  return [type](const nlohmann::json& config) -> std::unique_ptr<Module> {
    ConfigReader(config, type).finish();
    return std::make_unique<T>();
  };
}

struct Registry {
  std::mutex mutex;
  std::map<std::string, ModuleFactory> factories;

  Registry() {
    factories["Dense"] = makeDense;
    factories["Conv2D"] = makeConv2D;
    factories["MaxPool2D"] = makePool<MaxPool2D>("MaxPool2D");
    factories["AvgPool2D"] = makePool<AvgPool2D>("AvgPool2D");
    factories["BatchNorm"] = makeBatchNorm;
    factories["Dropout"] = makeDropout;
    factories["Flatten"] = makeSimple<Flatten>("Flatten");
    factories["ReLU"] = makeSimple<ReLU>("ReLU");
    factories["LeakyReLU"] = makeLeakyReLU;
    factories["Sigmoid"] = makeSimple<Sigmoid>("Sigmoid");
    factories["Tanh"] = makeSimple<Tanh>("Tanh");
    factories["Softmax"] = makeSimple<Softmax>("Softmax");
  }
};

Registry& registry() {
  static Registry r;
  return r;
}

ModuleFactory factoryOf(const std::string& type) {
  Registry& r = registry();
  std::lock_guard lock(r.mutex);
  auto it = r.factories.find(type);
  return it == r.factories.end() ? ModuleFactory{} : it->second;
}

[[noreturn]] void failAt(const std::string& where, const std::string& what) {
  throw std::invalid_argument(where.empty() ? fmt::format("buildModule: {}", what)
                                            : fmt::format("buildModule: {}: {}", where, what));
}

std::string keysOf(const nlohmann::json& j) {
  std::vector<std::string> keys;
  for (const auto& [k, v] : j.items()) keys.push_back(k);
  return fmt::format("{}", fmt::join(keys, ", "));
}

/// `where` locates `arch` in the document ("" for the root, "layer 2 ('dense_1')" below it).
std::unique_ptr<Module> build(const nlohmann::json& arch, const std::string& where) {
  if (!arch.is_object()) failAt(where, fmt::format("expected a JSON object with a \"type\", got {}", arch.dump()));
  if (!arch.contains("type")) failAt(where, fmt::format("missing field 'type' (fields: {})", keysOf(arch)));
  if (!arch["type"].is_string()) failAt(where, fmt::format("field 'type' must be a string, got {}", arch["type"].dump()));
  const std::string type = arch["type"].get<std::string>();
  for (const auto& [key, value] : arch.items())
    if (key != "type" && key != "name" && key != (type == kSequential ? "layers" : "config"))
      failAt(where, fmt::format("unexpected field '{}' in a {} entry (expected type, name, {})", key, type,
                                type == kSequential ? "layers" : "config"));

  if (type == kSequential) {
    if (!arch.contains("layers") || !arch["layers"].is_array())
      failAt(where, "a Sequential needs a \"layers\" array");
    auto seq = std::make_unique<Sequential>();
    const nlohmann::json& layers = arch["layers"];
    for (size_t i = 0; i < layers.size(); ++i) {
      const nlohmann::json& entry = layers[i];
      std::string name;
      if (entry.is_object() && entry.contains("name")) {
        if (!entry["name"].is_string())
          failAt(where, fmt::format("layer {}: field 'name' must be a string, got {}", i, entry["name"].dump()));
        name = entry["name"].get<std::string>();
      }
      std::string here = name.empty() ? fmt::format("layer {}", i) : fmt::format("layer {} ('{}')", i, name);
      if (!where.empty()) here = where + " > " + here;
      std::unique_ptr<Module> child = build(entry, here);
      try {
        seq->add(std::move(child), name);
      } catch (const std::invalid_argument& e) {
        failAt(here, e.what());
      }
    }
    return seq;
  }

  ModuleFactory factory = factoryOf(type);
  if (!factory)
    failAt(where, fmt::format("unknown layer type '{}' (known: {})", type, fmt::join(registeredModuleTypes(), ", ")));
  const nlohmann::json config = arch.contains("config") ? arch["config"] : nlohmann::json::object();
  if (!config.is_object()) failAt(where, fmt::format("{} 'config' must be a JSON object, got {}", type, config.dump()));
  try {
    std::unique_ptr<Module> m = factory(config);
    SHRINK_ASSERT(m != nullptr, "the factory of '{}' returned null", type);
    return m;
  } catch (const nlohmann::json::exception& e) {  // a factory reading its config unchecked
    failAt(where, fmt::format("{} config: {}", type, e.what()));
  } catch (const std::exception& e) {
    failAt(where, e.what());
  }
}

}  // namespace

void registerModuleType(std::string type, ModuleFactory factory) {
  SHRINK_CHECK(!type.empty(), "registerModuleType: empty type name");
  SHRINK_CHECK(type != kSequential, "registerModuleType: 'Sequential' is built in and cannot be replaced");
  SHRINK_CHECK(static_cast<bool>(factory), "registerModuleType('{}'): empty factory", type);
  Registry& r = registry();
  std::lock_guard lock(r.mutex);
  r.factories[std::move(type)] = std::move(factory);
}

bool isModuleTypeRegistered(const std::string& type) {
  return type == kSequential || static_cast<bool>(factoryOf(type));
}

std::vector<std::string> registeredModuleTypes() {
  Registry& r = registry();
  std::lock_guard lock(r.mutex);
  std::vector<std::string> out{kSequential};
  for (const auto& [type, f] : r.factories) out.push_back(type);
  std::sort(out.begin(), out.end());
  return out;
}

nlohmann::json architectureOf(const Module& module) {
  if (const auto* seq = dynamic_cast<const Sequential*>(&module)) {
    nlohmann::json layers = nlohmann::json::array();
    for (size_t i = 0; i < seq->size(); ++i) {
      nlohmann::json entry = architectureOf(seq->at(i));
      entry["name"] = seq->name(i);
      layers.push_back(std::move(entry));
    }
    return {{"type", kSequential}, {"layers", std::move(layers)}};
  }
  return {{"type", module.typeName()}, {"config", module.config()}};
}

std::unique_ptr<Module> buildModule(const nlohmann::json& architecture) { return build(architecture, ""); }

}  // namespace shrink
