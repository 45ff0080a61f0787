#pragma once

#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <utility>

#include <gtest/gtest.h>

#include "core/Random.h"
#include "core/Tensor.h"

namespace shrink::test {

/// Asserts |a - b| <= atol + rtol |b| elementwise; on failure prints the worst element and maxdiff.
inline ::testing::AssertionResult allClose(const Tensor& a, const Tensor& b, float atol = 1e-5f,
                                           float rtol = 1e-5f) {
  if (!(a.shape() == b.shape()))
    return ::testing::AssertionFailure() << "shapes differ: " << a.shape().str() << " vs " << b.shape().str();
  float maxDiff = 0;
  int64_t worst = -1;
  for (int64_t i = 0; i < a.numel(); ++i) {
    const float d = std::fabs(a[i] - b[i]);
    if (!(d <= atol + rtol * std::fabs(b[i])) && (worst < 0 || d > maxDiff || std::isnan(d))) {
      maxDiff = d;
      worst = i;
    }
  }
  if (worst < 0) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "element " << worst << ": " << a[worst] << " vs " << b[worst]
                                       << " (maxdiff " << maxDiff << ", atol " << atol << ", rtol " << rtol << ")";
}

/// Values ((i * mul + add) % mod - mod / 2) / 8 over the row-major index i: exact in float, reproduced in the
/// PyTorch scripts as (((np.arange(n) * mul + add) % mod) - mod // 2) / 8.0.
inline Tensor pattern(Shape shape, int64_t mul, int64_t add, int64_t mod) {
  Tensor t(std::move(shape));
  for (int64_t i = 0; i < t.numel(); ++i) t[i] = static_cast<float>((i * mul + add) % mod - mod / 2) / 8.0f;
  return t;
}

/// Uniform values in [lo, hi] from a Generator seeded with `seed`.
inline Tensor uniform(Shape shape, uint64_t seed, float lo = -1.0f, float hi = 1.0f) {
  Generator gen(seed);
  return gen.uniformTensor(std::move(shape), lo, hi);
}

/// Uniform magnitudes in [lo, hi] with random signs: keeps values away from 0 (divisors, kinks).
inline Tensor awayFromZero(Shape shape, uint64_t seed, float lo = 0.5f, float hi = 2.0f) {
  Generator gen(seed);
  Tensor t = gen.uniformTensor(std::move(shape), lo, hi);
  for (float& v : t) v = gen.uniform01() < 0.5 ? -v : v;
  return t;
}

/// Runs `f` and returns the message of the std::invalid_argument it throws, or
/// "<no std::invalid_argument thrown>" when it throws none.
template <class F>
std::string messageOf(F&& f) {
  try {
    f();
  } catch (const std::invalid_argument& e) {
    return e.what();
  }
  return "<no std::invalid_argument thrown>";
}

/// The MNIST directory for tests: $SHRINK_MNIST_DIR, else ../shared/data/mnist beside the source tree.
inline std::string mnistDir() {
  if (const char* env = std::getenv("SHRINK_MNIST_DIR")) return env;
  const char* src = std::getenv("SHRINK_SOURCE_DIR");
  return (std::filesystem::path(src ? src : ".") / ".." / "shared" / "data" / "mnist").string();
}

}  // namespace shrink::test
