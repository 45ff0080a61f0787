#include "compress/PruningCallbacks.h"

#include "compress/Wrapping.h"
#include "core/Check.h"

namespace shrink {

std::vector<std::pair<std::string, PruneLowMagnitude*>> pruneWrappers(Module& model) {
  return modulesOfType<PruneLowMagnitude>(model);
}

namespace {

/// Masks of every Global-scope wrapper from one threshold over all their weights.
void updateGlobalMasks(const std::vector<PruneLowMagnitude*>& wrappers, double sparsity) {
  std::vector<const Tensor*> weights;
  for (PruneLowMagnitude* w : wrappers)
    for (const PrunedWeight& p : w->prunedWeights()) weights.push_back(&p.parameter->leaf().value());
  std::vector<MaskResult> masks = globalMagnitudeMasks(weights, sparsity);
  size_t k = 0;
  for (PruneLowMagnitude* w : wrappers)
    for (size_t i = 0; i < w->prunedWeights().size(); ++i, ++k) w->setMask(i, std::move(masks[k].mask), masks[k].threshold);
}

}  // namespace

void UpdatePruningStep::start(Module& model) {
  const auto wrappers = pruneWrappers(model);
  const PruneLowMagnitude* firstGlobal = nullptr;
  for (const auto& [name, w] : wrappers) {
    if (w->step() < 0) w->setStep(0);
    w->applyMasks();
    w->setLeavesMasked(true);
    if (w->options().scope != PruneScope::Global) continue;
    if (firstGlobal == nullptr) {
      firstGlobal = w;
      continue;
    }
    SHRINK_CHECK(pruningScheduleToJson(*w->options().schedule) == pruningScheduleToJson(*firstGlobal->options().schedule)
                     && w->step() == firstGlobal->step(),
                 "UpdatePruningStep: global-scope wrappers must share one schedule and step; '{}' differs", name);
  }
}

void UpdatePruningStep::advance(Module& model) {
  NoGradGuard noGrad;
  std::vector<PruneLowMagnitude*> global;
  for (const auto& [name, w] : pruneWrappers(model)) {
    SHRINK_CHECK(w->step() >= 0, "UpdatePruningStep: wrapper '{}' has step -1; call start() first", name);
    w->setStep(w->step() + 1);
    if (w->options().scope == PruneScope::Global) {
      global.push_back(w);
      continue;
    }
    // The leaves are already masked (finishStep) unless the masks change now.
    if (!w->updatesMasksAt(w->step())) continue;
    w->updateMasks(w->options().nOfMN != 0 ? 0.0 : w->options().schedule->at(w->step()).sparsity);
    w->applyMasks();
  }
  if (global.empty()) return;
  const PruneDecision d = global.front()->options().schedule->at(global.front()->step());
  if (!d.update) return;
  updateGlobalMasks(global, d.sparsity);
  for (PruneLowMagnitude* w : global) w->applyMasks();
}

void UpdatePruningStep::finishStep(Module& model) {
  // Before a mask update the leaves stay as the optimizer left them: the update ranks them so (and
  // then masks them), as tfmot's does.
  for (const auto& [name, w] : pruneWrappers(model))
    if (!w->updatesMasksAt(w->step() + 1)) w->applyMasks();
}

void UpdatePruningStep::end(Module& model) {
  for (const auto& entry : pruneWrappers(model)) {
    entry.second->applyMasks();
    entry.second->setLeavesMasked(false);
  }
}

void UpdatePruningStep::onTrainBegin(TrainContext& context) { start(context.model); }

void UpdatePruningStep::onBatchBegin(TrainContext& context) { advance(context.model); }

void UpdatePruningStep::onBatchEnd(TrainContext& context) { finishStep(context.model); }

void UpdatePruningStep::onEpochEnd(TrainContext& context) {
  // Whatever comes next, checkpoints written at epoch end hold sparse weights.
  for (const auto& entry : pruneWrappers(context.model)) entry.second->applyMasks();
}

void UpdatePruningStep::onTrainEnd(TrainContext& context) { end(context.model); }

}  // namespace shrink
