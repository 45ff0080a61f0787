#pragma once

#include <cstdint>
#include <random>

#include "core/Tensor.h"

namespace shrink {

/// A seeded pseudo-random generator (64-bit Mersenne Twister) for initialisation, dropout and
/// shuffling. Same seed, same sequence, on every platform: the distributions are our own.
class Generator {
 public:
  explicit Generator(uint64_t seed = 42) : engine_(seed) {}
  void seed(uint64_t s) { engine_.seed(s); }

  uint64_t nextU64() { return engine_(); }
  /// Uniform on [0, 1).
  double uniform01() { return static_cast<double>(engine_() >> 11) * 0x1.0p-53; }
  /// Uniform on [lo, hi).
  float uniform(float lo, float hi) { return lo + static_cast<float>(uniform01()) * (hi - lo); }
  /// Standard normal (Box-Muller).
  float normal();
  /// Uniform integer on [0, n).
  uint64_t below(uint64_t n);

  Tensor uniformTensor(Shape shape, float lo, float hi);
  Tensor normalTensor(Shape shape, float mean, float stddev);

  /// The engine's state, to checkpoint and resume a run exactly.
  std::string state() const;
  void setState(const std::string& s);

 private:
  std::mt19937_64 engine_;
  bool haveSpare_ = false;
  float spare_ = 0.0f;
};

/// The process-wide generator used when none is given; `manualSeed` reseeds it.
Generator& defaultGenerator();
void manualSeed(uint64_t seed);

}  // namespace shrink
