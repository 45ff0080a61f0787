#pragma once

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <string>

#include <gtest/gtest.h>

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

/// The MNIST directory for tests: $SHRINK_MNIST_DIR, else ../shared/data/mnist beside the source tree.
inline std::string mnistDir() {
  if (const char* env = std::getenv("SHRINK_MNIST_DIR")) return env;
  const char* src = std::getenv("SHRINK_SOURCE_DIR");
  return (std::filesystem::path(src ? src : ".") / ".." / "shared" / "data" / "mnist").string();
}

}  // namespace shrink::test
