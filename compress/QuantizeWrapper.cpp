#include "compress/QuantizeWrapper.h"

#include <algorithm>

#include "compress/Wrapping.h"
#include "core/Check.h"
#include "layers/Config.h"
#include "layers/Registry.h"

namespace shrink {

ActivationQuantizer::ActivationQuantizer(Options options) : options_(options) {
  checkQuantBits(options_.bits, "ActivationQuantizer");
  min_ = &registerBuffer("min", Tensor(Shape{1}, -kInitialActivationRange));
  max_ = &registerBuffer("max", Tensor(Shape{1}, kInitialActivationRange));
  steps_ = &registerBuffer("steps", Tensor(Shape{1}, 0.0f));
}

Variable ActivationQuantizer::forward(const Variable& x) {
  SHRINK_CHECK(x.defined(), "ActivationQuantizer::forward: undefined input");
  if (isTraining()) trackActivationRange(x.value(), options_.tracking, (*min_)[0], (*max_)[0], (*steps_)[0]);
  const float lo = std::min(min(), 0.0f), hi = std::max(max(), 0.0f);
  return fakeQuant(x, {&lo, 1}, {&hi, 1}, {.bits = options_.bits, .rounding = options_.rounding});
}

nlohmann::json ActivationQuantizer::config() const {
  return {{"bits", options_.bits},
          {"range_tracking", rangeTrackingName(options_.tracking)},
          {"rounding", roundingModeName(options_.rounding)}};
}

std::unique_ptr<Module> ActivationQuantizer::fromConfig(const nlohmann::json& config) {
  ConfigReader c(config, "ActivationQuantizer");
  Options o;
  o.bits = static_cast<int>(c.integer("bits", 8));
  o.tracking = parseRangeTracking(c.string("range_tracking", "moving_average"));
  o.rounding = parseRoundingMode(c.string("rounding", "half_up"));
  c.finish();
  return std::make_unique<ActivationQuantizer>(o);
}

void checkQuantizeOptions(const QuantizeOptions& options) {
  checkQuantBits(options.weightBits, "QuantizeOptions weightBits");
  checkQuantBits(options.activationBits, "QuantizeOptions activationBits");
}

ActivationQuantizerOptions outputQuantizerOptions(const QuantizeOptions& options) {
  return {.bits = options.activationBits, .tracking = options.outputTracking, .rounding = options.rounding};
}

/// value = fakeQuant(weight) on the wrapper's range buffers; the wrapper's training forward first
/// sets the range from the weight it is given (after any earlier transform).
class QuantizeWrapper::WeightQuantizer : public WeightTransform {
 public:
  WeightQuantizer(const QuantizeWrapper& owner, const QuantizedWeight& weight) : owner_(owner), weight_(weight) {}

  Variable apply(const Variable& w) const override {
    const Options& o = owner_.options_;
    if (owner_.trackingWeights_) lastValueRange(w.value(), o.symmetricWeights, weight_.min->span(), weight_.max->span());
    return fakeQuant(w, weight_.min->span(), weight_.max->span(),
                     {.bits = o.weightBits, .narrowRange = o.symmetricWeights, .rounding = o.rounding});
  }
  TransformStage stage() const override { return TransformStage::Quantize; }

 private:
  const QuantizeWrapper& owner_;
  QuantizedWeight weight_;
};

QuantizeWrapper::QuantizeWrapper(std::unique_ptr<Module> layer, Options options)
    : LayerWrapper(std::move(layer), "QuantizeWrapper"), options_(options) {
  const std::string type = this->layer().typeName();
  SHRINK_CHECK(type != "QuantizeWrapper", "QuantizeWrapper: the layer is already wrapped for quantization");
  checkQuantizeOptions(options_);
  const std::vector<NamedWeight> weights = namedCompressibleWeights(this->layer(), "QuantizeWrapper");
  SHRINK_CHECK(!weights.empty(), "QuantizeWrapper: layer '{}' has no weights to quantize", type);

  if (options_.quantizeOutput)
    outputQuantizer_ = static_cast<ActivationQuantizer*>(
        &registerModule("output_quantizer", std::make_unique<ActivationQuantizer>(outputQuantizerOptions(options_))));
  for (const auto& [name, p] : weights) {
    const bool perAxis = options_.perAxis.value_or(p->shape().rank() == 4);
    SHRINK_CHECK(!perAxis || p->shape().rank() >= 1, "QuantizeWrapper: per-axis ranges need a weight with an axis 0; "
                 "'{}' of '{}' is a scalar", name, type);
    const Shape rangeShape{perAxis ? p->shape()[0] : 1};
    const std::string base = bufferPrefix(name);
    Tensor& min = registerBuffer(base + "_min", Tensor(rangeShape));
    Tensor& max = registerBuffer(base + "_max", Tensor(rangeShape));
    {
      NoGradGuard noGrad;
      lastValueRange(p->value().value(), options_.symmetricWeights, min.span(), max.span());
    }
    weights_.push_back({name, p, &min, &max, perAxis});
    transforms_.push_back(std::make_unique<WeightQuantizer>(*this, weights_.back()));
    p->addTransform(transforms_.back().get());
  }
}

QuantizeWrapper::~QuantizeWrapper() {
  for (size_t i = 0; i < transforms_.size(); ++i) weights_[i].parameter->removeTransform(transforms_[i].get());
}

Variable QuantizeWrapper::forward(const Variable& x) {
  // The weight ranges follow the weights only during this wrapper's own training forward.
  struct TrackingScope {
    bool& flag;
    ~TrackingScope() { flag = false; }
  } scope{trackingWeights_};
  trackingWeights_ = isTraining();
  Variable y = layer().forward(x);
  return outputQuantizer_ != nullptr ? outputQuantizer_->forward(y) : y;
}

nlohmann::json QuantizeWrapper::config() const {
  nlohmann::json c = {{"layer", architectureOf(layer())},
                      {"weight_bits", options_.weightBits},
                      {"activation_bits", options_.activationBits},
                      {"symmetric_weights", options_.symmetricWeights},
                      {"quantize_output", options_.quantizeOutput},
                      {"output_tracking", rangeTrackingName(options_.outputTracking)},
                      {"rounding", roundingModeName(options_.rounding)}};
  if (options_.perAxis) c["per_axis"] = *options_.perAxis;
  return c;
}

std::unique_ptr<Module> QuantizeWrapper::fromConfig(const nlohmann::json& config) {
  ConfigReader c(config, "QuantizeWrapper");
  Options o;
  o.weightBits = static_cast<int>(c.integer("weight_bits", 8));
  o.activationBits = static_cast<int>(c.integer("activation_bits", 8));
  if (c.has("per_axis")) o.perAxis = c.boolean("per_axis", false);
  o.symmetricWeights = c.boolean("symmetric_weights", true);
  o.quantizeOutput = c.boolean("quantize_output", true);
  o.outputTracking = parseRangeTracking(c.string("output_tracking", "moving_average"));
  o.rounding = parseRoundingMode(c.string("rounding", "half_up"));
  std::unique_ptr<Module> inner = buildModule(c.raw("layer"));
  c.finish();
  return std::make_unique<QuantizeWrapper>(std::move(inner), o);
}

QuantizeWrapper::Released QuantizeWrapper::release() {
  for (size_t i = 0; i < transforms_.size(); ++i) {
    Parameter& p = *weights_[i].parameter;
    Tensor quantized;
    {
      NoGradGuard noGrad;
      quantized = p.value().value();
    }
    p.removeTransform(transforms_[i].get());
    p.leaf().mutableValue() = std::move(quantized);
  }
  transforms_.clear();
  weights_.clear();
  outputQuantizer_ = nullptr;
  auto children = releaseChildren();
  Released out;
  out.layer = std::move(children[0].second);
  if (children.size() > 1) out.outputQuantizer = std::move(children[1].second);
  return out;
}

}  // namespace shrink
