#pragma once

#include <cstdint>
#include <memory>

#include "datasets/datasets.h"
#include "layers/layers.h"

namespace shrink::test {

/// Friedman #1 inputs with the target cut into three classes (y < 11, < 17, else).
inline data::TensorDataset friedmanClasses(int64_t n, uint64_t seed) {
  const data::TensorDataset f = data::makeFriedman1({.nSamples = n, .seed = seed});
  Tensor labels(Shape{n});
  for (int64_t i = 0; i < n; ++i) {
    const float y = f.targets()[i];
    labels[i] = y < 11.0f ? 0.0f : y < 17.0f ? 1.0f : 2.0f;
  }
  return data::TensorDataset(f.inputs(), labels);
}

/// A 10 -> 32 -> 16 -> 3 classifier of friedmanClasses, seeded.
inline std::unique_ptr<Sequential> friedmanClassifier() {
  auto m = std::make_unique<Sequential>();
  m->add<Dense>({.in = 10, .out = 32, .activation = Activation::ReLU, .seed = 1});
  m->add<Dense>({.in = 32, .out = 16, .activation = Activation::ReLU, .seed = 2});
  m->add<Dense>({.in = 16, .out = 3, .seed = 3});
  return m;
}

}  // namespace shrink::test
