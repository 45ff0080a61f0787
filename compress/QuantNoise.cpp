#include "compress/QuantNoise.h"

#include <cmath>

#include "compress/PruneLowMagnitude.h"
#include "core/Check.h"
#include "core/Functions.h"
#include "core/Random.h"
#include "layers/Config.h"
#include "layers/Registry.h"

namespace shrink {

std::string quantNoiseKindName(QuantNoiseKind kind) { return kind == QuantNoiseKind::Block ? "block" : "scalar"; }

QuantNoiseKind parseQuantNoiseKind(const std::string& name) {
  if (name == "scalar") return QuantNoiseKind::Scalar;
  if (name == "block") return QuantNoiseKind::Block;
  throw std::invalid_argument(fmt::format("quant-noise kind must be 'scalar' or 'block', got '{}'", name));
}

namespace {

/// The number of entries of one block of a weight of `shape`, after fairseq's size checks.
int64_t blockLength(const Shape& shape, int64_t blockSize, const std::string& what) {
  SHRINK_CHECK(blockSize >= 1, "QuantNoise: block size must be >= 1, got {}", blockSize);
  SHRINK_CHECK(shape.rank() == 2 || shape.rank() == 4,
               "QuantNoise: block noise needs a Dense [out, in] or Conv2D [out, in, kh, kw] kernel; {} is {}", what,
               shape.str());
  if (shape.rank() == 4 && shape[2] * shape[3] > 1) {
    const int64_t kernel = shape[2] * shape[3];
    SHRINK_CHECK(kernel % blockSize == 0,
                 "QuantNoise: the {}x{} kernels of {} are not a multiple of the block size {} (kh * kw % block_size "
                 "must be 0)",
                 shape[2], shape[3], what, blockSize);
    return kernel;
  }
  SHRINK_CHECK(shape[1] % blockSize == 0,
               "QuantNoise: {} has {} inputs, not a multiple of the block size {} (in_features % block_size must be 0)",
               what, shape[1], blockSize);
  return blockSize;
}

/// A seed for training forward `step` of a wrapper seeded with `seed` (splitmix64 of both).
uint64_t stepSeed(uint64_t seed, int64_t step) {
  uint64_t z = seed + 0x9E3779B97F4A7C15ull * (static_cast<uint64_t>(step) + 1);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

}  // namespace

Variable scalarQuantNoise(const Variable& w, const Tensor& keep, std::span<const float> min,
                          std::span<const float> max, const FakeQuantOptions& options) {
  SHRINK_CHECK(keep.shape() == w.shape(), "scalarQuantNoise: mask {} for a weight {}", keep.shape().str(),
               w.shape().str());
  const Variable quantized = fakeQuant(w, min, max, options);
  Tensor pass(keep.shape());
  pass.array() = 1.0f - keep.array();
  return add(mul(w, Variable(std::move(pass))), mul(quantized, Variable(keep)));
}

Tensor blockNoiseMask(const Shape& shape, int64_t blockSize, double p, Generator& gen) {
  const int64_t block = blockLength(shape, blockSize, "the weight");
  Tensor mask(shape);
  for (int64_t start = 0; start < mask.numel(); start += block) {
    const float keep = gen.uniform01() < p ? 0.0f : 1.0f;
    for (int64_t i = start; i < start + block; ++i) mask[i] = keep;
  }
  return mask;
}

/// The weight through the noise of the current training forward of its wrapper, or through the
/// evaluation quantizer (Scalar) or unchanged (Block) otherwise.
class QuantNoiseWrapper::NoiseTransform : public WeightTransform {
 public:
  NoiseTransform(const QuantNoiseWrapper& owner, size_t index) : owner_(owner), index_(index) {}

  Variable apply(const Variable& w) const override {
    const Options& o = owner_.options_;
    if (o.kind == QuantNoiseKind::Block) {
      if (!owner_.noisy_ || o.p == 0) return w;
      Generator gen(stepSeed(o.seed + index_, owner_.noiseStep()));
      return dropoutWithMask(w, blockNoiseMask(w.shape(), o.blockSize, o.p, gen), static_cast<float>(1 / (1 - o.p)));
    }
    const bool perAxis = w.shape().rank() == 4;
    std::vector<float> min(perAxis ? w.shape()[0] : 1), max(min.size());
    lastValueRange(w.value(), /*symmetric=*/true, min, max);
    const FakeQuantOptions fq{.bits = o.bits, .narrowRange = true, .rounding = o.rounding};
    if (!owner_.noisy_ || o.p == 1) return fakeQuant(w, min, max, fq);
    if (o.p == 0) return w;
    Generator gen(stepSeed(o.seed + index_, owner_.noiseStep()));
    Tensor keep(w.shape());
    for (float& k : keep) k = gen.uniform01() < o.p ? 1.0f : 0.0f;
    return scalarQuantNoise(w, keep, min, max, fq);
  }
  TransformStage stage() const override { return TransformStage::Quantize; }

 private:
  const QuantNoiseWrapper& owner_;
  size_t index_;
};

QuantNoiseWrapper::QuantNoiseWrapper(std::unique_ptr<Module> layer, Options options)
    : LayerWrapper(std::move(layer), "QuantNoiseWrapper"), options_(options) {
  const std::string type = this->layer().typeName();
  if (options_.kind == QuantNoiseKind::Scalar) {
    SHRINK_CHECK(options_.p >= 0 && options_.p <= 1, "QuantNoise: scalar noise p must be in [0, 1], got {}", options_.p);
    checkQuantBits(options_.bits, "QuantNoise");
  } else {
    SHRINK_CHECK(options_.p >= 0 && options_.p < 1, "QuantNoise: block noise p must be in [0, 1), got {}", options_.p);
  }
  weights_ = namedCompressibleWeights(this->layer(), "QuantNoiseWrapper");
  SHRINK_CHECK(!weights_.empty(), "QuantNoiseWrapper: layer '{}' has no weights to quantize", type);
  for (const NamedWeight& w : weights_) {
    if (options_.kind == QuantNoiseKind::Block)
      blockLength(w.parameter->shape(), options_.blockSize, fmt::format("'{}' of {}", w.name, type));
    transforms_.push_back(std::make_unique<NoiseTransform>(*this, transforms_.size()));
    w.parameter->addTransform(transforms_.back().get());
  }
  noiseStep_ = &registerBuffer("noise_step", Tensor(Shape{1}));
}

QuantNoiseWrapper::~QuantNoiseWrapper() {
  for (size_t i = 0; i < transforms_.size(); ++i) weights_[i].parameter->removeTransform(transforms_[i].get());
}

Variable QuantNoiseWrapper::forward(const Variable& x) {
  const FlagScope noisy(noisy_, isTraining());
  Variable y = layer().forward(x);
  if (isTraining()) (*noiseStep_)[0] += 1;
  return y;
}

nlohmann::json QuantNoiseWrapper::config() const {
  return {{"layer", architectureOf(layer())},       {"kind", quantNoiseKindName(options_.kind)},
          {"p", options_.p},                         {"bits", options_.bits},
          {"rounding", roundingModeName(options_.rounding)}, {"block_size", options_.blockSize},
          {"seed", options_.seed}};
}

std::unique_ptr<Module> QuantNoiseWrapper::fromConfig(const nlohmann::json& config) {
  ConfigReader c(config, "QuantNoiseWrapper");
  Options o;
  o.kind = parseQuantNoiseKind(c.string("kind", "scalar"));
  o.p = c.number("p");
  o.bits = static_cast<int>(c.integer("bits", 8));
  o.rounding = parseRoundingMode(c.string("rounding", "half_up"));
  o.blockSize = c.integer("block_size", 8);
  o.seed = c.has("seed") ? c.unsignedInteger("seed") : 0;
  std::unique_ptr<Module> inner = buildModule(c.raw("layer"));
  c.finish();
  return std::make_unique<QuantNoiseWrapper>(std::move(inner), o);
}

std::unique_ptr<Module> QuantNoiseWrapper::releaseLayer() {
  for (size_t i = 0; i < transforms_.size(); ++i) bakeTransform(*weights_[i].parameter, *transforms_[i]);
  transforms_.clear();
  weights_.clear();
  std::unique_ptr<Module> layer;
  for (auto& [name, child] : releaseChildren())
    if (name == "layer") layer = std::move(child);
  return layer;
}

namespace {

int wrapAll(Sequential& model, const QuantNoiseOptions& options) {
  int wrapped = 0;
  for (size_t i = 0; i < model.size(); ++i) {
    Module& layer = model.at(i);
    if (auto* nested = dynamic_cast<Sequential*>(&layer)) {
      wrapped += wrapAll(*nested, options);
      continue;
    }
    if (dynamic_cast<QuantNoiseWrapper*>(&layer) != nullptr || layer.compressibleWeights().empty()) continue;
    model.wrap(i, [&](std::unique_ptr<Module>& inner) {
      return std::make_unique<QuantNoiseWrapper>(std::move(inner), options);
    });
    ++wrapped;
  }
  return wrapped;
}

}  // namespace

int quantNoiseModel(Sequential& model, const QuantNoiseOptions& options) {
  registerCompressionTypes();
  const int wrapped = wrapAll(model, options);
  SHRINK_CHECK(wrapped > 0, "quantNoiseModel: the model has no Dense or Conv2D layer to wrap");
  return wrapped;
}

}  // namespace shrink
