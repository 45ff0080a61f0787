#include "layers/Conv2D.h"

#include <climits>

#include "core/Check.h"
#include "layers/Config.h"

namespace shrink {

Conv2D::Conv2D(Options options) : options_(options) {
  const Options& o = options_;
  SHRINK_CHECK(o.in > 0 && o.out > 0, "Conv2D: in and out must be positive, got in={} out={}", o.in, o.out);
  SHRINK_CHECK(o.kernel.h > 0 && o.kernel.w > 0, "Conv2D: kernel must be positive, got {}x{}", o.kernel.h,
               o.kernel.w);
  SHRINK_CHECK(o.stride.h > 0 && o.stride.w > 0 && o.stride.h <= INT_MAX && o.stride.w <= INT_MAX,
               "Conv2D: strides must be positive, got {}x{}", o.stride.h, o.stride.w);
  SHRINK_CHECK(o.activation != Activation::Softmax,
               "Conv2D: activation 'softmax' is not supported (in NCHW it would run over the width); "
               "add Flatten and a Softmax layer instead");
  options_.generator = nullptr;  // not kept: the layer must not outlive a borrowed generator
  Generator seeded(options.seed.value_or(0));
  Generator& gen = options.seed ? seeded : options.generator ? *options.generator : defaultGenerator();
  weight_ = &registerParameter("weight", initialize(o.init, Shape{o.out, o.in, o.kernel.h, o.kernel.w}, gen));
  if (o.useBias) bias_ = &registerParameter("bias", Tensor::zeros(Shape{o.out}));
}

Variable Conv2D::forward(const Variable& x) {
  SHRINK_CHECK(x.defined(), "Conv2D::forward: undefined input");
  const Shape& s = x.shape();
  SHRINK_CHECK(s.rank() == 4, "Conv2D::forward: expected a 4-D NCHW input [N, C, H, W], got {}", s.str());
  SHRINK_CHECK(s[1] == options_.in, "Conv2D::forward: expected {} input channels (NCHW), got {} in input {}",
               options_.in, s[1], s.str());
  if (options_.padding == Padding::Valid)
    SHRINK_CHECK(s[2] >= options_.kernel.h && s[3] >= options_.kernel.w,
                 "Conv2D::forward: input {} is smaller than the {}x{} kernel with 'valid' padding", s.str(),
                 options_.kernel.h, options_.kernel.w);
  Variable y = conv2d(x, weight_->value(), bias_ ? bias_->value() : Variable{}, opOptions());
  return applyActivation(options_.activation, y);
}

Conv2dOptions Conv2D::opOptions() const {
  return {.strideH = static_cast<int>(options_.stride.h),
          .strideW = static_cast<int>(options_.stride.w),
          .padding = options_.padding};
}

nlohmann::json Conv2D::config() const {
  const Options& o = options_;
  nlohmann::json c = {{"in", o.in},
                      {"out", o.out},
                      {"kernel_size", {o.kernel.h, o.kernel.w}},
                      {"strides", {o.stride.h, o.stride.w}},
                      {"padding", paddingName(o.padding)},
                      {"use_bias", o.useBias},
                      {"activation", activationName(o.activation)},
                      {"kernel_initializer", initializerName(o.init)}};
  if (o.seed) c["seed"] = *o.seed;
  return c;
}

}  // namespace shrink
