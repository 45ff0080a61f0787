#include "optim/Adam.h"

#include <cmath>

#include "core/Check.h"

namespace shrink {

namespace {

void validate(const char* who, float beta1, float beta2, float epsilon, float weightDecay) {
  SHRINK_CHECK(beta1 >= 0 && beta1 < 1, "{}: beta1 must be in [0, 1), got {}", who, beta1);
  SHRINK_CHECK(beta2 >= 0 && beta2 < 1, "{}: beta2 must be in [0, 1), got {}", who, beta2);
  SHRINK_CHECK(epsilon > 0 && std::isfinite(epsilon), "{}: epsilon must be finite and > 0, got {}", who, epsilon);
  SHRINK_CHECK(weightDecay >= 0 && std::isfinite(weightDecay), "{}: weightDecay must be finite and >= 0, got {}",
               who, weightDecay);
}

}  // namespace

Adam::Adam(std::vector<Parameter*> params, AdamOptions options) : Adam(std::move(params), options, 0, "adam") {}

Adam::Adam(std::vector<Parameter*> params, const AdamOptions& o, float weightDecay, std::string type)
    : Optimizer(std::move(params), o.lr, o.clipNorm),
      weightDecay_(weightDecay),
      type_(std::move(type)),
      beta1_(o.beta1),
      beta2_(o.beta2),
      epsilon_(o.epsilon) {
  validate(type_ == "adamw" ? "AdamW" : "Adam", beta1_, beta2_, epsilon_, weightDecay_);
  m_ = zerosLikeParameters();
  v_ = zerosLikeParameters();
}

void Adam::update() {
  const double t = static_cast<double>(iterations() + 1);
  const float lr = this->lr();
  const float lrT = static_cast<float>(lr * std::sqrt(1.0 - std::pow(double(beta2_), t)) /
                                       (1.0 - std::pow(double(beta1_), t)));
  const float decay = lr * weightDecay_;
  const float b1 = beta1_, b2 = beta2_, eps = epsilon_;
  const std::vector<Parameter*>& params = parameters();
  for (size_t i = 0; i < params.size(); ++i) {
    if (!active(i)) continue;
    Variable& leaf = params[i]->leaf();
    ArrayMap w = leaf.mutableValue().array();
    ConstArrayMap g = leaf.grad().array();
    ArrayMap m = m_[i].array(), v = v_[i].array();
    m += (1 - b1) * (g - m);
    v += (1 - b2) * (g.square() - v);
    if (decay > 0) w -= decay * w;
    w -= lrT * m / (v.sqrt() + eps);
  }
}

OptimizerState Adam::exportState() const {
  OptimizerState s = makeState(type_, {{"m", &m_}, {"v", &v_}});
  s.scalars["beta1"] = beta1_;
  s.scalars["beta2"] = beta2_;
  s.scalars["epsilon"] = epsilon_;
  s.scalars["weightDecay"] = weightDecay_;
  return s;
}

void Adam::importState(const OptimizerState& state) {
  restoreState(state, type_, {"beta1", "beta2", "epsilon", "weightDecay"}, {{"m", &m_}, {"v", &v_}},
               [this](const nlohmann::json& s) {
                 const float b1 = s["beta1"].get<float>(), b2 = s["beta2"].get<float>();
                 const float eps = s["epsilon"].get<float>(), wd = s["weightDecay"].get<float>();
                 SHRINK_CHECK(type_ == "adamw" || wd == 0, "adam::importState: an Adam state has weightDecay 0, got {}",
                              wd);
                 validate(type_ == "adamw" ? "AdamW::importState" : "Adam::importState", b1, b2, eps, wd);
                 beta1_ = b1;
                 beta2_ = b2;
                 epsilon_ = eps;
                 weightDecay_ = wd;
               });
}

AdamW::AdamW(std::vector<Parameter*> params, AdamWOptions o)
    : Adam(std::move(params), {.lr = o.lr, .beta1 = o.beta1, .beta2 = o.beta2, .epsilon = o.epsilon,
                               .clipNorm = o.clipNorm},
           o.weightDecay, "adamw") {}

}  // namespace shrink
