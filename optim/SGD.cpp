#include "optim/SGD.h"

#include <cmath>

#include "core/Check.h"

namespace shrink {

namespace {

void validate(float momentum, bool nesterov, float weightDecay) {
  SHRINK_CHECK(momentum >= 0 && std::isfinite(momentum), "SGD: momentum must be finite and >= 0, got {}", momentum);
  SHRINK_CHECK(!nesterov || momentum > 0, "SGD: nesterov needs momentum > 0");
  SHRINK_CHECK(weightDecay >= 0 && std::isfinite(weightDecay), "SGD: weightDecay must be finite and >= 0, got {}",
               weightDecay);
}

}  // namespace

SGD::SGD(std::vector<Parameter*> params, SGDOptions options)
    : Optimizer(std::move(params), options.lr, options.clipNorm),
      momentum_(options.momentum),
      nesterov_(options.nesterov),
      weightDecay_(options.weightDecay) {
  validate(momentum_, nesterov_, weightDecay_);
  if (momentum_ > 0) buffer_ = zerosLikeParameters();
}

void SGD::update() {
  const float lr = this->lr(), mu = momentum_, wd = weightDecay_;
  const std::vector<Parameter*>& params = parameters();
  for (size_t i = 0; i < params.size(); ++i) {
    if (!active(i)) continue;
    Variable& leaf = params[i]->leaf();
    ArrayMap w = leaf.mutableValue().array();
    ConstArrayMap grad = leaf.grad().array();
    if (mu == 0) {
      if (wd == 0) w -= lr * grad;
      else w -= lr * (grad + wd * w);
      continue;
    }
    ArrayMap b = buffer_[i].array();
    if (wd == 0) {
      b = mu * b + grad;
      if (nesterov_) w -= lr * (grad + mu * b);
      else w -= lr * b;
    } else {
      b = mu * b + (grad + wd * w);
      if (nesterov_) w -= lr * ((grad + wd * w) + mu * b);
      else w -= lr * b;
    }
  }
}

OptimizerState SGD::exportState() const {
  OptimizerState s = momentum_ > 0 ? makeState("sgd", {{"momentum", &buffer_}}) : makeState("sgd", {});
  s.scalars["momentum"] = momentum_;
  s.scalars["nesterov"] = nesterov_;
  s.scalars["weightDecay"] = weightDecay_;
  return s;
}

void SGD::importState(const OptimizerState& state) {
  // The saved momentum decides whether the state holds buffers.
  const nlohmann::json& sc = state.scalars;
  const bool withBuffer = sc.is_object() && sc.contains("momentum") && sc["momentum"].is_number() &&
                          sc["momentum"].get<float>() > 0;
  Slot buffer(withBuffer ? parameters().size() : 0);
  auto apply = [&](const nlohmann::json& s) {
    SHRINK_CHECK(s.contains("nesterov") && s["nesterov"].is_boolean(),
                 "sgd::importState: scalar 'nesterov' is missing or not a boolean");
    const float momentum = s["momentum"].get<float>(), weightDecay = s["weightDecay"].get<float>();
    const bool nesterov = s["nesterov"].get<bool>();
    validate(momentum, nesterov, weightDecay);
    momentum_ = momentum;
    nesterov_ = nesterov;
    weightDecay_ = weightDecay;
  };
  if (withBuffer) restoreState(state, "sgd", {"momentum", "weightDecay"}, {{"momentum", &buffer}}, apply);
  else restoreState(state, "sgd", {"momentum", "weightDecay"}, {}, apply);
  buffer_ = std::move(buffer);
}

}  // namespace shrink
