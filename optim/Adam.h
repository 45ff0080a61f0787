#pragma once

#include <string>

#include "optim/Optimizer.h"

namespace shrink {

/// Options of Adam, with Keras' defaults. lr >= 0; beta1, beta2 in [0, 1); epsilon > 0;
/// clipNorm >= 0 (global-norm clipping before the update, 0: off).
struct AdamOptions {
  float lr = 1e-3f;
  float beta1 = 0.9f;
  float beta2 = 0.999f;
  float epsilon = 1e-7f;
  float clipNorm = 0;
};

/// Adam as in Keras (keras.optimizers.Adam, amsgrad off), per element, with t = iterations() + 1:
///   m   += (1 - beta1) * (g - m)                  (= beta1 * m + (1 - beta1) * g)
///   v   += (1 - beta2) * (g * g - v)
///   lr_t = lr * sqrt(1 - beta2^t) / (1 - beta1^t)
///   w   -= lr_t * m / (sqrt(v) + epsilon)
/// Epsilon sits outside the bias correction: this is the paper's "epsilon hat" form of Keras and
/// tf.keras. PyTorch's torch.optim.Adam computes w -= lr * m_hat / (sqrt(v_hat) + eps) instead, i.e.
/// the same with eps_torch = epsilon / sqrt(1 - beta2^t). t is global (Keras), not per parameter
/// (PyTorch): a parameter without a gradient in a step skips it but its next step still uses the
/// global t. The bias-correction powers are computed in double. State type "adam", tensors
/// "m/<i>", "v/<i>".
class Adam : public Optimizer {
 public:
  explicit Adam(std::vector<Parameter*> params, AdamOptions options = {});

  float beta1() const { return beta1_; }
  float beta2() const { return beta2_; }
  float epsilon() const { return epsilon_; }

  OptimizerState exportState() const override;
  void importState(const OptimizerState& state) override;

 protected:
  /// For AdamW: decoupled weight decay `weightDecay`, saved under state type `type`.
  Adam(std::vector<Parameter*> params, const AdamOptions& options, float weightDecay, std::string type);
  void update() override;
  float weightDecay_ = 0;

 private:
  std::string type_;
  float beta1_, beta2_, epsilon_;
  Slot m_, v_;
};

/// Options of AdamW, with Keras' defaults (keras.optimizers.AdamW: epsilon 1e-7, weight_decay
/// 0.004). PyTorch's torch.optim.AdamW defaults differ: eps 1e-8 (placed as described at Adam) and
/// weight_decay 0.01. weightDecay >= 0.
struct AdamWOptions {
  float lr = 1e-3f;
  float beta1 = 0.9f;
  float beta2 = 0.999f;
  float epsilon = 1e-7f;
  float weightDecay = 0.004f;
  float clipNorm = 0;
};

/// Adam with decoupled weight decay (Loshchilov & Hutter), as Keras and PyTorch apply it: before
/// the Adam update of each parameter, w -= lr * weightDecay * w with the current lr (not the
/// bias-corrected lr_t); the decay is not part of the gradient, so it never enters m or v. State type "adamw"
/// with the Adam tensors and a "weightDecay" scalar.
class AdamW : public Adam {
 public:
  explicit AdamW(std::vector<Parameter*> params, AdamWOptions options = {});
  float weightDecay() const { return weightDecay_; }
};

}  // namespace shrink
