#include "compress/PruningCallbacks.h"

#include <filesystem>
#include <typeinfo>
#include <unordered_map>

#include "compress/EventWriter.h"
#include "compress/ScalarLog.h"
#include "compress/Wrapping.h"
#include "core/Check.h"
#include "optim/Adam.h"
#include "optim/SGD.h"

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
    // The leaves are already masked (finishStep); only a new mask needs applying.
    if (w->options().nOfMN != 0) {
      if (w->step() != 1) continue;
      w->updateMasks(0.0);
    } else if (const PruneDecision d = w->options().schedule->at(w->step()); d.update) {
      w->updateMasks(d.sparsity);
    } else {
      continue;
    }
    w->applyMasks();
  }
  if (global.empty()) return;
  const PruneDecision d = global.front()->options().schedule->at(global.front()->step());
  if (!d.update) return;
  updateGlobalMasks(global, d.sparsity);
  for (PruneLowMagnitude* w : global) w->applyMasks();
}

void UpdatePruningStep::finishStep(Module& model) {
  for (const auto& entry : pruneWrappers(model)) entry.second->applyMasks();
}

namespace {

/// Whether the optimizer's update leaves an entry at exactly zero when its value, gradient and state
/// are zero: true of Adam, AdamW and SGD (any momentum, Nesterov, weight decay), whose updates are
/// elementwise products of those; subclasses may change the update, so only these exact types.
bool keepsZeroEntriesAtZero(const Optimizer& optimizer) {
  const std::type_info& t = typeid(optimizer);
  return t == typeid(Adam) || t == typeid(AdamW) || t == typeid(SGD);
}

/// Zeroes the optimizer's per-parameter state tensors ("<slot>/<parameter index>", OptimizerState)
/// at the entries the masks of `wrappers` prune.
void zeroPrunedState(Optimizer& optimizer, const std::vector<PruneLowMagnitude*>& wrappers) {
  std::unordered_map<const Parameter*, const Tensor*> maskOf;
  for (PruneLowMagnitude* w : wrappers)
    for (const PrunedWeight& p : w->prunedWeights()) maskOf[p.parameter] = p.mask;
  std::unordered_map<std::string, const Tensor*> maskOfIndex;
  const std::vector<Parameter*>& params = optimizer.parameters();
  for (size_t i = 0; i < params.size(); ++i)
    if (const auto it = maskOf.find(params[i]); it != maskOf.end()) maskOfIndex[std::to_string(i)] = it->second;
  if (maskOfIndex.empty()) return;
  OptimizerState state = optimizer.exportState();
  for (auto& [name, tensor] : state.tensors)
    if (const auto it = maskOfIndex.find(name.substr(name.rfind('/') + 1)); it != maskOfIndex.end())
      tensor.array() *= it->second->array();
  optimizer.importState(state);
}

}  // namespace

void UpdatePruningStep::onTrainBegin(TrainContext& context) {
  start(context.model);
  finishStep(context.model);
  wrappers_.clear();
  for (const auto& entry : pruneWrappers(context.model)) wrappers_.push_back(entry.second);
  maskVersions_.assign(wrappers_.size(), -1);
  remaskEveryStep_ = !keepsZeroEntriesAtZero(context.optimizer);
  zeroStateOfChangedMasks(context.optimizer);
}

void UpdatePruningStep::onBatchBegin(TrainContext& context) {
  advance(context.model);
  zeroStateOfChangedMasks(context.optimizer);
}

void UpdatePruningStep::onBatchEnd(TrainContext& context) {
  if (remaskEveryStep_) finishStep(context.model);
}

void UpdatePruningStep::onEpochEnd(TrainContext& context) { finishStep(context.model); }

void UpdatePruningStep::zeroStateOfChangedMasks(Optimizer& optimizer) {
  if (remaskEveryStep_) return;
  std::vector<PruneLowMagnitude*> changed;
  for (size_t i = 0; i < wrappers_.size(); ++i) {
    if (wrappers_[i]->maskVersion() == maskVersions_[i]) continue;
    maskVersions_[i] = wrappers_[i]->maskVersion();
    changed.push_back(wrappers_[i]);
  }
  if (!changed.empty()) zeroPrunedState(optimizer, changed);
}

PruningSummaries::PruningSummaries(const std::string& logDir) {
  std::error_code ec;
  std::filesystem::create_directories(logDir, ec);
  if (ec || !std::filesystem::is_directory(logDir))
    throw std::runtime_error(fmt::format("PruningSummaries: cannot create the log directory '{}': {}", logDir,
                                         ec ? ec.message() : "not a directory"));
  loggers_.push_back(std::make_unique<EventWriter>((std::filesystem::path(logDir) / "metrics").string()));
  loggers_.push_back(std::make_unique<ScalarCsvLog>((std::filesystem::path(logDir) / "pruning.csv").string()));
}

PruningSummaries::~PruningSummaries() = default;

void PruningSummaries::log(const std::string& layer, const PruneLowMagnitude& wrapper) {
  NoGradGuard noGrad;
  for (const PrunedWeight& p : wrapper.prunedWeights()) {
    const Tensor value = p.parameter->value().value();
    int64_t zeros = 0;
    for (float x : value) zeros += x == 0.0f ? 1 : 0;
    const double sparsity = static_cast<double>(zeros) / static_cast<double>(value.numel());
    const std::string tag = fmt::format("{}/{}", layer.empty() ? "model" : layer, p.name);
    for (auto& logger : loggers_) {
      logger->addScalar(tag + "/sparsity", sparsity, wrapper.step());
      logger->addScalar(tag + "/threshold", (*p.threshold)[0], wrapper.step());
    }
  }
}

void PruningSummaries::onTrainBegin(TrainContext& context) {
  wrappers_ = pruneWrappers(context.model);
  seenVersions_.clear();
  for (const auto& [name, w] : wrappers_) {
    seenVersions_.push_back(w->maskVersion());
    log(name, *w);
  }
  for (auto& logger : loggers_) logger->flush();
}

void PruningSummaries::onBatchEnd(TrainContext&) {
  bool wrote = false;
  for (size_t i = 0; i < wrappers_.size(); ++i) {
    if (wrappers_[i].second->maskVersion() == seenVersions_[i]) continue;
    seenVersions_[i] = wrappers_[i].second->maskVersion();
    log(wrappers_[i].first, *wrappers_[i].second);
    wrote = true;
  }
  if (wrote)
    for (auto& logger : loggers_) logger->flush();
}

void PruningSummaries::onTrainEnd(TrainContext&) {
  for (auto& logger : loggers_) logger->flush();
}

}  // namespace shrink
