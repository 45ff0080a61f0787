#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/Module.h"

namespace shrink {

/// Architecture <-> JSON: what model files store and what users write by hand.
///
/// A Sequential is {"type": "Sequential", "layers": [entry, ...]}; each entry is
/// {"type": "Dense", "name": "dense", "config": {...}} (a nested Sequential entry carries "layers"
/// instead of "config"). "name" is optional when building (the default name is used) and "config"
/// may be omitted when every field has a default. Config keys are Keras-like snake_case:
///   Dense      in, out, use_bias, activation, kernel_initializer, seed
///   Conv2D     in, out, kernel_size, strides, padding ("valid" | "same"), use_bias, activation,
///              kernel_initializer, seed      (kernel_size / strides: n or [h, w])
///   MaxPool2D, AvgPool2D   pool_size, strides, padding
///   BatchNorm  features, momentum, epsilon          Dropout  rate, seed
///   LeakyReLU  alpha        Flatten, ReLU, Sigmoid, Tanh, Softmax  (none)
/// activation: "linear" | "relu" | "leaky_relu" | "sigmoid" | "tanh" | "softmax".
///
/// A module that wraps another (compression wrappers) puts architectureOf(inner) into its own
/// config() and calls buildModule on it in its factory.

/// Builds a module of one type from its "config" object (a JSON object, possibly empty).
using ModuleFactory = std::function<std::unique_ptr<Module>(const nlohmann::json& config)>;

/// Adds (or replaces) the factory of `type`, the name its modules give as typeName(). The layers of
/// this folder are registered from the start; "Sequential" is built in and cannot be replaced.
void registerModuleType(std::string type, ModuleFactory factory);
bool isModuleTypeRegistered(const std::string& type);
/// Every buildable type name, sorted (with "Sequential").
std::vector<std::string> registeredModuleTypes();

/// The architecture of `module`: the Sequential form above for a Sequential, else
/// {"type": typeName(), "config": config()}.
nlohmann::json architectureOf(const Module& module);
/// A freshly initialised module of that architecture (weights are loaded separately). Errors are
/// std::invalid_argument naming the place: "buildModule: layer 2 ('dense_1'): Dense config: missing
/// required field 'out'", unknown types listing the known ones.
std::unique_ptr<Module> buildModule(const nlohmann::json& architecture);

}  // namespace shrink
