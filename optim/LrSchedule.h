#pragma once

#include <cstdint>

namespace shrink {

/// A learning rate as a pure function of a step (a batch or an epoch index, counted from 0, as the
/// caller chooses; see LearningRateScheduler). Steps must be >= 0.
class LrSchedule {
 public:
  virtual ~LrSchedule();
  virtual float at(int64_t step) const = 0;
};

/// initial * factor^floor(step / dropEvery): drops by `factor` every `dropEvery` steps.
/// initial >= 0, dropEvery >= 1, factor > 0.
class StepDecay : public LrSchedule {
 public:
  StepDecay(float initial, int64_t dropEvery, float factor);
  float at(int64_t step) const override;

 private:
  float initial_;
  int64_t dropEvery_;
  float factor_;
};

/// Keras' ExponentialDecay: initial * decayRate^(step / decaySteps), with the exponent floored when
/// `staircase`. initial >= 0, decaySteps >= 1, decayRate > 0.
class ExponentialDecay : public LrSchedule {
 public:
  ExponentialDecay(float initial, int64_t decaySteps, float decayRate, bool staircase = false);
  float at(int64_t step) const override;

 private:
  float initial_;
  int64_t decaySteps_;
  float decayRate_;
  bool staircase_;
};

/// Keras' CosineDecay (without warmup): with s = min(step, decaySteps),
/// initial * ((1 - alpha) * 0.5 * (1 + cos(pi * s / decaySteps)) + alpha); it falls from initial
/// to alpha * initial at decaySteps and stays there. initial >= 0, decaySteps >= 1, alpha in [0, 1].
class CosineDecay : public LrSchedule {
 public:
  CosineDecay(float initial, int64_t decaySteps, float alpha = 0);
  float at(int64_t step) const override;

 private:
  float initial_;
  int64_t decaySteps_;
  float alpha_;
};

}  // namespace shrink
