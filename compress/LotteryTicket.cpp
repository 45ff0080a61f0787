#include "compress/LotteryTicket.h"

#include <cmath>
#include <memory>
#include <utility>

#include "compress/Prune.h"
#include "compress/PruningCallbacks.h"
#include "core/Check.h"

namespace shrink {

namespace {

/// Every parameter and buffer value of a model, to rewind to.
struct Snapshot {
  std::vector<std::pair<Parameter*, Tensor>> parameters;
  std::vector<std::pair<Tensor*, Tensor>> buffers;
};

Snapshot snapshot(const Module& model) {
  Snapshot s;
  for (Parameter* p : model.parameters()) s.parameters.emplace_back(p, p->leaf().value());
  for (auto& [name, b] : model.namedBuffers()) s.buffers.emplace_back(b, *b);
  return s;
}

void rewind(const Snapshot& s) {
  for (const auto& [p, value] : s.parameters) p->leaf().mutableValue() = value;
  for (const auto& [b, value] : s.buffers) *b = value;
}

LotteryTicketRound measure(int round, const std::vector<std::pair<std::string, PruneLowMagnitude*>>& wrappers,
                           Logs logs) {
  LotteryTicketRound r;
  r.round = round;
  r.logs = std::move(logs);
  int64_t zeros = 0, total = 0;
  for (const auto& [name, w] : wrappers)
    for (const PrunedWeight& p : w->prunedWeights()) {
      const Tensor& leaf = p.parameter->leaf().value();
      int64_t z = 0;
      for (float v : leaf) z += v == 0.0f ? 1 : 0;
      r.layerSparsity.push_back(static_cast<double>(z) / static_cast<double>(leaf.numel()));
      zeros += z;
      total += leaf.numel();
    }
  r.sparsity = total > 0 ? static_cast<double>(zeros) / static_cast<double>(total) : 0.0;
  return r;
}

}  // namespace

std::vector<LotteryTicketRound> lotteryTicket(Sequential& model, const LotteryTrainer& train,
                                              const LotteryTicketOptions& options) {
  SHRINK_CHECK(train != nullptr, "lotteryTicket: a trainer is required");
  SHRINK_CHECK(options.rounds >= 1, "lotteryTicket: rounds must be >= 1, got {}", options.rounds);
  SHRINK_CHECK(options.rate > 0 && options.rate < 1, "lotteryTicket: rate must be in (0, 1), got {}", options.rate);
  const double outputRate = options.outputRate.value_or(options.rate / 2);
  SHRINK_CHECK(outputRate >= 0 && outputRate < 1, "lotteryTicket: outputRate must be in [0, 1), got {}", outputRate);
  SHRINK_CHECK(pruneWrappers(model).empty(), "lotteryTicket: the model is already wrapped for pruning");

  const Snapshot initial = snapshot(model);
  // Step 0 is the schedule's only update step and it comes before the first batch (step 1), so
  // during training the masks stay as the rounds set them.
  const auto fixed = std::make_shared<ConstantSparsity>(ConstantSparsity::Options{.beginStep = 0, .endStep = 0});
  pruneLowMagnitude(model, PruneOptions{.schedule = fixed});
  const auto wrappers = pruneWrappers(model);

  UpdatePruningStep step;
  std::vector<LotteryTicketRound> rounds;
  rounds.push_back(measure(0, wrappers, train(model, {&step})));
  for (int r = 1; r <= options.rounds; ++r) {
    {
      NoGradGuard noGrad;
      for (size_t i = 0; i < wrappers.size(); ++i) {
        const double rate = i + 1 == wrappers.size() ? outputRate : options.rate;
        // The leaves are masked, so earlier-pruned weights are the smallest and stay pruned.
        wrappers[i].second->updateMasks(1 - std::pow(1 - rate, r));
      }
      rewind(initial);
      for (const auto& entry : wrappers) entry.second->applyMasks();
    }
    rounds.push_back(measure(r, wrappers, train(model, {&step})));
  }
  return rounds;
}

}  // namespace shrink
