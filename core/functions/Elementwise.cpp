#include <algorithm>
#include <array>

#include "core/Check.h"
#include "core/Functions.h"

namespace shrink {

namespace {

constexpr int kMaxRank = 4;

/// How two operands broadcast to an output: the output dims with size-1 dims dropped and runs of
/// dims that broadcast the same way merged, so the innermost dim is one contiguous segment. The
/// common cases become one segment (same shape, scalar) or one segment per row ([N, F] with [F]).
struct BroadcastPlan {
  Shape outShape;
  int nd = 1;                           // merged dims, outermost first
  std::array<int64_t, kMaxRank> size{};
  std::array<int64_t, kMaxRank> strideA{};  // element strides; 0 where the operand is broadcast
  std::array<int64_t, kMaxRank> strideB{};
  bool innerA() const { return strideA[nd - 1] != 0; }
  bool innerB() const { return strideB[nd - 1] != 0; }
};

BroadcastPlan planBroadcast(const Shape& sa, const Shape& sb, const char* op) {
  const int ra = static_cast<int>(sa.rank()), rb = static_cast<int>(sb.rank());
  const int r = std::max(ra, rb);
  SHRINK_CHECK(r <= kMaxRank, "{}: shapes {} and {}: broadcasting supports ranks up to {}", op, sa.str(),
               sb.str(), kMaxRank);
  std::vector<int64_t> outDims(r);
  std::array<int64_t, kMaxRank> da{}, db{};
  for (int i = 0; i < r; ++i) {  // i indexes the aligned (right-justified) dims
    da[i] = i - (r - ra) >= 0 ? sa[i - (r - ra)] : 1;
    db[i] = i - (r - rb) >= 0 ? sb[i - (r - rb)] : 1;
    SHRINK_CHECK(da[i] == db[i] || da[i] == 1 || db[i] == 1,
                 "{}: shapes {} and {} cannot be broadcast (dimension {}: {} vs {})", op, sa.str(), sb.str(),
                 i - r, da[i], db[i]);
    outDims[i] = da[i] == 1 ? db[i] : da[i];
  }
  BroadcastPlan p;
  p.outShape = Shape(outDims);
  // Row-major strides of each operand in the aligned dims, zeroed where it is broadcast.
  std::array<int64_t, kMaxRank> stA{}, stB{};
  int64_t accA = 1, accB = 1;
  for (int i = r - 1; i >= 0; --i) {
    stA[i] = (da[i] == 1 && outDims[i] != 1) ? 0 : accA;
    stB[i] = (db[i] == 1 && outDims[i] != 1) ? 0 : accB;
    accA *= da[i];
    accB *= db[i];
  }
  int nd = 0;
  for (int i = 0; i < r; ++i) {
    if (outDims[i] == 1) continue;
    const bool bcA = stA[i] == 0, bcB = stB[i] == 0;
    if (nd > 0 && (p.strideA[nd - 1] == 0) == bcA && (p.strideB[nd - 1] == 0) == bcB) {
      p.size[nd - 1] *= outDims[i];  // merge: the inner stride of a run is the stride of its last dim
      p.strideA[nd - 1] = stA[i];
      p.strideB[nd - 1] = stB[i];
    } else {
      p.size[nd] = outDims[i];
      p.strideA[nd] = stA[i];
      p.strideB[nd] = stB[i];
      ++nd;
    }
  }
  if (nd == 0) {  // one element
    p.size[0] = 1;
    p.strideA[0] = 1;
    p.strideB[0] = 1;
    nd = 1;
  }
  p.nd = nd;
  return p;
}

/// Calls f(outOffset, aOffset, bOffset, length) for each innermost segment of the output.
template <class F>
void forEachSegment(const BroadcastPlan& p, F&& f) {
  const int last = p.nd - 1;
  const int64_t len = p.size[last];
  int64_t outer = 1;
  for (int d = 0; d < last; ++d) outer *= p.size[d];
  std::array<int64_t, kMaxRank> idx{};
  int64_t offA = 0, offB = 0, offOut = 0;
  for (int64_t o = 0; o < outer; ++o, offOut += len) {
    f(offOut, offA, offB, len);
    for (int d = last - 1; d >= 0; --d) {
      offA += p.strideA[d];
      offB += p.strideB[d];
      if (++idx[d] < p.size[d]) break;
      offA -= p.strideA[d] * p.size[d];
      offB -= p.strideB[d] * p.size[d];
      idx[d] = 0;
    }
  }
}

/// Hands f the segment of an operand: a contiguous map, or its one broadcast value as a constant.
template <class F>
void withSegment(bool contiguous, const float* p, int64_t n, F&& f) {
  if (contiguous)
    f(ConstArrayMap(p, n));
  else
    f(Eigen::ArrayXf::Constant(n, *p));
}

/// out = op(a, b) over the broadcast plan.
template <class Op>
void broadcastForward(const BroadcastPlan& p, const float* a, const float* b, float* out, Op op) {
  const bool va = p.innerA(), vb = p.innerB();
  forEachSegment(p, [&](int64_t io, int64_t ia, int64_t ib, int64_t n) {
    withSegment(va, a + ia, n, [&](const auto& x) {
      withSegment(vb, b + ib, n, [&](const auto& y) { ArrayMap(out + io, n) = op(x, y); });
    });
  });
}

/// gx += term(g, a, b, out), summed over the dims where x (operand `which`: 0 = a, 1 = b) is broadcast.
template <class Term>
void broadcastBackward(const BroadcastPlan& p, int which, const Tensor& g, const Tensor& a, const Tensor& b,
                       const Tensor& out, float* gx, Term term) {
  const bool va = p.innerA(), vb = p.innerB();
  const bool vx = which == 0 ? va : vb;
  forEachSegment(p, [&](int64_t io, int64_t ia, int64_t ib, int64_t n) {
    const ConstArrayMap gs(g.data() + io, n), os(out.data() + io, n);
    const int64_t ix = which == 0 ? ia : ib;
    withSegment(va, a.data() + ia, n, [&](const auto& x) {
      withSegment(vb, b.data() + ib, n, [&](const auto& y) {
        if (vx)
          ArrayMap(gx + ix, n) += term(gs, x, y, os);
        else
          gx[ix] += term(gs, x, y, os).sum();
      });
    });
  });
}

/// A broadcasting binary op: forward `op(a, b)`, gradient terms `da(g, a, b, out)` and `db(...)`.
template <class Op, class DA, class DB>
Variable binary(const Variable& a, const Variable& b, const char* name, Op op, DA da, DB db) {
  SHRINK_CHECK(a.defined() && b.defined(), "{}: undefined operand", name);
  BroadcastPlan plan = planBroadcast(a.shape(), b.shape(), name);
  Tensor out(plan.outShape);
  broadcastForward(plan, a.value().data(), b.value().data(), out.data(), op);
  return Variable::fromOp(
      std::move(out), {a, b},
      [plan, da, db](std::vector<Variable>& in, const Tensor& g, const Tensor& o) {
        const Tensor& av = in[0].value();
        const Tensor& bv = in[1].value();
        if (in[0].requiresGrad()) broadcastBackward(plan, 0, g, av, bv, o, in[0].gradBuffer().data(), da);
        if (in[1].requiresGrad()) broadcastBackward(plan, 1, g, av, bv, o, in[1].gradBuffer().data(), db);
      },
      name);
}

/// An elementwise unary op: out = f(a); grad_a += df(g, a, out).
template <class F, class DF>
Variable unary(const Variable& a, const char* name, F f, DF df) {
  SHRINK_CHECK(a.defined(), "{}: undefined operand", name);
  Tensor out(a.shape());
  out.array() = f(a.value().array());
  return Variable::fromOp(
      std::move(out), {a},
      [df](std::vector<Variable>& in, const Tensor& g, const Tensor& o) {
        if (in[0].requiresGrad()) in[0].gradBuffer().array() += df(g.array(), in[0].value().array(), o.array());
      },
      name);
}

}  // namespace

Variable add(const Variable& a, const Variable& b) {
  return binary(
      a, b, "add", [](const auto& x, const auto& y) { return x + y; },
      [](const auto& g, const auto&, const auto&, const auto&) { return g; },
      [](const auto& g, const auto&, const auto&, const auto&) { return g; });
}

Variable sub(const Variable& a, const Variable& b) {
  return binary(
      a, b, "sub", [](const auto& x, const auto& y) { return x - y; },
      [](const auto& g, const auto&, const auto&, const auto&) { return g; },
      [](const auto& g, const auto&, const auto&, const auto&) { return -g; });
}

Variable mul(const Variable& a, const Variable& b) {
  return binary(
      a, b, "mul", [](const auto& x, const auto& y) { return x * y; },
      [](const auto& g, const auto&, const auto& y, const auto&) { return g * y; },
      [](const auto& g, const auto& x, const auto&, const auto&) { return g * x; });
}

Variable div(const Variable& a, const Variable& b) {
  // d(a/b)/da = 1/b; d(a/b)/db = -a/b^2 = -out/b.
  return binary(
      a, b, "div", [](const auto& x, const auto& y) { return x / y; },
      [](const auto& g, const auto&, const auto& y, const auto&) { return g / y; },
      [](const auto& g, const auto&, const auto& y, const auto& o) { return -g * o / y; });
}

Variable add(const Variable& a, float s) {
  return unary(
      a, "addScalar", [s](const auto& x) { return x + s; },
      [](const auto& g, const auto&, const auto&) { return g; });
}

Variable mul(const Variable& a, float s) {
  return unary(
      a, "mulScalar", [s](const auto& x) { return x * s; },
      [s](const auto& g, const auto&, const auto&) { return g * s; });
}

Variable neg(const Variable& a) {
  return unary(
      a, "neg", [](const auto& x) { return -x; }, [](const auto& g, const auto&, const auto&) { return -g; });
}

Variable exp(const Variable& a) {
  return unary(
      a, "exp", [](const auto& x) { return x.exp(); },
      [](const auto& g, const auto&, const auto& o) { return g * o; });
}

Variable log(const Variable& a) {
  return unary(
      a, "log", [](const auto& x) { return x.log(); },
      [](const auto& g, const auto& x, const auto&) { return g / x; });
}

Variable square(const Variable& a) {
  return unary(
      a, "square", [](const auto& x) { return x.square(); },
      [](const auto& g, const auto& x, const auto&) { return 2.0f * g * x; });
}

Variable sqrt(const Variable& a) {
  return unary(
      a, "sqrt", [](const auto& x) { return x.sqrt(); },
      [](const auto& g, const auto&, const auto& o) { return 0.5f * g / o; });
}

Variable abs(const Variable& a) {
  // The subgradient at 0 is 0, as in PyTorch.
  return unary(
      a, "abs", [](const auto& x) { return x.abs(); },
      [](const auto& g, const auto& x, const auto&) { return g * x.sign(); });
}

Variable operator+(const Variable& a, const Variable& b) { return add(a, b); }
Variable operator-(const Variable& a, const Variable& b) { return sub(a, b); }
Variable operator*(const Variable& a, const Variable& b) { return mul(a, b); }
Variable operator/(const Variable& a, const Variable& b) { return div(a, b); }
Variable operator-(const Variable& a) { return neg(a); }

}  // namespace shrink
