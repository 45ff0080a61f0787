#pragma once

#include <cstdint>
#include <cstdlib>
#include <new>
#include <span>
#include <utility>
#include <vector>

#include <Eigen/Core>

#include "core/BlockCache.h"
#include "core/Shape.h"

namespace shrink {

namespace detail {
/// 64-byte aligned allocation (large blocks recycled through the block cache), so kernels may use aligned AVX loads on tensor data.
template <class T>
struct AlignedAllocator {
  using value_type = T;
  AlignedAllocator() = default;
  template <class U>
  AlignedAllocator(const AlignedAllocator<U>&) {}
  T* allocate(size_t n) { return static_cast<T*>(allocateBlock(n * sizeof(T))); }
  void deallocate(T* p, size_t n) noexcept { freeBlock(p, n * sizeof(T)); }
  /// Default-initialises (leaves a float uninitialised) where std::allocator would value-initialise
  /// (zero it): resize() does not write memory its caller overwrites anyway. Every other
  /// construction (fill, copy) is unchanged.
  template <class U>
  void construct(U* p) noexcept {
    ::new (static_cast<void*>(p)) U;
  }
  template <class U, class... Args>
  void construct(U* p, Args&&... args) {
    ::new (static_cast<void*>(p)) U(std::forward<Args>(args)...);
  }
  template <class U>
  bool operator==(const AlignedAllocator<U>&) const { return true; }
};
}  // namespace detail

using MatrixRM = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
using MatrixMap = Eigen::Map<MatrixRM>;
using ConstMatrixMap = Eigen::Map<const MatrixRM>;
using ArrayMap = Eigen::Map<Eigen::ArrayXf>;
using ConstArrayMap = Eigen::Map<const Eigen::ArrayXf>;

/// An owning, contiguous, row-major float32 buffer with a Shape of rank 0 to 4 (NCHW for images).
/// A value type: copying copies the data, moving is cheap. It knows nothing of autograd.
/// Layout conventions: Dense weight [out, in]; Conv2D weight [out, in, kh, kw]; batches first.
class Tensor {
 public:
  Tensor() = default;
  /// A tensor of `shape` filled with `fill`.
  explicit Tensor(Shape shape, float fill = 0.0f);
  /// A tensor of `shape` holding `values` (row-major); sizes must agree.
  Tensor(Shape shape, std::vector<float> values);

  static Tensor zeros(Shape shape) { return Tensor(std::move(shape), 0.0f); }
  static Tensor ones(Shape shape) { return Tensor(std::move(shape), 1.0f); }
  static Tensor full(Shape shape, float v) { return Tensor(std::move(shape), v); }
  static Tensor scalar(float v) { return Tensor(Shape{}, v); }
  /// A tensor of `shape` whose values are not initialised: for results that write every element
  /// before anything reads one (saves the zero-filling pass of `Tensor(shape)`).
  static Tensor uninitialized(Shape shape);
  /// A 1-D tensor of `values`.
  static Tensor fromVector(const std::vector<float>& values);

  const Shape& shape() const { return shape_; }
  size_t rank() const { return shape_.rank(); }
  int64_t dim(int i) const { return shape_.dim(i); }
  int64_t numel() const { return static_cast<int64_t>(data_.size()); }
  bool empty() const { return data_.empty() && shape_.rank() == 0; }

  float* data() { return data_.data(); }
  const float* data() const { return data_.data(); }
  std::span<float> span() { return {data_.data(), data_.size()}; }
  std::span<const float> span() const { return {data_.data(), data_.size()}; }
  float* begin() { return data_.data(); }
  float* end() { return data_.data() + data_.size(); }
  const float* begin() const { return data_.data(); }
  const float* end() const { return data_.data() + data_.size(); }

  float& operator[](int64_t i) { return data_[static_cast<size_t>(i)]; }
  float operator[](int64_t i) const { return data_[static_cast<size_t>(i)]; }
  /// Element at a multi-index; checked (for tests and tools, not for hot loops).
  float& at(std::initializer_list<int64_t> idx);
  float at(std::initializer_list<int64_t> idx) const;
  /// The single value of a tensor with one element.
  float item() const;

  /// Views: the whole tensor as a 1-D Eigen array, or as a [rows, cols] row-major matrix
  /// (rows * cols must equal numel). `matrix()` without arguments is [dim0, numel / dim0].
  ArrayMap array() { return {data(), numel()}; }
  ConstArrayMap array() const { return {data(), numel()}; }
  MatrixMap matrix(int64_t rows, int64_t cols);
  ConstMatrixMap matrix(int64_t rows, int64_t cols) const;
  MatrixMap matrix();
  ConstMatrixMap matrix() const;

  /// The same data under another shape of equal numel (-1 infers one dimension).
  Tensor reshaped(const std::vector<int64_t>& dims) const&;
  Tensor reshaped(const std::vector<int64_t>& dims) &&;

  void fill(float v);
  void setZero() { fill(0.0f); }
  /// this += other (same shape).
  Tensor& operator+=(const Tensor& other);
  Tensor& operator*=(float s);

 private:
  Shape resolve(const std::vector<int64_t>& dims) const;
  Shape shape_;
  std::vector<float, detail::AlignedAllocator<float>> data_;
};

/// Human-readable short form for messages: "Tensor[2, 3]{0.1, 0.2, ...}".
std::string describe(const Tensor& t, int maxValues = 6);

}  // namespace shrink
