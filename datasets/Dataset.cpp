#include "datasets/Dataset.h"

#include <algorithm>
#include <cstring>

#include "core/Check.h"

namespace shrink::data {
namespace {

/// [B] followed by the dimensions of `inner`.
Shape batchShape(int64_t b, const Shape& inner) {
  std::vector<int64_t> dims{b};
  dims.insert(dims.end(), inner.dims().begin(), inner.dims().end());
  return Shape(std::move(dims));
}

/// Shape of `t` without its first dimension.
Shape rowShape(const Tensor& t) {
  return Shape(std::vector<int64_t>(t.shape().dims().begin() + 1, t.shape().dims().end()));
}

/// Copies rows `indices` of `src` (viewed as [N, rowSize]) into a new tensor [B, ...].
Tensor gatherRows(const Tensor& src, std::span<const int64_t> indices) {
  const int64_t n = src.dim(0);
  const int64_t rowSize = n == 0 ? 0 : src.numel() / n;
  Tensor out(batchShape(static_cast<int64_t>(indices.size()), rowShape(src)));
  float* dst = out.data();
  for (int64_t i : indices) {
    std::memcpy(dst, src.data() + i * rowSize, static_cast<size_t>(rowSize) * sizeof(float));
    dst += rowSize;
  }
  return out;
}

}  // namespace

Batch Dataset::gather(std::span<const int64_t> indices) const {
  const int64_t b = static_cast<int64_t>(indices.size());
  const Shape xShape = exampleShape();
  const Shape yShape = targetShape();
  Batch batch{Tensor(batchShape(b, xShape)), Tensor(batchShape(b, yShape))};
  const int64_t xSize = xShape.numel();
  const int64_t ySize = yShape.numel();
  for (int64_t k = 0; k < b; ++k) {
    Example e = get(indices[static_cast<size_t>(k)]);
    SHRINK_CHECK(e.x.numel() == xSize && e.y.numel() == ySize,
                 "Dataset::gather: example {} has shapes {} / {}, expected {} / {}",
                 indices[static_cast<size_t>(k)], e.x.shape().str(), e.y.shape().str(),
                 xShape.str(), yShape.str());
    std::copy(e.x.begin(), e.x.end(), batch.x.data() + k * xSize);
    std::copy(e.y.begin(), e.y.end(), batch.y.data() + k * ySize);
  }
  return batch;
}

TensorDataset::TensorDataset(Tensor inputs, Tensor targets)
    : inputs_(std::move(inputs)), targets_(std::move(targets)) {
  SHRINK_CHECK(inputs_.rank() >= 1, "TensorDataset: inputs need a batch dimension, got shape {}",
               inputs_.shape().str());
  SHRINK_CHECK(targets_.rank() == 1 || targets_.rank() == 2,
               "TensorDataset: targets must be [N] (class ids) or [N, T] (regression), got shape {}",
               targets_.shape().str());
  SHRINK_CHECK(inputs_.dim(0) == targets_.dim(0),
               "TensorDataset: {} inputs (shape {}) but {} targets (shape {})", inputs_.dim(0),
               inputs_.shape().str(), targets_.dim(0), targets_.shape().str());
  size_ = inputs_.dim(0);
}

Shape TensorDataset::exampleShape() const { return rowShape(inputs_); }

Shape TensorDataset::targetShape() const { return rowShape(targets_); }

Example TensorDataset::get(int64_t i) const {
  SHRINK_CHECK(i >= 0 && i < size_, "TensorDataset::get: index {} out of range [0, {})", i, size_);
  const int64_t index[1] = {i};
  Batch b = gather(index);
  return {std::move(b.x).reshaped(exampleShape().dims()), std::move(b.y).reshaped(targetShape().dims())};
}

Batch TensorDataset::gather(std::span<const int64_t> indices) const {
  for (int64_t i : indices)
    SHRINK_CHECK(i >= 0 && i < size_, "TensorDataset::gather: index {} out of range [0, {})", i, size_);
  return {gatherRows(inputs_, indices), gatherRows(targets_, indices)};
}

TensorDataset TensorDataset::subset(std::span<const int64_t> indices) const {
  Batch b = gather(indices);
  return TensorDataset(std::move(b.x), std::move(b.y));
}

}  // namespace shrink::data
