#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "compress/PruneLowMagnitude.h"
#include "optim/Callback.h"

namespace shrink {

/// Every PruneLowMagnitude wrapper under `model` (the model itself included), with its dotted name,
/// in model order.
std::vector<std::pair<std::string, PruneLowMagnitude*>> pruneWrappers(Module& model);

/// Drives the wrappers of the model being trained (tfmot's UpdatePruningStep) and keeps pruned
/// weights at exactly zero:
/// - train begin: a step still at -1 becomes 0 (a restored model keeps its step); weights <-
///   weights * masks; the wrappers are told their leaves stay masked (setLeavesMasked), so training
///   forwards read them without a mask product;
/// - batch begin: every wrapper's step += 1 (the first batch is step 1); where the schedule says so,
///   masks are recomputed from the current weights (Layer scope per wrapper; Global scope: one
///   threshold across every Global-scope wrapper, whose schedules must be equal; N:M masks only at
///   step 1) and applied to the weights;
/// - batch end (after the optimizer step): weights <- weights * masks, unless the next step updates
///   masks (that update then ranks the weights as the optimizer left them, and masks them). As in
///   tfmot, gradients and optimizer state reach pruned entries, re-masking undoes their updates
///   before the next forward, with any optimizer, and a pruned weight whose one-step update beats
///   the new threshold regrows;
/// - epoch end: weights <- weights * masks (checkpoints are sparse);
/// - train end: weights <- weights * masks, and the wrappers multiply by their masks again.
/// Training a wrapped model without this callback fails at the first batch.
class UpdatePruningStep : public Callback {
 public:
  void onTrainBegin(TrainContext& context) override;
  void onBatchBegin(TrainContext& context) override;
  void onBatchEnd(TrainContext& context) override;
  void onEpochEnd(TrainContext& context) override;
  void onTrainEnd(TrainContext& context) override;

  /// The hooks for custom training loops: start(model) once (as train begin), advance(model) before
  /// each batch's forward, finishStep(model) after each optimizer step, end(model) when done.
  static void start(Module& model);
  static void advance(Module& model);
  static void finishStep(Module& model);
  static void end(Module& model);
};

}  // namespace shrink
