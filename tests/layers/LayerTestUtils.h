#pragma once

#include <cmath>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "GradCheck.h"
#include "TestUtils.h"
#include "core/Module.h"
#include "core/Tensor.h"

namespace shrink::test {

/// pattern(shape, a, b)[i] = float(sin(a * i + b)) over the row-major index i. The reference
/// scripts build the same tensors with numpy: np.sin(a * np.arange(n) + b).astype(np.float32).
/// (The four-argument pattern(shape, mul, add, mod) of TestUtils.h is the core tests' integer one.)
inline Tensor pattern(const Shape& shape, double a, double b) {
  Tensor t(shape);
  for (int64_t i = 0; i < t.numel(); ++i) t[i] = static_cast<float>(std::sin(a * double(i) + b));
  return t;
}

inline Tensor values(Shape shape, std::vector<float> v) { return Tensor(std::move(shape), std::move(v)); }

/// Central-difference check of `layer.forward` with respect to its input and every parameter: the
/// probe variables are put in place of the parameter leaves (Parameter::leaf() is the Variable the
/// layer reads through value()), so the gradient reaches them through the layer's own forward.
/// `before` runs before each forward (e.g. to reseed a dropout generator). Leaves are restored.
inline ::testing::AssertionResult gradCheckLayer(Module& layer, const Tensor& input, float eps = 1e-2f,
                                                 float tolerance = 1e-2f,
                                                 const std::function<void()>& before = {}) {
  auto params = layer.parameters();
  std::vector<Variable> saved;
  std::vector<Tensor> inputs{input};
  for (Parameter* p : params) {
    saved.push_back(p->leaf());
    inputs.push_back(p->leaf().value());
  }
  auto f = [&](std::vector<Variable>& v) {
    for (size_t i = 0; i < params.size(); ++i) params[i]->leaf() = v[i + 1];
    if (before) before();
    return layer.forward(v[0]);
  };
  auto result = gradCheck(f, inputs, eps, tolerance);
  for (size_t i = 0; i < params.size(); ++i) params[i]->leaf() = saved[i];
  return result;
}

/// The layer tests' name for messageOf (TestUtils.h).
template <class Fn>
std::string invalidArgumentMessage(Fn&& fn) {
  return messageOf(std::forward<Fn>(fn));
}

}  // namespace shrink::test
