#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "compress/PruneLowMagnitude.h"
#include "optim/Callback.h"

namespace shrink {

class ScalarLogger;

/// Every PruneLowMagnitude wrapper under `model` (the model itself included), with its dotted name,
/// in model order.
std::vector<std::pair<std::string, PruneLowMagnitude*>> pruneWrappers(Module& model);

/// Drives the wrappers of the model being trained (tfmot's UpdatePruningStep) and keeps pruned
/// weights at exactly zero:
/// - train begin: a step still at -1 becomes 0 (a restored model keeps its step); weights <-
///   weights * masks;
/// - batch begin: every wrapper's step += 1 (the first batch is step 1); where the schedule says so,
///   masks are recomputed from the current weights (Layer scope per wrapper; Global scope: one
///   threshold across every Global-scope wrapper, whose schedules must be equal; N:M masks only at
///   step 1) and applied to the weights;
/// - pruned entries get zero gradient (the mask transform). With Adam, AdamW or SGD, the optimizer's
///   state at the pruned entries (moments, momentum) is zeroed whenever masks change (and when
///   training begins), so their updates leave those entries at exactly zero and no per-step work is
///   needed. With any other optimizer, batch end sets weights <- weights * masks after every step;
/// - epoch end: weights <- weights * masks.
/// Training a wrapped model without this callback fails at the first batch.
class UpdatePruningStep : public Callback {
 public:
  void onTrainBegin(TrainContext& context) override;
  void onBatchBegin(TrainContext& context) override;
  void onBatchEnd(TrainContext& context) override;
  void onEpochEnd(TrainContext& context) override;

  /// Runs one pruning step on `model` as onBatchBegin does: for custom training loops, together
  /// with start(model) once and finishStep(model) after each optimizer step.
  static void start(Module& model);
  static void advance(Module& model);
  static void finishStep(Module& model);

 private:
  /// With an optimizer that keeps zero entries at zero: zeroes its state at the pruned entries of
  /// every wrapper whose masks changed since the last call.
  void zeroStateOfChangedMasks(Optimizer& optimizer);

  std::vector<PruneLowMagnitude*> wrappers_;
  std::vector<int64_t> maskVersions_;  ///< of wrappers_, as of the last zeroing of optimizer state
  bool remaskEveryStep_ = true;        ///< the optimizer may move entries whose gradient is zero
};

/// Logs, for every pruned weight, its sparsity (fraction of zeros of the masked weight) and its mask
/// threshold: once when training begins (step 0 for a fresh model) and then at every step where
/// its mask changed, with the wrapper's pruning step as the step. Tags are
/// "<layer>/<weight>/sparsity" and "<layer>/<weight>/threshold" (e.g. "dense_1/weight/sparsity").
/// Written both as TensorBoard event files in `<logDir>/metrics/` and as `<logDir>/pruning.csv`
/// (step,tag,value). Pass it after UpdatePruningStep.
class PruningSummaries : public Callback {
 public:
  /// Creates `logDir` when missing; std::runtime_error naming the path when it cannot.
  explicit PruningSummaries(const std::string& logDir);
  ~PruningSummaries() override;

  void onTrainBegin(TrainContext& context) override;
  void onBatchEnd(TrainContext& context) override;
  void onTrainEnd(TrainContext& context) override;

 private:
  void log(const std::string& layer, const PruneLowMagnitude& wrapper);

  std::vector<std::unique_ptr<ScalarLogger>> loggers_;
  std::vector<std::pair<std::string, PruneLowMagnitude*>> wrappers_;
  std::vector<int64_t> seenVersions_;
};

}  // namespace shrink
