#pragma once

#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/Parameter.h"
#include "core/Variable.h"

namespace shrink {

/// A node of the model tree with parameters, buffers and child modules registered by name in its
/// constructor; everything else (optimizer lists, saving, summaries, compression targets such as
/// "dense_1.weight") is derived from that registry. Modules have an identity: neither copyable
/// nor movable.
class Module {
 public:
  Module() = default;
  virtual ~Module() = default;
  Module(const Module&) = delete;
  Module& operator=(const Module&) = delete;
  Module(Module&&) = delete;
  Module& operator=(Module&&) = delete;

  virtual Variable forward(const Variable& x) = 0;
  Variable operator()(const Variable& x) { return forward(x); }

  /// The layer type as users write it ("Dense", "Conv2D", ...); also the key of architecture files.
  virtual std::string typeName() const = 0;
  /// The options that rebuild this module (architecture files). Children are described by
  /// their container.
  virtual nlohmann::json config() const { return nlohmann::json::object(); }
  /// The weights a compression technique may transform (Dense and Conv2D: the kernel).
  virtual std::vector<Parameter*> compressibleWeights() { return {}; }

  /// Train or evaluation mode, recursively.
  void train(bool on = true);
  void eval() { train(false); }
  bool isTraining() const { return training_; }

  /// Registered entries, in registration order. Recursive ones are prefixed "child.name".
  std::vector<std::pair<std::string, Parameter*>> namedParameters(bool recurse = true) const;
  std::vector<Parameter*> parameters(bool recurse = true) const;
  /// The parameters an optimizer updates (trainable ones).
  std::vector<Parameter*> trainableParameters() const;
  std::vector<std::pair<std::string, Tensor*>> namedBuffers(bool recurse = true) const;
  std::vector<std::pair<std::string, Module*>> namedChildren() const;
  /// Every descendant (not this module), depth first, with dotted names.
  std::vector<std::pair<std::string, Module*>> namedModules() const;
  /// Calls `fn` on this module and every descendant, parents first.
  void visit(const std::function<void(Module&)>& fn);

  int64_t parameterCount() const;
  int64_t trainableParameterCount() const;

  /// Zeroes the gradient of every parameter.
  void zeroGrad();

 protected:
  Parameter& registerParameter(std::string name, Tensor init, bool trainable = true);
  Tensor& registerBuffer(std::string name, Tensor init);
  Module& registerModule(std::string name, std::unique_ptr<Module> module);
  /// Puts `module` in the place of the child `name` and returns the previous child.
  std::unique_ptr<Module> replaceModule(const std::string& name, std::unique_ptr<Module> module);
  /// Removes every child (containers that rebuild their list).
  std::vector<std::pair<std::string, std::unique_ptr<Module>>> releaseModules();
  /// Hook for modules whose mode matters beyond the flag.
  virtual void onModeChange() {}

 private:
  void checkNewName(const std::string& name) const;
  bool training_ = true;
  std::vector<std::pair<std::string, std::unique_ptr<Parameter>>> parameters_;
  std::vector<std::pair<std::string, std::unique_ptr<Tensor>>> buffers_;
  std::vector<std::pair<std::string, std::unique_ptr<Module>>> children_;
};

}  // namespace shrink
