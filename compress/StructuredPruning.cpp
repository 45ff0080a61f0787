#include "compress/StructuredPruning.h"

#include <algorithm>
#include <cmath>
#include <tuple>
#include <unordered_set>

#include "compress/ChannelGraph.h"
#include "core/Check.h"
#include "core/Functions.h"

namespace shrink {

namespace {

/// value = leaf * mask, where the mask is 0 on the slices along axis 0 of pruned units.
class UnitMask final : public WeightTransform {
 public:
  explicit UnitMask(Parameter& p) : param_(&p), mask_(Tensor::ones(p.shape())) {}

  Variable apply(const Variable& weight) const override { return mul(weight, mask_); }
  TransformStage stage() const override { return TransformStage::Prune; }
  Parameter* param() const { return param_; }

  /// Sets the mask from the pruned flags and zeroes the pruned slices of the leaf.
  void update(const std::vector<uint8_t>& pruned) {
    NoGradGuard noGrad;
    Tensor& m = mask_.mutableValue();
    const int64_t rest = m.numel() / static_cast<int64_t>(pruned.size());
    for (size_t j = 0; j < pruned.size(); ++j)
      std::fill_n(m.data() + static_cast<int64_t>(j) * rest, rest, pruned[j] ? 0.0f : 1.0f);
    zeroLeaf(pruned);
  }

  void zeroLeaf(const std::vector<uint8_t>& pruned) {
    NoGradGuard noGrad;
    Tensor& w = param_->leaf().mutableValue();
    const int64_t rest = w.numel() / static_cast<int64_t>(pruned.size());
    for (size_t j = 0; j < pruned.size(); ++j)
      if (pruned[j]) std::fill_n(w.data() + static_cast<int64_t>(j) * rest, rest, 0.0f);
  }

  bool attached() const {
    const auto& chain = param_->transforms();
    return std::find(chain.begin(), chain.end(), this) != chain.end();
  }

 private:
  Parameter* param_;
  Variable mask_;
};

/// max(round_half_even(n (1 - fraction)), 1) units kept of n; the rest is the pruned target.
int64_t prunedTarget(int64_t n, double fraction) {
  const auto kept = static_cast<int64_t>(std::nearbyint(double(n) * (1.0 - fraction)));
  return n - std::max<int64_t>(kept, 1);
}

const ChannelLayer& findLayer(const std::vector<ChannelLayer>& layers, const std::string& name, const char* fn) {
  for (const ChannelLayer& cl : layers)
    if (cl.name == name) return cl;
  std::vector<std::string> names;
  for (const ChannelLayer& cl : layers) names.push_back(cl.name);
  throw std::invalid_argument(
      fmt::format("{}: '{}' is not a Dense/Conv2D layer of the model (those are: {})", fn, name, fmt::join(names, ", ")));
}

}  // namespace

struct StructuredPruner::Target {
  std::string name;
  int64_t units = 0;
  std::vector<uint8_t> pruned;
  std::vector<std::unique_ptr<UnitMask>> masks;  // kernel, bias, BatchNorm gammas and betas; empty until used

  int64_t prunedCount() const { return std::count(pruned.begin(), pruned.end(), uint8_t{1}); }
  void detach(const std::unordered_set<Parameter*>& live) {
    for (auto& m : masks)
      if (live.count(m->param())) m->param()->removeTransform(m.get());
    masks.clear();
  }
};

StructuredPruner::StructuredPruner(Sequential& model, StructuredPruningOptions options)
    : model_(model), options_(std::move(options)) {
  SHRINK_CHECK(options_.layers.empty() || !options_.select,
               "StructuredPruner: give either options.layers or options.select, not both");
  const std::vector<ChannelLayer> layers = channelLayers(model_);
  std::vector<const ChannelLayer*> chosen;
  for (const std::string& name : options_.layers) {
    const ChannelLayer& cl = findLayer(layers, name, "StructuredPruner");
    SHRINK_CHECK(std::find(chosen.begin(), chosen.end(), &cl) == chosen.end(),
                 "StructuredPruner: layer '{}' is named twice", name);
    chosen.push_back(&cl);
  }
  if (options_.layers.empty())
    for (const ChannelLayer& cl : layers)
      if (options_.select ? options_.select(cl.name, *cl.layer) : !cl.isOutput) chosen.push_back(&cl);
  std::sort(chosen.begin(), chosen.end(), [](auto* a, auto* b) { return a->index < b->index; });
  SHRINK_CHECK(!chosen.empty(), "StructuredPruner: no layer selected (Dense/Conv2D layers other than the output)");
  for (const ChannelLayer* cl : chosen) {
    SHRINK_CHECK(!cl->isOutput, "StructuredPruner: layer '{}' is the model's output layer, which is never pruned",
                 cl->name);
    SHRINK_CHECK(cl->zeroBlocker.empty(),
                 "StructuredPruner: cannot prune layer '{}': {} turns a pruned (zero) channel into a nonzero value, "
                 "so its units could not be removed exactly; leave the layer out of the selection",
                 cl->name, cl->zeroBlocker);
    auto t = std::make_unique<Target>();
    t->name = cl->name;
    t->units = cl->units;
    t->pruned.assign(static_cast<size_t>(cl->units), 0);
    targets_.push_back(std::move(t));
  }
}

StructuredPruner::~StructuredPruner() {
  const auto params = model_.parameters();
  const std::unordered_set<Parameter*> live(params.begin(), params.end());
  for (auto& t : targets_) t->detach(live);
}

void StructuredPruner::sync() {
  const auto params = model_.parameters();
  const std::unordered_set<Parameter*> live(params.begin(), params.end());
  std::vector<ChannelLayer> layers;
  for (auto& t : targets_) {
    const bool valid = std::all_of(t->masks.begin(), t->masks.end(),
                                   [&](const auto& m) { return live.count(m->param()) && m->attached(); });
    if (valid && !t->masks.empty()) continue;
    if (!valid) t->detach(live);
    // No transforms of ours (never pruned, or the layer was rebuilt or baked): start afresh.
    if (layers.empty()) layers = channelLayers(model_);
    const ChannelLayer& cl = findLayer(layers, t->name, "StructuredPruner");
    if (!valid || cl.units != t->units) {
      t->units = cl.units;
      t->pruned.assign(static_cast<size_t>(cl.units), 0);
    }
  }
}

StructuredPruner::Target& StructuredPruner::target(const std::string& name) {
  for (auto& t : targets_)
    if (t->name == name) return *t;
  throw std::invalid_argument(fmt::format("StructuredPruner: layer '{}' is not selected for pruning (selected: {})",
                                          name, fmt::join(selectedLayers(), ", ")));
}

void StructuredPruner::applyMasks(Target& t) {
  if (t.masks.empty()) {
    if (t.prunedCount() == 0) return;
    const std::vector<ChannelLayer> layers = channelLayers(model_);
    const ChannelLayer& cl = findLayer(layers, t.name, "StructuredPruner");
    std::vector<Parameter*> params{cl.weight};
    if (cl.bias) params.push_back(cl.bias);
    for (BatchNorm* bn : cl.batchNorms) {
      params.push_back(&bn->gamma());
      params.push_back(&bn->beta());
    }
    for (Parameter* p : params) {
      SHRINK_ASSERT(p->shape().rank() >= 1 && p->shape()[0] == t.units,
                    "StructuredPruner: parameter of shape {} of layer '{}' does not have {} units", p->shape().str(),
                    t.name, t.units);
      t.masks.push_back(std::make_unique<UnitMask>(*p));
      p->addTransform(t.masks.back().get());
    }
  }
  for (auto& m : t.masks) m->update(t.pruned);
}

std::vector<Tensor> StructuredPruner::scoreLayers(const data::Dataset* data) {
  const std::vector<ChannelLayer> layers = channelLayers(model_);
  std::vector<Tensor> scores;
  if (options_.criterion == UnitCriterion::Taylor) {
    SHRINK_CHECK(data != nullptr, "StructuredPruner::prune: the Taylor criterion needs data (pass a dataset)");
    const std::vector<LayerScores> all = taylorScores(model_, *data, options_.taylor);
    for (auto& t : targets_) {
      auto it = std::find_if(all.begin(), all.end(), [&](const LayerScores& s) { return s.name == t->name; });
      SHRINK_ASSERT(it != all.end(), "StructuredPruner: no Taylor scores for layer '{}'", t->name);
      scores.push_back(it->scores);
    }
    return scores;
  }
  for (auto& t : targets_) {
    const ChannelLayer& cl = findLayer(layers, t->name, "StructuredPruner");
    ChannelNorm norm = cl.isConv ? ChannelNorm::L1 : ChannelNorm::L2;
    if (options_.criterion == UnitCriterion::L1) norm = ChannelNorm::L1;
    if (options_.criterion == UnitCriterion::L2) norm = ChannelNorm::L2;
    NoGradGuard noGrad;
    scores.push_back(rowNorms(cl.weight->value().value(), norm));
  }
  return scores;
}

int64_t StructuredPruner::prune(double fraction, const data::Dataset* data) {
  SHRINK_CHECK(fraction >= 0.0 && fraction < 1.0, "StructuredPruner::prune: fraction must be in [0, 1), got {}",
               fraction);
  sync();
  std::vector<Tensor> scores = scoreLayers(data);
  // Candidates (score, layer, unit): the lowest go first, ties to the earlier layer and lower index.
  using Candidate = std::tuple<float, size_t, int64_t>;
  std::vector<int64_t> prunedNow;
  for (auto& t : targets_) prunedNow.push_back(t->prunedCount());
  int64_t added = 0;
  auto take = [&](std::vector<Candidate>& cands, int64_t want) {
    std::sort(cands.begin(), cands.end());
    for (const auto& [score, k, j] : cands) {
      if (want <= 0) break;
      if (prunedNow[k] >= targets_[k]->units - 1) continue;
      targets_[k]->pruned[static_cast<size_t>(j)] = 1;
      ++prunedNow[k];
      --want;
      ++added;
    }
  };
  auto candidatesOf = [&](size_t k, const Tensor& s, std::vector<Candidate>& out) {
    for (int64_t j = 0; j < targets_[k]->units; ++j)
      if (!targets_[k]->pruned[static_cast<size_t>(j)]) out.emplace_back(s[j], k, j);
  };
  if (options_.scope == PruningScope::PerLayer) {
    for (size_t k = 0; k < targets_.size(); ++k) {
      std::vector<Candidate> cands;
      candidatesOf(k, scores[k], cands);
      take(cands, prunedTarget(targets_[k]->units, fraction) - targets_[k]->prunedCount());
    }
  } else {
    int64_t total = 0, have = 0;
    std::vector<Candidate> cands;
    for (size_t k = 0; k < targets_.size(); ++k) {
      total += targets_[k]->units;
      have += targets_[k]->prunedCount();
      candidatesOf(k, l2Normalized(scores[k]), cands);
    }
    take(cands, prunedTarget(total, fraction) - have);
  }
  for (auto& t : targets_) applyMasks(*t);
  return added;
}

void StructuredPruner::pruneUnits(const std::string& layer, const std::vector<int64_t>& units) {
  sync();
  Target& t = target(layer);
  std::vector<uint8_t> pruned = t.pruned;
  for (int64_t j : units) {
    SHRINK_CHECK(j >= 0 && j < t.units, "StructuredPruner::pruneUnits: unit {} out of range for layer '{}' ({} units)",
                 j, layer, t.units);
    pruned[static_cast<size_t>(j)] = 1;
  }
  SHRINK_CHECK(std::count(pruned.begin(), pruned.end(), uint8_t{1}) < t.units,
               "StructuredPruner::pruneUnits: would prune all {} units of layer '{}'; at least one must stay", t.units,
               layer);
  t.pruned = std::move(pruned);
  applyMasks(t);
}

void StructuredPruner::removeMasks() {
  sync();
  const auto params = model_.parameters();
  const std::unordered_set<Parameter*> live(params.begin(), params.end());
  for (auto& t : targets_) {
    for (auto& m : t->masks) m->zeroLeaf(t->pruned);
    t->detach(live);
    std::fill(t->pruned.begin(), t->pruned.end(), uint8_t{0});
  }
}

std::vector<UnitCount> StructuredPruner::counts() const {
  std::vector<UnitCount> out;
  for (const auto& t : targets_) out.push_back({t->name, t->units, t->prunedCount()});
  return out;
}

std::vector<bool> StructuredPruner::prunedUnits(const std::string& layer) const {
  for (const auto& t : targets_)
    if (t->name == layer) return std::vector<bool>(t->pruned.begin(), t->pruned.end());
  throw std::invalid_argument(fmt::format("StructuredPruner::prunedUnits: layer '{}' is not selected (selected: {})",
                                          layer, fmt::join(selectedLayers(), ", ")));
}

std::vector<std::string> StructuredPruner::selectedLayers() const {
  std::vector<std::string> out;
  for (const auto& t : targets_) out.push_back(t->name);
  return out;
}

void StructuredPruner::onTrainBegin(TrainContext&) {
  sync();
  for (auto& t : targets_) applyMasks(*t);
}

void StructuredPruner::onBatchEnd(TrainContext&) {
  sync();
  for (auto& t : targets_)
    for (auto& m : t->masks) m->zeroLeaf(t->pruned);
}

}  // namespace shrink
