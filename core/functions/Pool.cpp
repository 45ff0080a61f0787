#include <limits>
#include <vector>

#include "core/Check.h"
#include "core/Functions.h"
#include "core/functions/Window.h"
#include "core/kernels/Pool.h"

namespace shrink {

namespace {

kernels::Pool2dGeometry poolGeometry(const Variable& x, const Pool2dOptions& o, const char* op) {
  SHRINK_CHECK(x.defined(), "{}: undefined input", op);
  const Shape& s = x.shape();
  SHRINK_CHECK(s.rank() == 4, "{}: expected a 4-D input [N, C, H, W], got {}", op, s.str());
  SHRINK_CHECK(o.kernelH >= 1 && o.kernelW >= 1, "{}: kernel must be positive, got {}x{} (input {})", op,
               o.kernelH, o.kernelW, s.str());
  SHRINK_CHECK(o.strideH >= 0 && o.strideW >= 0,
               "{}: strides must be positive (or 0 for the kernel size), got ({}, {}) (input {})", op, o.strideH,
               o.strideW, s.str());
  if (o.padding == Padding::Valid)
    SHRINK_CHECK(s[2] >= o.kernelH && s[3] >= o.kernelW,
                 "{}: input {} is smaller than the {}x{} kernel with 'valid' padding", op, s.str(), o.kernelH,
                 o.kernelW);
  SHRINK_CHECK(s[2] * s[3] <= std::numeric_limits<int32_t>::max(), "{}: input {} has too many pixels per plane",
               op, s.str());

  const kernels::Pool2dGeometry g =
      detail::pool2dGeometry(s.dims(), o.kernelH, o.kernelW, o.strideH == 0 ? o.kernelH : o.strideH,
                             o.strideW == 0 ? o.kernelW : o.strideW, o.padding);
  SHRINK_CHECK(g.outH > 0 && g.outW > 0, "{}: input {} with a {}x{} kernel gives an empty output ({}x{})", op,
               s.str(), o.kernelH, o.kernelW, g.outH, g.outW);
  return g;
}

}  // namespace

Variable maxPool2d(const Variable& x, Pool2dOptions options) {
  const kernels::Pool2dGeometry g = poolGeometry(x, options, "maxPool2d");
  Tensor out(Shape{g.batch, g.channels, g.outH, g.outW});
  // The argmax is only needed when a graph will be recorded.
  std::vector<int32_t> argmax;
  if (isGradEnabled() && x.requiresGrad()) argmax.resize(static_cast<size_t>(g.outputSize()));
  kernels::maxPool2dForward(g, x.value().span(), out.span(), argmax);
  return Variable::fromOp(
      std::move(out), {x},
      [g, argmax = std::move(argmax)](std::vector<Variable>& in, const Tensor& gy, const Tensor&) {
        if (in[0].requiresGrad()) kernels::maxPool2dBackward(g, gy.span(), argmax, in[0].gradBuffer().span());
      },
      "maxPool2d");
}

Variable avgPool2d(const Variable& x, Pool2dOptions options) {
  const kernels::Pool2dGeometry g = poolGeometry(x, options, "avgPool2d");
  Tensor out(Shape{g.batch, g.channels, g.outH, g.outW});
  kernels::avgPool2dForward(g, x.value().span(), out.span());
  return Variable::fromOp(
      std::move(out), {x},
      [g](std::vector<Variable>& in, const Tensor& gy, const Tensor&) {
        if (in[0].requiresGrad()) kernels::avgPool2dBackward(g, gy.span(), in[0].gradBuffer().span());
      },
      "avgPool2d");
}

}  // namespace shrink
