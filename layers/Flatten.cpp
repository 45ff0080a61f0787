#include "layers/Flatten.h"

#include "core/Check.h"
#include "core/Functions.h"

namespace shrink {

Variable Flatten::forward(const Variable& x) {
  SHRINK_CHECK(x.defined() && x.shape().rank() >= 1, "Flatten::forward: expected an input [N, ...], got {}",
               x.defined() ? x.shape().str() : "an undefined variable");
  return flatten(x);
}

}  // namespace shrink
