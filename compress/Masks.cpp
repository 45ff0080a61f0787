#include "compress/Masks.h"

#include <algorithm>
#include <cmath>

#include "core/Check.h"

namespace shrink {

namespace {

void checkSparsity(const char* fn, double sparsity) {
  SHRINK_CHECK(sparsity >= 0 && sparsity < 1, "{}: sparsity must be in [0, 1), got {}", fn, sparsity);
}

void checkMatrixLike(const char* fn, const Tensor& weight) {
  SHRINK_CHECK(weight.numel() > 0, "{}: empty weight tensor", fn);
  SHRINK_CHECK(weight.rank() == 2 || weight.rank() == 4,
               "{}: expected a Dense [out, in] or Conv2D [out, in, kh, kw] kernel, got shape {}", fn,
               weight.shape().str());
}

/// The k-th largest of `values` (1 <= k <= size); reorders `values`.
float kthLargest(std::vector<float>& values, int64_t k) {
  auto nth = values.begin() + (k - 1);
  std::nth_element(values.begin(), nth, values.end(), std::greater<float>());
  return *nth;
}

std::vector<float> magnitudes(const Tensor& w) {
  std::vector<float> m(static_cast<size_t>(w.numel()));
  for (int64_t i = 0; i < w.numel(); ++i) m[static_cast<size_t>(i)] = std::abs(w[i]);
  return m;
}

Tensor thresholdMask(const Tensor& weight, float threshold) {
  Tensor mask(weight.shape());
  for (int64_t i = 0; i < weight.numel(); ++i) mask[i] = std::abs(weight[i]) >= threshold ? 1.0f : 0.0f;
  return mask;
}

}  // namespace

int64_t keptCount(int64_t n, double sparsity) {
  checkSparsity("keptCount", sparsity);
  SHRINK_CHECK(n > 0, "keptCount: need at least one candidate, got {}", n);
  // std::nearbyint rounds half to even under the default rounding mode, as tf.round does.
  const auto k = static_cast<int64_t>(std::nearbyint(static_cast<double>(n) * (1.0 - sparsity)));
  return std::clamp<int64_t>(k, 1, n);
}

MaskResult magnitudeMask(const Tensor& weight, double sparsity) {
  checkSparsity("magnitudeMask", sparsity);
  SHRINK_CHECK(weight.numel() > 0, "magnitudeMask: empty weight tensor");
  std::vector<float> m = magnitudes(weight);
  const float threshold = kthLargest(m, keptCount(weight.numel(), sparsity));
  return {thresholdMask(weight, threshold), threshold};
}

std::vector<MaskResult> globalMagnitudeMasks(const std::vector<const Tensor*>& weights, double sparsity) {
  checkSparsity("globalMagnitudeMasks", sparsity);
  SHRINK_CHECK(!weights.empty(), "globalMagnitudeMasks: no tensors given");
  std::vector<float> all;
  for (size_t t = 0; t < weights.size(); ++t) {
    SHRINK_CHECK(weights[t] != nullptr && weights[t]->numel() > 0,
                 "globalMagnitudeMasks: tensor {} is null or empty", t);
    const std::vector<float> m = magnitudes(*weights[t]);
    all.insert(all.end(), m.begin(), m.end());
  }
  const float threshold = kthLargest(all, keptCount(static_cast<int64_t>(all.size()), sparsity));
  std::vector<MaskResult> out;
  out.reserve(weights.size());
  for (const Tensor* w : weights) out.push_back({thresholdMask(*w, threshold), threshold});
  return out;
}

MaskResult blockMask(const Tensor& weight, double sparsity, int64_t blockRows, int64_t blockCols,
                     BlockPooling pooling) {
  checkSparsity("blockMask", sparsity);
  checkMatrixLike("blockMask", weight);
  SHRINK_CHECK(blockRows >= 1 && blockCols >= 1, "blockMask: block size must be >= 1x1, got {}x{}", blockRows,
               blockCols);
  const int64_t rows = weight.dim(0);
  const int64_t cols = weight.numel() / rows;
  const int64_t gridRows = (rows + blockRows - 1) / blockRows;
  const int64_t gridCols = (cols + blockCols - 1) / blockCols;

  // Pooled magnitude of each block; an edge block averages only the entries it has.
  std::vector<float> pooled(static_cast<size_t>(gridRows * gridCols), 0.0f);
  for (int64_t br = 0; br < gridRows; ++br) {
    for (int64_t bc = 0; bc < gridCols; ++bc) {
      const int64_t r1 = std::min(rows, (br + 1) * blockRows);
      const int64_t c1 = std::min(cols, (bc + 1) * blockCols);
      float acc = 0;
      for (int64_t r = br * blockRows; r < r1; ++r) {
        for (int64_t c = bc * blockCols; c < c1; ++c) {
          const float a = std::abs(weight[r * cols + c]);
          acc = pooling == BlockPooling::Max ? std::max(acc, a) : acc + a;
        }
      }
      if (pooling == BlockPooling::Avg) acc /= static_cast<float>((r1 - br * blockRows) * (c1 - bc * blockCols));
      pooled[static_cast<size_t>(br * gridCols + bc)] = acc;
    }
  }
  std::vector<float> scratch = pooled;
  const float threshold = kthLargest(scratch, keptCount(static_cast<int64_t>(pooled.size()), sparsity));

  Tensor mask(weight.shape());
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t c = 0; c < cols; ++c) {
      const float p = pooled[static_cast<size_t>((r / blockRows) * gridCols + c / blockCols)];
      mask[r * cols + c] = p >= threshold ? 1.0f : 0.0f;
    }
  }
  return {std::move(mask), threshold};
}

MaskResult nOfMMask(const Tensor& weight, int64_t n, int64_t m) {
  checkMatrixLike("nOfMMask", weight);
  SHRINK_CHECK(n >= 1 && n < m, "nOfMMask: need 1 <= n < m, got {}:{}", n, m);
  const int64_t out = weight.dim(0);
  const int64_t in = weight.dim(1);
  // Dense: inner = 1. Conv2D: consecutive input channels of one (out, kh, kw) are `inner` apart.
  const int64_t inner = weight.rank() == 4 ? weight.dim(2) * weight.dim(3) : 1;

  Tensor mask(weight.shape());
  std::vector<int64_t> group;
  for (int64_t o = 0; o < out; ++o) {
    for (int64_t s = 0; s < inner; ++s) {
      const int64_t base = o * in * inner + s;
      for (int64_t g = 0; g < in; g += m) {
        group.clear();
        for (int64_t i = g; i < std::min(in, g + m); ++i) group.push_back(base + i * inner);
        // Largest magnitudes first; equal magnitudes keep the lower input index.
        std::stable_sort(group.begin(), group.end(),
                         [&](int64_t a, int64_t b) { return std::abs(weight[a]) > std::abs(weight[b]); });
        const auto kept = std::min<size_t>(static_cast<size_t>(n), group.size());
        for (size_t j = 0; j < kept; ++j) mask[group[j]] = 1.0f;
      }
    }
  }
  return {std::move(mask), 0.0f};
}

}  // namespace shrink
