#include <cmath>

#include "core/Check.h"
#include "core/Functions.h"

namespace shrink {

namespace {

void checkDefined(const Variable& a, const char* op) { SHRINK_CHECK(a.defined(), "{}: undefined input", op); }

/// [rows, K] view of a tensor for ops over the last axis; K is the last dimension.
std::pair<int64_t, int64_t> rowsAndLast(const Shape& s, const char* op) {
  SHRINK_CHECK(s.rank() >= 1, "{}: expected at least one dimension, got {}", op, s.str());
  const int64_t k = s.dim(-1);
  return {k == 0 ? 0 : s.numel() / k, k};
}

}  // namespace

Variable relu(const Variable& a) {
  checkDefined(a, "relu");
  Tensor out(a.shape());
  out.array() = a.value().array().max(0.0f);
  return Variable::fromOp(
      std::move(out), {a},
      [](std::vector<Variable>& in, const Tensor& g, const Tensor& o) {
        if (in[0].requiresGrad())
          in[0].gradBuffer().array() += (o.array() > 0.0f).select(g.array(), 0.0f);
      },
      "relu");
}

Variable leakyRelu(const Variable& a, float alpha) {
  checkDefined(a, "leakyRelu");
  SHRINK_CHECK(std::isfinite(alpha), "leakyRelu: alpha must be finite, got {}", alpha);
  Tensor out(a.shape());
  const auto x = a.value().array();
  out.array() = (x > 0.0f).select(x, alpha * x);
  return Variable::fromOp(
      std::move(out), {a},
      [alpha](std::vector<Variable>& in, const Tensor& g, const Tensor&) {
        if (in[0].requiresGrad())
          in[0].gradBuffer().array() += (in[0].value().array() > 0.0f).select(g.array(), alpha * g.array());
      },
      "leakyRelu");
}

Variable sigmoid(const Variable& a) {
  checkDefined(a, "sigmoid");
  Tensor out(a.shape());
  // Stable for any x: with e = exp(-|x|) <= 1, sigmoid = 1/(1+e) for x >= 0 and e/(1+e) for x < 0.
  const auto x = a.value().array();
  const Eigen::ArrayXf e = (-x.abs()).exp();
  out.array() = (x >= 0.0f).select(1.0f / (1.0f + e), e / (1.0f + e));
  return Variable::fromOp(
      std::move(out), {a},
      [](std::vector<Variable>& in, const Tensor& g, const Tensor& o) {
        if (in[0].requiresGrad()) in[0].gradBuffer().array() += g.array() * o.array() * (1.0f - o.array());
      },
      "sigmoid");
}

Variable tanh(const Variable& a) {
  checkDefined(a, "tanh");
  Tensor out(a.shape());
  out.array() = a.value().array().tanh();
  return Variable::fromOp(
      std::move(out), {a},
      [](std::vector<Variable>& in, const Tensor& g, const Tensor& o) {
        if (in[0].requiresGrad()) in[0].gradBuffer().array() += g.array() * (1.0f - o.array().square());
      },
      "tanh");
}

Variable softmax(const Variable& a) {
  checkDefined(a, "softmax");
  const auto [rows, k] = rowsAndLast(a.shape(), "softmax");
  Tensor out(a.shape());
  const float* x = a.value().data();
  for (int64_t r = 0; r < rows; ++r) {
    const ConstArrayMap xr(x + r * k, k);
    ArrayMap yr(out.data() + r * k, k);
    yr = (xr - xr.maxCoeff()).exp();
    yr /= yr.sum();
  }
  return Variable::fromOp(
      std::move(out), {a},
      [rows, k](std::vector<Variable>& in, const Tensor& g, const Tensor& o) {
        if (!in[0].requiresGrad()) return;
        float* gx = in[0].gradBuffer().data();
        for (int64_t r = 0; r < rows; ++r) {  // dx = y * (g - <g, y>)
          const ConstArrayMap gr(g.data() + r * k, k), yr(o.data() + r * k, k);
          ArrayMap(gx + r * k, k) += yr * (gr - (gr * yr).sum());
        }
      },
      "softmax");
}

Variable logSoftmax(const Variable& a) {
  checkDefined(a, "logSoftmax");
  const auto [rows, k] = rowsAndLast(a.shape(), "logSoftmax");
  Tensor out(a.shape());
  const float* x = a.value().data();
  for (int64_t r = 0; r < rows; ++r) {
    const ConstArrayMap xr(x + r * k, k);
    ArrayMap yr(out.data() + r * k, k);
    const float m = xr.maxCoeff();
    yr = xr - m;
    yr -= std::log(yr.exp().sum());
  }
  return Variable::fromOp(
      std::move(out), {a},
      [rows, k](std::vector<Variable>& in, const Tensor& g, const Tensor& o) {
        if (!in[0].requiresGrad()) return;
        float* gx = in[0].gradBuffer().data();
        for (int64_t r = 0; r < rows; ++r) {  // dx = g - softmax * sum(g)
          const ConstArrayMap gr(g.data() + r * k, k), yr(o.data() + r * k, k);
          ArrayMap(gx + r * k, k) += gr - yr.exp() * gr.sum();
        }
      },
      "logSoftmax");
}

}  // namespace shrink
