#include "core/Check.h"
#include "core/Functions.h"

namespace shrink {

namespace {

/// scale * sum of all elements, as a scalar.
Variable reduceAll(const Variable& a, float scale, const char* op) {
  Tensor out = Tensor::scalar(scale * a.value().array().sum());
  return Variable::fromOp(
      std::move(out), {a},
      [scale](std::vector<Variable>& in, const Tensor& g, const Tensor&) {
        if (in[0].requiresGrad()) in[0].gradBuffer().array() += scale * g[0];
      },
      op);
}

/// scale * sum over `axis`: a viewed as [outer, len, inner] gives [outer, inner].
Variable reduceAxis(const Variable& a, int axis, bool keepDim, bool isMean, const char* op) {
  SHRINK_CHECK(a.defined(), "{}: undefined input", op);
  const Shape& s = a.shape();
  const int r = static_cast<int>(s.rank());
  SHRINK_CHECK(axis >= -r && axis < r, "{}: axis {} out of range for shape {}", op, axis, s.str());
  const int ax = axis < 0 ? axis + r : axis;
  int64_t outer = 1, inner = 1;
  for (int i = 0; i < ax; ++i) outer *= s[i];
  for (int i = ax + 1; i < r; ++i) inner *= s[i];
  const int64_t len = s[ax];
  SHRINK_CHECK(!isMean || len > 0, "{}: mean over axis {} of length 0 in shape {}", op, axis, s.str());
  const float scale = isMean ? 1.0f / static_cast<float>(len) : 1.0f;

  std::vector<int64_t> dims = s.dims();
  if (keepDim)
    dims[ax] = 1;
  else
    dims.erase(dims.begin() + ax);
  Tensor out = Tensor::zeros(Shape(dims));
  const float* x = a.value().data();
  for (int64_t o = 0; o < outer; ++o) {
    ArrayMap y(out.data() + o * inner, inner);
    if (inner == 1) {
      y(0) = ConstArrayMap(x + o * len, len).sum();
    } else {
      for (int64_t l = 0; l < len; ++l) y += ConstArrayMap(x + (o * len + l) * inner, inner);
    }
    y *= scale;
  }
  return Variable::fromOp(
      std::move(out), {a},
      [outer, len, inner, scale](std::vector<Variable>& in, const Tensor& g, const Tensor&) {
        if (!in[0].requiresGrad()) return;
        float* gx = in[0].gradBuffer().data();
        for (int64_t o = 0; o < outer; ++o) {
          const ConstArrayMap go(g.data() + o * inner, inner);
          for (int64_t l = 0; l < len; ++l) ArrayMap(gx + (o * len + l) * inner, inner) += scale * go;
        }
      },
      op);
}

}  // namespace

Variable sum(const Variable& a) {
  SHRINK_CHECK(a.defined(), "sum: undefined input");
  return reduceAll(a, 1.0f, "sum");
}

Variable mean(const Variable& a) {
  SHRINK_CHECK(a.defined(), "mean: undefined input");
  SHRINK_CHECK(a.numel() > 0, "mean: empty tensor of shape {}", a.shape().str());
  return reduceAll(a, 1.0f / static_cast<float>(a.numel()), "mean");
}

Variable sum(const Variable& a, int axis, bool keepDim) { return reduceAxis(a, axis, keepDim, false, "sum"); }

Variable mean(const Variable& a, int axis, bool keepDim) { return reduceAxis(a, axis, keepDim, true, "mean"); }

}  // namespace shrink
