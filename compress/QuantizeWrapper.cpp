#include "compress/QuantizeWrapper.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "compress/Wrapping.h"
#include "core/Check.h"
#include "core/Functions.h"
#include "layers/BatchNorm.h"
#include "layers/Config.h"
#include "layers/Conv2D.h"
#include "layers/Registry.h"

namespace shrink {

namespace {

/// The mean of each channel of an NCHW tensor over N, H and W: [C].
Variable channelMean(const Variable& z) { return mean(mean(mean(z, 3), 2), 0); }

/// `layer`, a Conv2D, with its bias set to `bias`; one without a bias is rebuilt with one.
std::unique_ptr<Module> withBias(std::unique_ptr<Module> layer, Tensor bias) {
  auto& conv = static_cast<Conv2D&>(*layer);
  if (conv.bias() != nullptr) {
    conv.bias()->leaf().mutableValue() = std::move(bias);
    return layer;
  }
  Conv2DOptions o = conv.options();
  o.useBias = true;
  o.seed = o.seed.value_or(0);  // the kernel is overwritten: draw nothing from the default generator
  auto rebuilt = std::make_unique<Conv2D>(o);
  rebuilt->weight().leaf().mutableValue() = conv.weight().leaf().value();
  rebuilt->weight().setTrainable(conv.weight().trainable());
  rebuilt->bias()->leaf().mutableValue() = std::move(bias);
  return rebuilt;
}

}  // namespace

ActivationQuantizer::ActivationQuantizer(Options options) : options_(options) {
  checkQuantBits(options_.bits, "ActivationQuantizer");
  min_ = &registerBuffer("min", Tensor(Shape{1}, -kInitialActivationRange));
  max_ = &registerBuffer("max", Tensor(Shape{1}, kInitialActivationRange));
  steps_ = &registerBuffer("steps", Tensor(Shape{1}, 0.0f));
}

Variable ActivationQuantizer::forward(const Variable& x) {
  SHRINK_CHECK(x.defined(), "ActivationQuantizer::forward: undefined input");
  if (observer_) {
    observer_(x.value());
    return x;
  }
  if (isTraining()) trackActivationRange(x.value(), options_.tracking, (*min_)[0], (*max_)[0], (*steps_)[0]);
  const FakeQuantOptions grid{.bits = options_.bits, .rounding = options_.rounding};
  if (options_.tracking == RangeTracking::Dynamic) {
    SHRINK_CHECK(x.shape().rank() >= 1 && x.numel() > 0,
                 "ActivationQuantizer: dynamic ranges need a non-empty batch, got {}", x.shape().str());
    const int64_t examples = x.shape()[0], width = x.numel() / examples;
    std::vector<float> lo(static_cast<size_t>(examples)), hi(static_cast<size_t>(examples));
    for (int64_t i = 0; i < examples; ++i) {
      const ConstArrayMap example(x.value().data() + i * width, width);
      lo[i] = std::min(example.minCoeff(), 0.0f);
      hi[i] = std::max(example.maxCoeff(), 0.0f);
    }
    return fakeQuant(x, lo, hi, grid);
  }
  const float lo = std::min(min(), 0.0f), hi = std::max(max(), 0.0f);
  return fakeQuant(x, {&lo, 1}, {&hi, 1}, grid);
}

void ActivationQuantizer::setRange(float min, float max, int64_t steps) {
  SHRINK_CHECK(std::isfinite(min) && std::isfinite(max) && min <= max,
               "ActivationQuantizer::setRange: a range must be finite with min <= max, got [{}, {}]", min, max);
  SHRINK_CHECK(steps >= 0, "ActivationQuantizer::setRange: steps must be >= 0, got {}", steps);
  (*min_)[0] = min;
  (*max_)[0] = max;
  (*steps_)[0] = static_cast<float>(steps);
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

/// value = fakeQuant(weight) on the wrapper's range buffers (of the folded weight with folding); the
/// wrapper's training forward first sets the range from the weight it is given.
class QuantizeWrapper::WeightQuantizer : public WeightTransform {
 public:
  WeightQuantizer(const QuantizeWrapper& owner, const QuantizedWeight& weight) : owner_(owner), weight_(weight) {}

  Variable apply(const Variable& w) const override {
    if (owner_.floatWeights_) return w;
    const Options& o = owner_.options_;
    const Tensor* mask = weight_.sparsityMask;
    const Variable v = owner_.toQuantize(mask != nullptr ? mul(w, Variable(*mask)) : w);
    if (owner_.trackingWeights_) lastValueRange(v.value(), o.symmetricWeights, weight_.min->span(), weight_.max->span());
    return fakeQuant(v, weight_.min->span(), weight_.max->span(),
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
    Tensor* sparsityMask = nullptr;
    if (options_.preserveSparsity) {
      NoGradGuard noGrad;
      const Tensor value = valueBefore(*p, TransformStage::Quantize).value();  // e.g. through a cluster gather
      Tensor mask(value.shape());
      mask.array() = (value.array() != 0.0f).cast<float>();
      sparsityMask = &registerBuffer(base + "_sparsity_mask", std::move(mask));
    }
    weights_.push_back({name, p, &min, &max, perAxis, sparsityMask});
    transforms_.push_back(std::make_unique<WeightQuantizer>(*this, weights_.back()));
    p->addTransform(transforms_.back().get());
  }
  resetWeightRanges();
}

QuantizeWrapper::QuantizeWrapper(std::unique_ptr<Conv2D> conv, std::unique_ptr<BatchNorm> batchNorm, Options options)
    : QuantizeWrapper(std::unique_ptr<Module>(std::move(conv)), options) {
  SHRINK_CHECK(batchNorm != nullptr, "QuantizeWrapper: no BatchNorm given to fold");
  const Conv2D::Options& c = static_cast<const Conv2D&>(layer()).options();
  SHRINK_CHECK(c.activation == Activation::None,
               "QuantizeWrapper: cannot fold a BatchNorm into a Conv2D with activation '{}' (it comes between them)",
               activationName(c.activation));
  SHRINK_CHECK(batchNorm->options().features == c.out,
               "QuantizeWrapper: cannot fold a BatchNorm of {} features into a Conv2D of {} filters",
               batchNorm->options().features, c.out);
  batchNorm_ = static_cast<BatchNorm*>(&registerModule("batch_norm", std::move(batchNorm)));
  resetWeightRanges();
}

QuantizeWrapper::~QuantizeWrapper() {
  for (size_t i = 0; i < transforms_.size(); ++i) weights_[i].parameter->removeTransform(transforms_[i].get());
}

Variable QuantizeWrapper::forward(const Variable& x) {
  // The weight ranges follow the weights only during this wrapper's own training forward.
  const FlagScope tracking(trackingWeights_, isTraining());
  Variable y = batchNorm_ != nullptr ? foldedForward(x) : layer().forward(x);
  return outputQuantizer_ != nullptr ? outputQuantizer_->forward(y) : y;
}

Variable QuantizeWrapper::foldedForward(const Variable& x) {
  auto& conv = static_cast<Conv2D&>(layer());
  Variable bias;
  if (isTraining()) {
    Variable z;
    {
      const FlagScope floatWeights(floatWeights_, true);
      z = conv.forward(x);
    }
    {
      NoGradGuard noGrad;
      batchNorm_->forward(z);  // moves the running statistics as the layer would
    }
    const Variable mean = channelMean(z);
    const Variable var = channelMean(square(sub(z, reshape(mean, {1, z.shape()[1], 1, 1}))));
    foldScale_ = div(batchNorm_->gamma().value(), sqrt(add(var, batchNorm_->options().epsilon)));
    bias = foldedBias(mean, foldScale_);
  } else {
    foldScale_ = runningFoldScale();
    bias = foldedBias(Variable(batchNorm_->runningMean()), foldScale_);
  }
  Variable y = conv2d(x, conv.weight().value(), bias, conv.opOptions());
  foldScale_ = Variable();
  return y;
}

Variable QuantizeWrapper::runningFoldScale() const {
  Tensor deviation(batchNorm_->runningVar().shape());
  deviation.array() = (batchNorm_->runningVar().array() + batchNorm_->options().epsilon).sqrt();
  return div(batchNorm_->gamma().value(), Variable(std::move(deviation)));
}

Variable QuantizeWrapper::foldedBias(const Variable& mean, const Variable& scale) {
  Parameter* convBias = static_cast<Conv2D&>(layer()).bias();
  const Variable shift = convBias != nullptr ? sub(convBias->value(), mean) : neg(mean);
  return add(batchNorm_->beta().value(), mul(shift, scale));
}

Variable QuantizeWrapper::toQuantize(const Variable& w) const {
  if (batchNorm_ == nullptr) return w;
  const Variable& scale = foldScale_.defined() ? foldScale_ : runningFoldScale();
  return mul(w, reshape(scale, {w.shape()[0], 1, 1, 1}));
}

void QuantizeWrapper::resetWeightRanges() {
  NoGradGuard noGrad;
  const FlagScope floatWeights(floatWeights_, true);
  for (const QuantizedWeight& w : weights_)
    lastValueRange(toQuantize(w.parameter->value()).value(), options_.symmetricWeights, w.min->span(), w.max->span());
}

nlohmann::json QuantizeWrapper::config() const {
  nlohmann::json c = {{"layer", architectureOf(layer())},
                      {"weight_bits", options_.weightBits},
                      {"activation_bits", options_.activationBits},
                      {"symmetric_weights", options_.symmetricWeights},
                      {"quantize_output", options_.quantizeOutput},
                      {"output_tracking", rangeTrackingName(options_.outputTracking)},
                      {"rounding", roundingModeName(options_.rounding)},
                      {"preserve_sparsity", options_.preserveSparsity}};
  if (options_.perAxis) c["per_axis"] = *options_.perAxis;
  if (batchNorm_ != nullptr) c["batch_norm"] = architectureOf(*batchNorm_);
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
  o.preserveSparsity = c.boolean("preserve_sparsity", false);
  std::unique_ptr<Module> inner = buildModule(c.raw("layer"));
  std::unique_ptr<Module> batchNorm = c.has("batch_norm") ? buildModule(c.raw("batch_norm")) : nullptr;
  c.finish();
  if (batchNorm == nullptr) return std::make_unique<QuantizeWrapper>(std::move(inner), o);
  SHRINK_CHECK(dynamic_cast<Conv2D*>(inner.get()) != nullptr && dynamic_cast<BatchNorm*>(batchNorm.get()) != nullptr,
               "QuantizeWrapper config: folding needs a Conv2D 'layer' and a BatchNorm 'batch_norm', got {} and {}",
               inner->typeName(), batchNorm->typeName());
  return std::make_unique<QuantizeWrapper>(std::unique_ptr<Conv2D>(static_cast<Conv2D*>(inner.release())),
                                           std::unique_ptr<BatchNorm>(static_cast<BatchNorm*>(batchNorm.release())), o);
}

QuantizeWrapper::Released QuantizeWrapper::release() {
  const bool folded = batchNorm_ != nullptr;
  Tensor bias;
  if (folded) {
    NoGradGuard noGrad;
    bias = foldedBias(Variable(batchNorm_->runningMean()), runningFoldScale()).value();
  }
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
  batchNorm_ = nullptr;
  Released out;
  for (auto& [name, child] : releaseChildren()) {
    if (name == "layer") out.layer = std::move(child);
    if (name == "output_quantizer") out.outputQuantizer = std::move(child);
  }
  if (folded) out.layer = withBias(std::move(out.layer), std::move(bias));
  return out;
}

}  // namespace shrink
