#include "core/Tensor.h"

#include <algorithm>
#include <cmath>

#include "core/Check.h"

namespace shrink {

Tensor::Tensor(Shape shape, float fill) : shape_(std::move(shape)) {
  data_.assign(static_cast<size_t>(shape_.numel()), fill);
}

Tensor::Tensor(Shape shape, std::vector<float> values) : shape_(std::move(shape)) {
  SHRINK_CHECK(static_cast<int64_t>(values.size()) == shape_.numel(),
               "Tensor: shape {} needs {} values, got {}", shape_.str(), shape_.numel(),
               values.size());
  data_.assign(values.begin(), values.end());
}

Tensor Tensor::uninitialized(Shape shape) {
  Tensor t;
  t.data_.resize(static_cast<size_t>(shape.numel()));
  t.shape_ = std::move(shape);
  return t;
}

Tensor Tensor::fromVector(const std::vector<float>& values) {
  return Tensor(Shape{static_cast<int64_t>(values.size())}, values);
}

float& Tensor::at(std::initializer_list<int64_t> idx) {
  SHRINK_CHECK(idx.size() == shape_.rank(), "Tensor::at: {} indices for shape {}", idx.size(),
               shape_.str());
  int64_t flat = 0;
  size_t i = 0;
  for (int64_t v : idx) {
    SHRINK_CHECK(v >= 0 && v < shape_[i], "Tensor::at: index {} out of range in dimension {} of {}",
                 v, i, shape_.str());
    flat = flat * shape_[i] + v;
    ++i;
  }
  return data_[static_cast<size_t>(flat)];
}

float Tensor::at(std::initializer_list<int64_t> idx) const {
  return const_cast<Tensor*>(this)->at(idx);
}

float Tensor::item() const {
  SHRINK_CHECK(numel() == 1, "Tensor::item: tensor of shape {} has {} elements, not 1",
               shape_.str(), numel());
  return data_[0];
}

MatrixMap Tensor::matrix(int64_t rows, int64_t cols) {
  SHRINK_CHECK(rows * cols == numel(), "Tensor::matrix: [{}, {}] view of a tensor of shape {}", rows,
               cols, shape_.str());
  return {data(), rows, cols};
}

ConstMatrixMap Tensor::matrix(int64_t rows, int64_t cols) const {
  SHRINK_CHECK(rows * cols == numel(), "Tensor::matrix: [{}, {}] view of a tensor of shape {}", rows,
               cols, shape_.str());
  return {data(), rows, cols};
}

MatrixMap Tensor::matrix() {
  const int64_t rows = rank() == 0 ? 1 : shape_[0];
  return matrix(rows, rows == 0 ? 0 : numel() / rows);
}

ConstMatrixMap Tensor::matrix() const {
  const int64_t rows = rank() == 0 ? 1 : shape_[0];
  return matrix(rows, rows == 0 ? 0 : numel() / rows);
}

Shape Tensor::resolve(const std::vector<int64_t>& dims) const {
  std::vector<int64_t> out = dims;
  int64_t known = 1;
  int inferred = -1;
  for (size_t i = 0; i < out.size(); ++i) {
    if (out[i] == -1) {
      SHRINK_CHECK(inferred < 0, "reshape: more than one -1 in [{}]", fmt::join(dims, ", "));
      inferred = static_cast<int>(i);
    } else {
      SHRINK_CHECK(out[i] >= 0, "reshape: negative dimension in [{}]", fmt::join(dims, ", "));
      known *= out[i];
    }
  }
  if (inferred >= 0) {
    SHRINK_CHECK(known > 0 && numel() % known == 0, "reshape: cannot reshape {} into [{}]",
                 shape_.str(), fmt::join(dims, ", "));
    out[inferred] = numel() / known;
  }
  Shape s(out);
  SHRINK_CHECK(s.numel() == numel(), "reshape: cannot reshape {} ({} elements) into {}",
               shape_.str(), numel(), s.str());
  return s;
}

Tensor Tensor::reshaped(const std::vector<int64_t>& dims) const& {
  Tensor t = *this;
  t.shape_ = resolve(dims);
  return t;
}

Tensor Tensor::reshaped(const std::vector<int64_t>& dims) && {
  shape_ = resolve(dims);
  return std::move(*this);
}

void Tensor::fill(float v) { std::fill(data_.begin(), data_.end(), v); }

Tensor& Tensor::operator+=(const Tensor& other) {
  SHRINK_CHECK(other.shape_ == shape_, "Tensor::operator+=: shapes {} and {} differ", shape_.str(),
               other.shape_.str());
  array() += other.array();
  return *this;
}

Tensor& Tensor::operator*=(float s) {
  array() *= s;
  return *this;
}

std::string describe(const Tensor& t, int maxValues) {
  std::vector<float> head(t.begin(), t.begin() + std::min<int64_t>(t.numel(), maxValues));
  return fmt::format("Tensor{}{{{}{}}}", t.shape().str(), fmt::join(head, ", "),
                     t.numel() > maxValues ? ", ..." : "");
}

}  // namespace shrink
