#pragma once

// Internal to core/functions: the geometry shared by the sliding-window ops (Conv.cpp, Pool.cpp).

#include <algorithm>
#include <cstdint>

#include "core/Functions.h"

namespace shrink::detail {

/// Output size and leading padding of one spatial axis of a window of size `k` moved by `stride` over
/// `in` cells. Valid: no padding, out = (in - k) / stride + 1 (0 when in < k). Same: TensorFlow's rule,
/// out = ceil(in / stride), pad_total = max((out - 1) * stride + k - in, 0), the odd one at the end.
inline void axisGeometry(Padding padding, int64_t in, int64_t k, int64_t stride, int64_t& out,
                         int64_t& padBegin) {
  if (padding == Padding::Valid) {
    out = in >= k ? (in - k) / stride + 1 : 0;
    padBegin = 0;
  } else {
    out = (in + stride - 1) / stride;
    const int64_t total = std::max<int64_t>((out - 1) * stride + k - in, 0);
    padBegin = total / 2;
  }
}

}  // namespace shrink::detail
