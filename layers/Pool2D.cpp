#include "layers/Pool2D.h"

#include "core/Check.h"
#include "layers/Config.h"

namespace shrink {

Pool2D::Pool2D(Options options, const char* type) : options_(options), type_(type) {
  SHRINK_CHECK(options_.kernelH > 0 && options_.kernelW > 0, "{}: pool size must be positive, got {}x{}", type_,
               options_.kernelH, options_.kernelW);
  SHRINK_CHECK(options_.strideH >= 0 && options_.strideW >= 0,
               "{}: strides must be positive (or 0 for the pool size), got {}x{}", type_, options_.strideH,
               options_.strideW);
  if (options_.strideH == 0) options_.strideH = options_.kernelH;
  if (options_.strideW == 0) options_.strideW = options_.kernelW;
}

void Pool2D::checkInput(const Variable& x) const {
  SHRINK_CHECK(x.defined(), "{}::forward: undefined input", type_);
  const Shape& s = x.shape();
  SHRINK_CHECK(s.rank() == 4, "{}::forward: expected a 4-D NCHW input [N, C, H, W], got {}", type_, s.str());
  if (options_.padding == Padding::Valid)
    SHRINK_CHECK(s[2] >= options_.kernelH && s[3] >= options_.kernelW,
                 "{}::forward: input {} is smaller than the {}x{} pool with 'valid' padding", type_, s.str(),
                 options_.kernelH, options_.kernelW);
}

nlohmann::json Pool2D::config() const {
  return {{"pool_size", {options_.kernelH, options_.kernelW}},
          {"strides", {options_.strideH, options_.strideW}},
          {"padding", paddingName(options_.padding)}};
}

Variable MaxPool2D::forward(const Variable& x) {
  checkInput(x);
  return maxPool2d(x, options_);
}

Variable AvgPool2D::forward(const Variable& x) {
  checkInput(x);
  return avgPool2d(x, options_);
}

}  // namespace shrink
