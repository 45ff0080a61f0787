#include "compress/PruneLowMagnitude.h"

#include <cmath>
#include <mutex>
#include <stdexcept>

#include "compress/Cluster.h"
#include "compress/QuantNoise.h"
#include "compress/QuantizeWrapper.h"
#include "compress/Wrapping.h"
#include "core/Check.h"
#include "layers/Config.h"
#include "layers/Registry.h"

namespace shrink {

namespace {

constexpr double kMaxExactStep = 16777216.0;  // 2^24: the largest step a float holds exactly

}  // namespace

std::string pruneScopeName(PruneScope scope) { return scope == PruneScope::Global ? "global" : "layer"; }

PruneScope parsePruneScope(const std::string& name) {
  if (name == "layer") return PruneScope::Layer;
  if (name == "global") return PruneScope::Global;
  throw std::invalid_argument(fmt::format("pruning scope must be 'layer' or 'global', got '{}'", name));
}

std::string blockPoolingName(BlockPooling pooling) { return pooling == BlockPooling::Max ? "max" : "avg"; }

BlockPooling parseBlockPooling(const std::string& name) {
  if (name == "avg") return BlockPooling::Avg;
  if (name == "max") return BlockPooling::Max;
  throw std::invalid_argument(fmt::format("block pooling must be 'avg' or 'max', got '{}'", name));
}

/// value = weight * mask; the gradient reaching the weight is masked the same way. Passes the
/// weight through unchanged while the wrapper trains on leaves that are kept masked.
class PruneLowMagnitude::MaskTransform : public WeightTransform {
 public:
  explicit MaskTransform(const Tensor* mask) : mask_(mask) {}

  void setPassThrough(bool on) { passThrough_ = on; }

  Variable apply(const Variable& weight) const override {
    if (passThrough_) return weight;
    const Tensor* mask = mask_;
    Tensor out = Tensor::uninitialized(weight.shape());
    out.array() = weight.value().array() * mask->array();
    // The mask is a buffer of the wrapper; masks change only between training steps, never between
    // a forward and its backward.
    return Variable::fromOp(
        std::move(out), {weight},
        [mask](std::vector<Variable>& in, Tensor& gradOut, const Tensor&) {
          if (!in[0].requiresGrad()) return;
          gradOut.array() *= mask->array();  // the output's gradient is ours to reuse
          in[0].addGrad(std::move(gradOut));
        },
        "pruneMask");
  }
  TransformStage stage() const override { return TransformStage::Prune; }

 private:
  const Tensor* mask_;
  bool passThrough_ = false;
};

PruneLowMagnitude::PruneLowMagnitude(std::unique_ptr<Module> layer, Options options)
    : LayerWrapper(std::move(layer), "PruneLowMagnitude"), options_(std::move(options)) {
  const std::string type = this->layer().typeName();
  SHRINK_CHECK(type != "PruneLowMagnitude", "PruneLowMagnitude: the layer is already wrapped for pruning");
  SHRINK_CHECK(options_.schedule != nullptr, "PruneLowMagnitude: layer '{}': no pruning schedule given", type);
  SHRINK_CHECK(options_.blockRows >= 1 && options_.blockCols >= 1,
               "PruneLowMagnitude: block size must be >= 1x1, got {}x{}", options_.blockRows, options_.blockCols);
  const bool nOfM = options_.nOfMN != 0 || options_.nOfMM != 0;
  const bool block = options_.blockRows != 1 || options_.blockCols != 1;
  if (nOfM)
    SHRINK_CHECK(options_.nOfMN >= 1 && options_.nOfMN < options_.nOfMM,
                 "PruneLowMagnitude: N:M sparsity needs 1 <= N < M, got {}:{}", options_.nOfMN, options_.nOfMM);
  SHRINK_CHECK(!(nOfM && block), "PruneLowMagnitude: choose block sparsity or N:M sparsity, not both");
  SHRINK_CHECK(options_.scope == PruneScope::Layer || !(nOfM || block),
               "PruneLowMagnitude: global scope works on single weights; block and N:M sparsity are per layer");

  const std::vector<NamedWeight> prunable = namedCompressibleWeights(this->layer(), "PruneLowMagnitude");
  SHRINK_CHECK(!prunable.empty(), "PruneLowMagnitude: layer '{}' has no prunable weights", type);

  step_ = &registerBuffer("step", Tensor(Shape{1}, -1.0f));
  for (const auto& [name, p] : prunable) {
    if (nOfM || block)
      SHRINK_CHECK(p->shape().rank() == 2 || p->shape().rank() == 4,
                   "PruneLowMagnitude: block and N:M sparsity need a Dense or Conv2D kernel; '{}' of '{}' has shape {}",
                   name, type, p->shape().str());
    const std::string base = bufferPrefix(name);
    Tensor& mask = registerBuffer(base + "_mask", Tensor::ones(p->shape()));
    Tensor& threshold = registerBuffer(base + "_threshold", Tensor(Shape{1}, 0.0f));
    weights_.push_back({name, p, &mask, &threshold});
    transforms_.push_back(std::make_unique<MaskTransform>(&mask));
    p->addTransform(transforms_.back().get());
  }
}

PruneLowMagnitude::~PruneLowMagnitude() {
  for (size_t i = 0; i < transforms_.size() && hasLayer(); ++i)
    weights_[i].parameter->removeTransform(transforms_[i].get());
}

Variable PruneLowMagnitude::forward(const Variable& x) {
  if (isTraining() && step() < 1)
    throw std::logic_error(
        "PruneLowMagnitude: pruning step not set; pass UpdatePruningStep to fit() (or call its hooks in a custom "
        "training loop)");
  for (auto& t : transforms_) t->setPassThrough(leavesMasked_ && isTraining());
  return layer().forward(x);
}

nlohmann::json PruneLowMagnitude::config() const {
  nlohmann::json c = {{"layer", architectureOf(layer())},
                      {"schedule", pruningScheduleToJson(*options_.schedule)},
                      {"block_size", {options_.blockRows, options_.blockCols}},
                      {"pooling", blockPoolingName(options_.pooling)},
                      {"scope", pruneScopeName(options_.scope)}};
  if (options_.nOfMN != 0) c["n_of_m"] = {options_.nOfMN, options_.nOfMM};
  return c;
}

int64_t PruneLowMagnitude::step() const { return static_cast<int64_t>((*step_)[0]); }

void PruneLowMagnitude::setStep(int64_t step) {
  SHRINK_CHECK(step >= -1 && static_cast<double>(step) <= kMaxExactStep,
               "PruneLowMagnitude::setStep: step must be in [-1, 2^24], got {}", step);
  (*step_)[0] = static_cast<float>(step);
}

void PruneLowMagnitude::updateMasks(double sparsity) {
  for (PrunedWeight& w : weights_) {
    const Tensor& value = w.parameter->leaf().value();
    MaskResult r;
    if (options_.nOfMN != 0)
      r = nOfMMask(value, options_.nOfMN, options_.nOfMM);
    else if (options_.blockRows != 1 || options_.blockCols != 1)
      r = blockMask(value, sparsity, options_.blockRows, options_.blockCols, options_.pooling);
    else
      r = magnitudeMask(value, sparsity);
    *w.mask = std::move(r.mask);
    (*w.threshold)[0] = r.threshold;
  }
  ++maskVersion_;
}

void PruneLowMagnitude::setMask(size_t i, Tensor mask, float threshold) {
  SHRINK_CHECK(i < weights_.size(), "PruneLowMagnitude::setMask: weight {} out of range ({} pruned weights)", i,
               weights_.size());
  SHRINK_CHECK(mask.shape() == weights_[i].mask->shape(), "PruneLowMagnitude::setMask: mask shape {} != weight shape {}",
               mask.shape().str(), weights_[i].mask->shape().str());
  *weights_[i].mask = std::move(mask);
  (*weights_[i].threshold)[0] = threshold;
  ++maskVersion_;
}

void PruneLowMagnitude::setLeavesMasked(bool on) {
  leavesMasked_ = on;
  if (!on)
    for (auto& t : transforms_) t->setPassThrough(false);
}

void PruneLowMagnitude::applyMasks() {
  NoGradGuard noGrad;
  // select rather than multiply: a negative weight times 0 is -0, whose bytes differ from +0's and
  // so cost compression in saved models.
  for (PrunedWeight& w : weights_) {
    ArrayMap leaf = w.parameter->leaf().mutableValue().array();
    leaf = (w.mask->array() != 0.0f).select(leaf, 0.0f);
  }
}

int64_t maskedZeros(const PrunedWeight& weight) {
  const Tensor& leaf = weight.parameter->leaf().value();
  int64_t zeros = 0;
  for (int64_t i = 0; i < leaf.numel(); ++i) zeros += (*weight.mask)[i] == 0.0f || leaf[i] == 0.0f ? 1 : 0;
  return zeros;
}

bool PruneLowMagnitude::updatesMasksAt(int64_t step) const {
  if (options_.nOfMN != 0) return step == 1;
  return options_.schedule->at(step).update;
}

double PruneLowMagnitude::sparsity() const {
  int64_t zeros = 0, total = 0;
  for (const PrunedWeight& w : weights_) zeros += maskedZeros(w);
  for (const PrunedWeight& w : weights_) total += w.mask->numel();
  return total == 0 ? 0.0 : static_cast<double>(zeros) / static_cast<double>(total);
}

std::unique_ptr<Module> PruneLowMagnitude::releaseLayer() {
  applyMasks();
  for (size_t i = 0; i < transforms_.size(); ++i) weights_[i].parameter->removeTransform(transforms_[i].get());
  weights_.clear();
  transforms_.clear();
  return std::move(releaseChildren().front().second);
}

namespace {

std::unique_ptr<Module> makePruneLowMagnitude(const nlohmann::json& config) {
  ConfigReader c(config, "PruneLowMagnitude");
  PruneOptions o;
  o.schedule = pruningScheduleFromJson(c.raw("schedule"));
  std::tie(o.blockRows, o.blockCols) = c.pair("block_size", {1, 1});
  o.pooling = parseBlockPooling(c.string("pooling", "avg"));
  o.scope = parsePruneScope(c.string("scope", "layer"));
  if (c.has("n_of_m")) std::tie(o.nOfMN, o.nOfMM) = c.pair("n_of_m");
  std::unique_ptr<Module> inner = buildModule(c.raw("layer"));
  c.finish();
  return std::make_unique<PruneLowMagnitude>(std::move(inner), std::move(o));
}

}  // namespace

void registerCompressionTypes() {
  static std::once_flag once;
  std::call_once(once, [] {
    registerModuleType("PruneLowMagnitude", makePruneLowMagnitude);
    registerModuleType("QuantizeWrapper", QuantizeWrapper::fromConfig);
    registerModuleType("QuantNoiseWrapper", QuantNoiseWrapper::fromConfig);
    registerModuleType("ClusterWeights", ClusterWeights::fromConfig);
    registerModuleType("ActivationQuantizer", ActivationQuantizer::fromConfig);
  });
}

namespace {
// Registers at start-up whenever this file is linked in; registerCompressionTypes() covers programs
// whose linker dropped it.
const bool kRegistered = (registerCompressionTypes(), true);
}  // namespace

}  // namespace shrink
