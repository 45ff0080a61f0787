#include "core/Check.h"
#include "core/Functions.h"
#include "core/functions/Window.h"
#include "core/kernels/Conv.h"

namespace shrink {

Variable conv2d(const Variable& x, const Variable& weight, const Variable& bias, Conv2dOptions options) {
  SHRINK_CHECK(x.defined() && weight.defined(), "conv2d: undefined input or weight");
  const Shape& sx = x.shape();
  const Shape& sw = weight.shape();
  SHRINK_CHECK(sx.rank() == 4, "conv2d: expected input [N, C, H, W], got {} (weight {})", sx.str(), sw.str());
  SHRINK_CHECK(sw.rank() == 4, "conv2d: expected weight [F, C, kh, kw], got {} (input {})", sw.str(),
               sx.str());
  SHRINK_CHECK(sx[1] == sw[1], "conv2d: input {} has {} channels but weight {} expects {}", sx.str(), sx[1],
               sw.str(), sw[1]);
  SHRINK_CHECK(options.strideH >= 1 && options.strideW >= 1, "conv2d: strides must be positive, got ({}, {})",
               options.strideH, options.strideW);
  SHRINK_CHECK(sw[0] >= 1 && sw[2] >= 1 && sw[3] >= 1, "conv2d: empty weight {}", sw.str());
  const bool hasBias = bias.defined();
  if (hasBias)
    SHRINK_CHECK(bias.shape().rank() == 1 && bias.shape()[0] == sw[0],
                 "conv2d: expected bias [{}] for weight {}, got {}", sw[0], sw.str(), bias.shape().str());

  const kernels::Conv2dGeometry g =
      detail::conv2dGeometry(sx.dims(), sw.dims(), options.strideH, options.strideW, options.padding);
  SHRINK_CHECK(g.outH > 0 && g.outW > 0, "conv2d: input {} and weight {} give an empty output ({}x{})", sx.str(),
               sw.str(), g.outH, g.outW);

  Tensor out(Shape{g.batch, g.outChannels, g.outH, g.outW});
  kernels::conv2dForward(g, x.value().span(), weight.value().span(),
                         hasBias ? bias.value().span() : std::span<const float>{}, out.span());
  std::vector<Variable> inputs{x, weight};
  if (hasBias) inputs.push_back(bias);
  return Variable::fromOp(
      std::move(out), std::move(inputs),
      [g](std::vector<Variable>& in, const Tensor& gy, const Tensor&) {
        if (in[0].requiresGrad())
          kernels::conv2dBackwardInput(g, gy.span(), in[1].value().span(), in[0].gradBuffer().span());
        if (in[1].requiresGrad())
          kernels::conv2dBackwardWeight(g, in[0].value().span(), gy.span(), in[1].gradBuffer().span());
        if (in.size() > 2 && in[2].requiresGrad())
          kernels::conv2dBackwardBias(g, gy.span(), in[2].gradBuffer().span());
      },
      "conv2d");
}

}  // namespace shrink
