#include <algorithm>

#include "core/Check.h"
#include "core/Functions.h"

namespace shrink {

namespace {

/// The same data under `shape` (equal numel); the gradient flows back unchanged in row-major order.
Variable view(const Variable& a, Tensor out, const char* op) {
  return Variable::fromOp(
      std::move(out), {a},
      [](std::vector<Variable>& in, const Tensor& g, const Tensor&) {
        if (in[0].requiresGrad()) in[0].gradBuffer().array() += g.array();
      },
      op);
}

}  // namespace

Variable reshape(const Variable& a, const std::vector<int64_t>& dims) {
  SHRINK_CHECK(a.defined(), "reshape: undefined input");
  return view(a, a.value().reshaped(dims), "reshape");
}

Variable flatten(const Variable& a) {
  SHRINK_CHECK(a.defined(), "flatten: undefined input");
  const Shape& s = a.shape();
  SHRINK_CHECK(s.rank() >= 1, "flatten: expected [N, ...], got a scalar {}", s.str());
  int64_t rest = 1;
  for (size_t i = 1; i < s.rank(); ++i) rest *= s[i];
  return view(a, a.value().reshaped({s[0], rest}), "flatten");
}

Variable concat(const std::vector<Variable>& parts, int axis) {
  SHRINK_CHECK(!parts.empty(), "concat: no inputs");
  for (size_t p = 0; p < parts.size(); ++p) SHRINK_CHECK(parts[p].defined(), "concat: input {} is undefined", p);
  const Shape& s0 = parts[0].shape();
  const int r = static_cast<int>(s0.rank());
  SHRINK_CHECK(r >= 1, "concat: cannot concatenate scalars");
  SHRINK_CHECK(axis >= -r && axis < r, "concat: axis {} out of range for shape {}", axis, s0.str());
  const int ax = axis < 0 ? axis + r : axis;
  std::vector<int64_t> dims = s0.dims();
  dims[ax] = 0;
  std::vector<int64_t> widths;  // each part's contiguous block per outer index: len * inner
  int64_t outer = 1, inner = 1;
  for (int i = 0; i < ax; ++i) outer *= s0[i];
  for (int i = ax + 1; i < r; ++i) inner *= s0[i];
  for (size_t p = 0; p < parts.size(); ++p) {
    const Shape& sp = parts[p].shape();
    bool ok = static_cast<int>(sp.rank()) == r;
    for (int i = 0; ok && i < r; ++i) ok = i == ax || sp[i] == s0[i];
    SHRINK_CHECK(ok, "concat: input {} has shape {}, incompatible with {} along axis {}", p, sp.str(), s0.str(),
                 axis);
    dims[ax] += sp[ax];
    widths.push_back(sp[ax] * inner);
  }
  const int64_t total = dims[ax] * inner;
  Tensor out{Shape(dims)};
  int64_t col = 0;
  for (size_t p = 0; p < parts.size(); ++p) {
    const float* src = parts[p].value().data();
    for (int64_t o = 0; o < outer; ++o)
      std::copy_n(src + o * widths[p], widths[p], out.data() + o * total + col);
    col += widths[p];
  }
  return Variable::fromOp(
      std::move(out), parts,
      [outer, total, widths](std::vector<Variable>& in, const Tensor& g, const Tensor&) {
        int64_t c = 0;
        for (size_t p = 0; p < in.size(); ++p) {
          const int64_t w = widths[p];
          if (in[p].requiresGrad()) {
            float* gx = in[p].gradBuffer().data();
            for (int64_t o = 0; o < outer; ++o)
              ArrayMap(gx + o * w, w) += ConstArrayMap(g.data() + o * total + c, w);
          }
          c += w;
        }
      },
      "concat");
}

}  // namespace shrink
