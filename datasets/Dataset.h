#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "core/Shape.h"
#include "core/Tensor.h"

namespace shrink::data {

/// One example: input `x` of the dataset's example shape and target `y` of its target shape.
struct Example {
  Tensor x;
  Tensor y;
};

/// A batch of B examples: `x` is [B, ...exampleShape], `y` is [B] (class ids) or [B, T] (regression).
struct Batch {
  Tensor x;
  Tensor y;
  int64_t size() const { return x.rank() == 0 ? 0 : x.dim(0); }
};

/// A finite, indexable collection of examples. Targets of shape [] are class ids stored as float;
/// targets of shape [T] are regression targets.
class Dataset {
 public:
  virtual ~Dataset() = default;

  /// Number of examples.
  virtual int64_t size() const = 0;
  /// Shape of one input, without the batch dimension (e.g. [784] or [1, 28, 28]).
  virtual Shape exampleShape() const = 0;
  /// Shape of one target: [] for class ids, [T] for regression.
  virtual Shape targetShape() const = 0;
  /// Example `i` (0 <= i < size()).
  virtual Example get(int64_t i) const = 0;
  /// The examples at `indices`, stacked in that order (repeats allowed). The default stacks get(i);
  /// datasets that hold contiguous storage override it to copy rows directly.
  virtual Batch gather(std::span<const int64_t> indices) const;
};

/// A dataset held as two tensors: inputs [N, ...] and targets [N] (class ids) or [N, T] (regression).
/// The data are stored once; get() and gather() copy only the requested rows.
class TensorDataset : public Dataset {
 public:
  TensorDataset() = default;
  /// Takes ownership of `inputs` (rank >= 1) and `targets` (rank 1 or 2) with equal first dimension.
  TensorDataset(Tensor inputs, Tensor targets);

  int64_t size() const override { return size_; }
  Shape exampleShape() const override;
  Shape targetShape() const override;
  Example get(int64_t i) const override;
  Batch gather(std::span<const int64_t> indices) const override;

  /// A new dataset holding copies of the rows at `indices`, in that order.
  TensorDataset subset(std::span<const int64_t> indices) const;

  /// All inputs, [N, ...].
  const Tensor& inputs() const { return inputs_; }
  /// All targets, [N] or [N, T].
  const Tensor& targets() const { return targets_; }

 private:
  Tensor inputs_{Shape{0}};
  Tensor targets_{Shape{0}};
  int64_t size_ = 0;
};

}  // namespace shrink::data
