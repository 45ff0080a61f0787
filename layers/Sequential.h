#pragma once

#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "core/Module.h"

namespace shrink {

/// An ordered chain of owned child modules: forward(x) = child_n(...child_1(x)).
/// Children are registered under Keras-like names ("dense", "dense_1", "conv2d",
/// "batch_normalization", ...) unless given one, so parameters are "dense_1.weight" and so on.
/// Compression wrappers take a child's place through replace(); the name stays.
class Sequential : public Module {
 public:
  Sequential() = default;

  /// Builds a T from its options and appends it: `seq.add<Dense>({.in = 784, .out = 128})`.
  /// The reference stays valid while the child is in place.
  template <class T>
  T& add(typename T::Options options, std::string name = "") {
    auto module = std::make_unique<T>(std::move(options));
    T& ref = *module;
    add(std::move(module), std::move(name));
    return ref;
  }
  /// Appends a module; an empty name means the default one for its type. Names must be unique.
  Module& add(std::unique_ptr<Module> module, std::string name = "");
  /// Puts a module before child i (i == size() appends), named as add() names it; the children
  /// after it move up one place. Returns the new child.
  Module& insert(size_t i, std::unique_ptr<Module> module, std::string name = "");

  size_t size() const { return layers_.size(); }
  bool empty() const { return layers_.empty(); }
  /// The i-th child; throws std::invalid_argument when i >= size().
  Module& at(size_t i);
  const Module& at(size_t i) const;
  const std::string& name(size_t i) const;
  /// The index of the child named `name`; throws when there is none.
  size_t indexOf(const std::string& name) const;
  /// Takes child i out (the children after it move down one place) and returns it.
  std::unique_ptr<Module> remove(size_t i);
  /// Puts `module` in the place (and under the name) of child i; returns the previous child.
  std::unique_ptr<Module> replace(size_t i, std::unique_ptr<Module> module);
  /// Puts fn(child i) in the place of child i, under the same name: how a compression wrapper takes
  /// ownership of the layer it wraps (`seq.wrap(i, [&](auto& inner) { return
  /// std::make_unique<Wrapper>(std::move(inner), opts); })`) and how strip() unwraps it. `fn` takes
  /// ownership by moving from its argument; if it throws before doing so, the child is put back.
  /// Returns the new child.
  Module& wrap(size_t i, const std::function<std::unique_ptr<Module>(std::unique_ptr<Module>& child)>& fn);

  /// The children in order; an empty Sequential is the identity. An invalid_argument from a child
  /// is rethrown prefixed with the child's index, name and type.
  Variable forward(const Variable& x) override;
  std::string typeName() const override { return "Sequential"; }

  /// The output shape of every child for one input batch of `inputShape` (batch first; a batch of
  /// one zero example is run in eval mode without a graph; modes and statistics are left as found).
  std::vector<Shape> outputShapes(const Shape& inputShape);
  /// A Keras-like table: "Layer (type) | Output Shape | Param #" with the batch shown as None, then
  /// Total / Trainable / Non-trainable params. Buffers (BatchNorm's running statistics, compression
  /// state) count as non-trainable, as Keras counts moving mean and variance.
  /// `inputShape` is the shape of an input batch, batch dimension first (its size is ignored).
  std::string summary(const Shape& inputShape);

  /// The name add() gives a `type` module when none is given: Keras' for its layers
  /// ("batch_normalization", "max_pooling2d"), else the snake_case type name.
  static std::string defaultBaseName(const std::string& type);

 private:
  /// Registers `children` anew, in this order, as the layers.
  void reregister(std::vector<std::pair<std::string, std::unique_ptr<Module>>> children);

  std::vector<std::pair<std::string, Module*>> layers_;
};

}  // namespace shrink
