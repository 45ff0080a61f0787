#pragma once

#include <cstdint>
#include <initializer_list>
#include <string>
#include <vector>

namespace shrink {

/// The dimensions of a tensor, outermost first (row-major). Images are NCHW; a Dense weight is
/// [out, in]; a Conv2D weight is [out, in, kh, kw]. Negative dimensions are rejected.
class Shape {
 public:
  Shape() = default;
  Shape(std::initializer_list<int64_t> dims);
  explicit Shape(std::vector<int64_t> dims);

  size_t rank() const { return dims_.size(); }
  int64_t operator[](size_t i) const { return dims_[i]; }
  /// Dimension `i`, counting from the end when negative (-1 is the last).
  int64_t dim(int i) const;
  int64_t numel() const;
  const std::vector<int64_t>& dims() const { return dims_; }
  /// "[32, 1, 28, 28]"
  std::string str() const;

  friend bool operator==(const Shape&, const Shape&) = default;

 private:
  void validate() const;
  std::vector<int64_t> dims_;
};

}  // namespace shrink
