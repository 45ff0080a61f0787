#include "optim/Optimizer.h"

#include <cmath>
#include <unordered_map>
#include <unordered_set>

#include "core/Check.h"
#include "optim/Clip.h"

namespace shrink {

namespace {

void checkLr(float lr) {
  SHRINK_CHECK(lr >= 0 && std::isfinite(lr), "Optimizer: learning rate must be finite and >= 0, got {}", lr);
}

void checkClipNorm(float clipNorm) {
  SHRINK_CHECK(clipNorm >= 0 && std::isfinite(clipNorm), "Optimizer: clipNorm must be finite and >= 0, got {}",
               clipNorm);
}

}  // namespace

Optimizer::Optimizer(std::vector<Parameter*> params, float lr, float clipNorm)
    : params_(std::move(params)), lr_(lr), clipNorm_(clipNorm) {
  checkLr(lr);
  checkClipNorm(clipNorm);
  std::unordered_set<const Parameter*> seen;
  for (size_t i = 0; i < params_.size(); ++i) {
    SHRINK_CHECK(params_[i] != nullptr, "Optimizer: parameter {} is null", i);
    SHRINK_CHECK(seen.insert(params_[i]).second, "Optimizer: parameter {} appears twice in the list", i);
  }
}

Optimizer::~Optimizer() = default;

void Optimizer::step() {
  NoGradGuard guard;
  if (clipNorm_ > 0) clipGradNorm(params_, clipNorm_);
  update();
  ++iterations_;
}

void Optimizer::zeroGrad() {
  for (Parameter* p : params_) p->leaf().zeroGrad();
}

void Optimizer::setLr(float lr) {
  checkLr(lr);
  lr_ = lr;
}

bool Optimizer::active(size_t i) const { return params_[i]->trainable() && params_[i]->leaf().hasGrad(); }

Optimizer::Slot Optimizer::zerosLikeParameters() const {
  Slot s;
  s.reserve(params_.size());
  for (const Parameter* p : params_) s.push_back(Tensor::zeros(p->shape()));
  return s;
}

OptimizerState Optimizer::makeState(const std::string& type,
                                    std::initializer_list<std::pair<const char*, const Slot*>> slots) const {
  OptimizerState s;
  s.type = type;
  s.scalars = {{"lr", lr_}, {"clipNorm", clipNorm_}, {"iterations", iterations_}};
  for (size_t i = 0; i < params_.size(); ++i)
    for (const auto& [name, slot] : slots) s.tensors.emplace_back(fmt::format("{}/{}", name, i), (*slot)[i]);
  return s;
}

void Optimizer::restoreState(const OptimizerState& state, const std::string& type,
                             std::initializer_list<const char*> scalars,
                             std::initializer_list<std::pair<const char*, Slot*>> slots,
                             const std::function<void(const nlohmann::json&)>& applyScalars) {
  SHRINK_CHECK(state.type == type, "{}::importState: the state is of a '{}' optimizer, not '{}'", type, state.type,
               type);
  const nlohmann::json& sc = state.scalars;
  SHRINK_CHECK(sc.is_object(), "{}::importState: scalars must be a JSON object", type);
  auto requireNumber = [&](const char* key) {
    SHRINK_CHECK(sc.contains(key) && sc[key].is_number(), "{}::importState: scalar '{}' is missing or not a number",
                 type, key);
  };
  for (const char* key : {"lr", "clipNorm"}) requireNumber(key);
  for (const char* key : scalars) requireNumber(key);
  SHRINK_CHECK(sc.contains("iterations") && sc["iterations"].is_number_integer() &&
                   sc["iterations"].get<int64_t>() >= 0,
               "{}::importState: scalar 'iterations' is missing or not a non-negative integer", type);
  const float lr = sc["lr"].get<float>();
  const float clipNorm = sc["clipNorm"].get<float>();
  checkLr(lr);
  checkClipNorm(clipNorm);

  const size_t want = slots.size() * params_.size();
  SHRINK_CHECK(state.tensors.size() == want,
               "{}::importState: expected {} state tensors ({} per parameter x {} parameters), got {}", type, want,
               slots.size(), params_.size(), state.tensors.size());
  std::unordered_map<std::string, const Tensor*> byName;
  for (const auto& [name, t] : state.tensors)
    SHRINK_CHECK(byName.emplace(name, &t).second, "{}::importState: tensor '{}' appears twice", type, name);
  std::vector<const Tensor*> found;  // slot-major: found[k * n + i]
  for (const auto& [slotName, slot] : slots) {
    for (size_t i = 0; i < params_.size(); ++i) {
      const std::string name = fmt::format("{}/{}", slotName, i);
      auto it = byName.find(name);
      SHRINK_CHECK(it != byName.end(), "{}::importState: missing state tensor '{}'", type, name);
      SHRINK_CHECK(it->second->shape() == params_[i]->shape(),
                   "{}::importState: state tensor '{}' has shape {} but parameter {} has shape {}", type, name,
                   it->second->shape().str(), i, params_[i]->shape().str());
      found.push_back(it->second);
    }
  }

  applyScalars(sc);
  lr_ = lr;
  clipNorm_ = clipNorm;
  iterations_ = sc["iterations"].get<int64_t>();
  size_t k = 0;
  for (const auto& [slotName, slot] : slots)
    for (size_t i = 0; i < params_.size(); ++i) (*slot)[i] = *found[k++];
}

}  // namespace shrink
