#pragma once

#include <memory>
#include <vector>

#include "core/Functions.h"
#include "datasets/Dataset.h"
#include "layers/layers.h"
#include "tests/TestUtils.h"

namespace shrink::test {

/// Gives every bias and every BatchNorm parameter and statistic nonzero values, so that a channel
/// is only ever zero because it was pruned and removal is checked against nontrivial statistics.
inline void randomizeExtras(Sequential& model, uint64_t seed) {
  Generator gen(seed);
  for (size_t i = 0; i < model.size(); ++i) {
    Module& m = model.at(i);
    if (auto* bn = dynamic_cast<BatchNorm*>(&m)) {
      const Shape s{bn->options().features};
      bn->gamma().leaf().mutableValue() = gen.uniformTensor(s, 0.5f, 1.5f);
      bn->beta().leaf().mutableValue() = gen.uniformTensor(s, -0.5f, 0.5f);
      bn->runningMean() = gen.uniformTensor(s, -0.5f, 0.5f);
      bn->runningVar() = gen.uniformTensor(s, 0.5f, 2.0f);
    }
    for (auto& [name, p] : m.namedParameters())
      if (name == "bias") p->leaf().mutableValue() = gen.uniformTensor(p->shape(), 0.05f, 0.3f);
  }
}

/// The seed-cnn shape at 8x8: Conv 8@3x3 same, ReLU, MaxPool 2, BatchNorm, Conv 6@3x3 same (fused
/// ReLU), MaxPool 2, Flatten (6 * 2 * 2 = 24), Dense 10 (ReLU), Dropout 0.3, Dense 3. Input [N, 1, 8, 8].
inline std::unique_ptr<Sequential> smallCnn(uint64_t seed) {
  auto m = std::make_unique<Sequential>();
  m->add<Conv2D>({.in = 1, .out = 8, .kernel = {3, 3}, .padding = Padding::Same, .seed = seed});
  m->add<ReLU>({});
  m->add<MaxPool2D>({});
  m->add<BatchNorm>({.features = 8});
  m->add<Conv2D>({.in = 8, .out = 6, .kernel = {3, 3}, .padding = Padding::Same, .activation = Activation::ReLU,
                  .seed = seed + 1});
  m->add<MaxPool2D>({});
  m->add<Flatten>({});
  m->add<Dense>({.in = 24, .out = 10, .activation = Activation::ReLU, .seed = seed + 2});
  m->add<Dropout>({.rate = 0.3f, .seed = seed + 3});
  m->add<Dense>({.in = 10, .out = 3, .seed = seed + 4});
  randomizeExtras(*m, seed + 5);
  return m;
}

/// n images [n, 1, 8, 8] uniform in [-1, 1] with labels i % 3.
inline data::TensorDataset imageData(int64_t n, uint64_t seed) {
  Tensor y(Shape{n});
  for (int64_t i = 0; i < n; ++i) y[i] = static_cast<float>(i % 3);
  return data::TensorDataset(uniform(Shape{n, 1, 8, 8}, seed), std::move(y));
}

/// The model's output for `x` in train or eval mode, without a graph; the mode is restored.
inline Tensor outputOf(Module& model, const Tensor& x, bool training = false) {
  const bool was = model.isTraining();
  model.train(training);
  NoGradGuard noGrad;
  Tensor out = model(Variable(x)).value();
  model.train(was);
  return out;
}

/// Whether channel j of `t` is exactly 0 for every example, where `t` holds `channels` channels per
/// example laid out channel by channel ([N, C, H, W], its flattening [N, C * H * W], or [N, C]).
inline bool channelIsZero(const Tensor& t, int64_t j, int64_t channels) {
  const int64_t n = t.dim(0);
  const int64_t per = t.numel() / (n * channels);
  for (int64_t e = 0; e < n; ++e)
    for (int64_t s = 0; s < per; ++s)
      if (t[(e * channels + j) * per + s] != 0.0f) return false;
  return true;
}

/// Whether row j (slice along axis 0) of `t` is all zero.
inline bool rowIsZero(const Tensor& t, int64_t j) {
  const int64_t per = t.numel() / t.dim(0);
  for (int64_t s = 0; s < per; ++s)
    if (t[j * per + s] != 0.0f) return false;
  return true;
}

}  // namespace shrink::test
