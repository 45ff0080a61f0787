#pragma once

#include "optim/Optimizer.h"

namespace shrink {

/// Options of SGD. lr >= 0; momentum >= 0 (0: plain SGD, no buffer); nesterov needs momentum > 0;
/// weightDecay >= 0; clipNorm >= 0 (global-norm clipping before the update, 0: off).
struct SGDOptions {
  float lr = 0.01f;
  float momentum = 0;
  bool nesterov = false;
  float weightDecay = 0;
  float clipNorm = 0;
};

/// Stochastic gradient descent with PyTorch's torch.optim.SGD semantics (dampening 0), per element:
///   g  = grad + weightDecay * w            (coupled L2 decay, added to the gradient)
///   b  = momentum * b + g                  (b starts at zero, so the first step has b = g)
///   w -= lr * (nesterov ? g + momentum * b : b)      (w -= lr * g when momentum == 0)
/// With a constant lr this equals Keras' SGD (velocity = momentum * velocity - lr * grad) with the
/// velocity = -lr * b; the two differ only when lr changes mid-run. State type "sgd", tensors
/// "momentum/<i>" when momentum > 0.
class SGD : public Optimizer {
 public:
  explicit SGD(std::vector<Parameter*> params, SGDOptions options = {});

  float momentum() const { return momentum_; }
  bool nesterov() const { return nesterov_; }
  float weightDecay() const { return weightDecay_; }

  OptimizerState exportState() const override;
  void importState(const OptimizerState& state) override;

 protected:
  void update() override;

 private:
  float momentum_;
  bool nesterov_;
  float weightDecay_;
  Slot buffer_;  // empty when momentum_ == 0
};

}  // namespace shrink
