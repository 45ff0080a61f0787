#pragma once

#include <cstdint>
#include <functional>
#include <initializer_list>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/Parameter.h"

namespace shrink {

/// Everything an optimizer needs to resume training exactly: its type ("adam", "adamw", "sgd"),
/// its scalars (lr, clipNorm, iterations, and the type's hyperparameters such as beta1) and its
/// per-parameter tensors named "<slot>/<parameter index>" in parameter order ("m/0", "v/0", "m/1", ...).
struct OptimizerState {
  std::string type;
  nlohmann::json scalars;
  std::vector<std::pair<std::string, Tensor>> tensors;
};

/// Base of the first-order optimizers. Holds a non-owning list of parameters (they must outlive
/// it) and updates their leaves in place. Subclasses implement `update()`, one flat Eigen-array
/// expression per parameter, over per-parameter state created up front and index-aligned with
/// `parameters()`.
class Optimizer {
 public:
  /// lr >= 0; clipNorm > 0 clips the global gradient norm to clipNorm before every update (0: off).
  explicit Optimizer(std::vector<Parameter*> params, float lr, float clipNorm = 0);
  virtual ~Optimizer();
  Optimizer(const Optimizer&) = delete;
  Optimizer& operator=(const Optimizer&) = delete;

  /// One update under NoGradGuard: clips the global norm of the gradients (when clipNorm > 0),
  /// then applies `update()` and increments `iterations()`. Parameters that are not trainable or
  /// have no gradient are left unchanged (their state too).
  void step();
  /// Drops the gradients of the parameters' leaves.
  void zeroGrad();

  float lr() const { return lr_; }
  void setLr(float lr);
  float clipNorm() const { return clipNorm_; }
  /// Completed steps; Adam's bias correction uses t = iterations() + 1 during a step (Keras).
  int64_t iterations() const { return iterations_; }
  const std::vector<Parameter*>& parameters() const { return params_; }

  /// The full state; see OptimizerState.
  virtual OptimizerState exportState() const = 0;
  /// Restores a state from exportState() of an optimizer of the same type over parameters of the
  /// same shapes, hyperparameters included. Throws std::invalid_argument naming the mismatch (type,
  /// missing scalar, tensor count, name or shape) before changing anything.
  virtual void importState(const OptimizerState& state) = 0;

 protected:
  /// Applies one update to every parameter for which `active(i)` holds; gradients are already clipped.
  virtual void update() = 0;
  /// Whether parameter i takes part in this step: trainable and with a gradient.
  bool active(size_t i) const;

  /// Per-parameter state tensors of one kind, index-aligned with parameters().
  using Slot = std::vector<Tensor>;
  /// Zero tensors shaped like each parameter.
  Slot zerosLikeParameters() const;

  /// The common state (type, lr, clipNorm, iterations) plus `slots` as "<name>/<i>" tensors.
  OptimizerState makeState(const std::string& type,
                           std::initializer_list<std::pair<const char*, const Slot*>> slots) const;
  /// Checks `state` against `type`, the required numeric `scalars` (besides the common
  /// lr, clipNorm, iterations) and `slots` (names, shapes), throwing std::invalid_argument; then calls
  /// `applyScalars`, which validates the type's own scalars (throwing if bad) and stores them; only
  /// then restores lr, clipNorm, iterations and the slot tensors. So a throw changes nothing.
  void restoreState(const OptimizerState& state, const std::string& type, std::initializer_list<const char*> scalars,
                    std::initializer_list<std::pair<const char*, Slot*>> slots,
                    const std::function<void(const nlohmann::json&)>& applyScalars);

 private:
  std::vector<Parameter*> params_;
  float lr_;
  float clipNorm_;
  int64_t iterations_ = 0;
};

}  // namespace shrink
