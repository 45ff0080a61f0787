#include "optim/LrSchedule.h"

#include <algorithm>
#include <cmath>
#include <numbers>

#include "core/Check.h"

namespace shrink {

namespace {

void checkInitial(const char* who, float initial) {
  SHRINK_CHECK(initial >= 0 && std::isfinite(initial), "{}: initial learning rate must be finite and >= 0, got {}",
               who, initial);
}

void checkStep(const char* who, int64_t step) {
  SHRINK_CHECK(step >= 0, "{}::at: step must be >= 0, got {}", who, step);
}

}  // namespace

LrSchedule::~LrSchedule() = default;

StepDecay::StepDecay(float initial, int64_t dropEvery, float factor)
    : initial_(initial), dropEvery_(dropEvery), factor_(factor) {
  checkInitial("StepDecay", initial);
  SHRINK_CHECK(dropEvery >= 1, "StepDecay: dropEvery must be >= 1, got {}", dropEvery);
  SHRINK_CHECK(factor > 0 && std::isfinite(factor), "StepDecay: factor must be finite and > 0, got {}", factor);
}

float StepDecay::at(int64_t step) const {
  checkStep("StepDecay", step);
  return static_cast<float>(initial_ * std::pow(double(factor_), double(step / dropEvery_)));
}

ExponentialDecay::ExponentialDecay(float initial, int64_t decaySteps, float decayRate, bool staircase)
    : initial_(initial), decaySteps_(decaySteps), decayRate_(decayRate), staircase_(staircase) {
  checkInitial("ExponentialDecay", initial);
  SHRINK_CHECK(decaySteps >= 1, "ExponentialDecay: decaySteps must be >= 1, got {}", decaySteps);
  SHRINK_CHECK(decayRate > 0 && std::isfinite(decayRate), "ExponentialDecay: decayRate must be finite and > 0, got {}",
               decayRate);
}

float ExponentialDecay::at(int64_t step) const {
  checkStep("ExponentialDecay", step);
  double p = double(step) / double(decaySteps_);
  if (staircase_) p = std::floor(p);
  return static_cast<float>(initial_ * std::pow(double(decayRate_), p));
}

CosineDecay::CosineDecay(float initial, int64_t decaySteps, float alpha)
    : initial_(initial), decaySteps_(decaySteps), alpha_(alpha) {
  checkInitial("CosineDecay", initial);
  SHRINK_CHECK(decaySteps >= 1, "CosineDecay: decaySteps must be >= 1, got {}", decaySteps);
  SHRINK_CHECK(alpha >= 0 && alpha <= 1, "CosineDecay: alpha must be in [0, 1], got {}", alpha);
}

float CosineDecay::at(int64_t step) const {
  checkStep("CosineDecay", step);
  const double s = double(std::min(step, decaySteps_)) / double(decaySteps_);
  const double cosine = 0.5 * (1.0 + std::cos(std::numbers::pi * s));
  return static_cast<float>(initial_ * ((1.0 - alpha_) * cosine + alpha_));
}

}  // namespace shrink
