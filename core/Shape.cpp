#include "core/Shape.h"

#include "core/Check.h"

namespace shrink {

Shape::Shape(std::initializer_list<int64_t> dims) : dims_(dims) { validate(); }

Shape::Shape(std::vector<int64_t> dims) : dims_(std::move(dims)) { validate(); }

void Shape::validate() const {
  for (int64_t d : dims_) SHRINK_CHECK(d >= 0, "Shape: negative dimension {} in {}", d, str());
}

int64_t Shape::dim(int i) const {
  const int r = static_cast<int>(dims_.size());
  const int j = i < 0 ? i + r : i;
  SHRINK_CHECK(j >= 0 && j < r, "Shape::dim: index {} out of range for shape {}", i, str());
  return dims_[j];
}

int64_t Shape::numel() const {
  int64_t n = 1;
  for (int64_t d : dims_) n *= d;
  return n;
}

std::string Shape::str() const { return fmt::format("[{}]", fmt::join(dims_, ", ")); }

}  // namespace shrink
