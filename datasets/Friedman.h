#pragma once

#include <cstdint>

#include "datasets/Dataset.h"

namespace shrink::data {

struct FriedmanOptions {
  int64_t nSamples = 100;
  /// At least 5; features beyond the fifth do not influence the target.
  int64_t nFeatures = 10;
  /// Standard deviation of the Gaussian noise added to the target.
  float noise = 0.0f;
  uint64_t seed = 0;
};

/// Friedman #1 regression problem with scikit-learn's make_friedman1 semantics:
/// inputs X [nSamples, nFeatures] uniform on [0, 1]; targets [nSamples, 1] with
/// y = 10 sin(pi x0 x1) + 20 (x2 - 0.5)^2 + 10 x3 + 5 x4 + noise * N(0, 1).
/// All of X is drawn first (row-major), then the noise, from a Generator seeded with `seed`.
/// The target is evaluated in double on the stored float X (noise included) and rounded once.
TensorDataset makeFriedman1(const FriedmanOptions& options = {});

}  // namespace shrink::data
