#include "core/Parameter.h"

#include <algorithm>

#include "core/Check.h"

namespace shrink {

Parameter::Parameter(Tensor init, bool trainable) : leaf_(std::move(init), trainable), trainable_(trainable) {}

void Parameter::setTrainable(bool on) {
  trainable_ = on;
  leaf_.setRequiresGrad(on);
}

Variable Parameter::value() const {
  Variable v = leaf_;
  for (const WeightTransform* t : transforms_) v = t->apply(v);
  return v;
}

void Parameter::addTransform(const WeightTransform* t) {
  SHRINK_CHECK(t != nullptr, "Parameter::addTransform: null transform");
  SHRINK_CHECK(std::find(transforms_.begin(), transforms_.end(), t) == transforms_.end(),
               "Parameter::addTransform: transform already attached");
  transforms_.push_back(t);
  std::stable_sort(transforms_.begin(), transforms_.end(),
                   [](const WeightTransform* a, const WeightTransform* b) { return a->stage() < b->stage(); });
}

void Parameter::removeTransform(const WeightTransform* t) {
  transforms_.erase(std::remove(transforms_.begin(), transforms_.end(), t), transforms_.end());
}

void Parameter::bake() {
  NoGradGuard guard;
  Tensor baked = value().value();
  leaf_.mutableValue() = std::move(baked);
  transforms_.clear();
}

}  // namespace shrink
