#pragma once

#include <vector>

#include "core/Variable.h"

namespace shrink {

/// The order in which weight transforms apply: Deep Compression's prune -> cluster -> quantize.
enum class TransformStage { Prune = 0, Cluster = 1, Quantize = 2 };

/// A differentiable transform of a weight on its way into an op (a pruning mask, a cluster
/// gather, a fake-quantizer). Built from autograd ops so the gradient reaches the leaf.
class WeightTransform {
 public:
  virtual ~WeightTransform() = default;
  virtual Variable apply(const Variable& weight) const = 0;
  virtual TransformStage stage() const = 0;
};

/// A trainable leaf plus an ordered chain of transforms. Optimizers and saving see `leaf()`;
/// layers read `value()`, the leaf through every transform, and never know they are compressed.
class Parameter {
 public:
  explicit Parameter(Tensor init, bool trainable = true);
  Parameter(const Parameter&) = delete;
  Parameter& operator=(const Parameter&) = delete;

  Variable& leaf() { return leaf_; }
  const Variable& leaf() const { return leaf_; }
  const Shape& shape() const { return leaf_.shape(); }
  int64_t numel() const { return leaf_.numel(); }
  bool trainable() const { return trainable_; }
  void setTrainable(bool on);

  /// The leaf through every transform, in stage order. Without transforms, the leaf itself.
  Variable value() const;

  /// Attaches a transform (not owned; the owner detaches it before it dies). Stable-sorted by stage.
  void addTransform(const WeightTransform* t);
  void removeTransform(const WeightTransform* t);
  const std::vector<const WeightTransform*>& transforms() const { return transforms_; }

  /// leaf <- value(), computed without a graph; then the chain is cleared.
  void bake();

 private:
  Variable leaf_;
  bool trainable_;
  std::vector<const WeightTransform*> transforms_;
};

}  // namespace shrink
