#include "compress/Int8.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <memory>
#include <stdexcept>

#include <fmt/format.h>

#include "compress/PruneLowMagnitude.h"
#include "compress/Quantize.h"
#include "compress/QuantizeWrapper.h"
#include "core/Check.h"
#include "core/Threads.h"
#include "core/functions/Window.h"
#include "core/kernels/Conv.h"
#include "core/kernels/Pool.h"
#include "layers/BatchNorm.h"
#include "layers/Config.h"
#include "layers/Conv2D.h"
#include "layers/Dense.h"
#include "layers/Dropout.h"
#include "layers/Flatten.h"
#include "layers/Pool2D.h"
#include "layers/Sequential.h"
#include "optim/ModelFile.h"

namespace shrink {

namespace {

constexpr const char* kFormat = "shrink-int8";
constexpr int kVersion = 1;

/// A batch of uint8 activations with its shape, [N, ...].
struct QuantizedBatch {
  std::vector<uint8_t> q;
  std::vector<int64_t> dims;
  int64_t perExample() const {
    int64_t n = 1;
    for (size_t i = 1; i < dims.size(); ++i) n *= dims[i];
    return n;
  }
};

std::string shapeOf(const std::vector<int64_t>& dims) { return Shape(dims).str(); }

// ---- The integer ops

/// float -> uint8 exactly as fakeQuant's HalfUp / HalfEven loops find the grid index (same float
/// expressions), so the integer model starts from the fake-quant model's input values.
void quantizeInput(const Int8Op& op, const float* x, int64_t n, uint8_t* q) {
  const Int8Grid& g = op.out;
  const float scale = g.scale, offset = 0.0f - static_cast<float>(g.zeroPoint);
  const float lo = offset * scale, hi = (static_cast<float>(g.qmax) + offset) * scale;
  if (scale == 0.0f) {
    std::fill(q, q + n, static_cast<uint8_t>(g.zeroPoint));
  } else if (op.rounding == RoundingMode::HalfUp) {
    for (int64_t i = 0; i < n; ++i) {
      const float c = std::min(std::max(lo, x[i]), hi);
      q[i] = static_cast<uint8_t>(static_cast<int32_t>((c - lo) / scale + 0.5f));
    }
  } else {
    const float shift = std::fmod(std::fabs(offset), 2.0f);
    for (int64_t i = 0; i < n; ++i) {
      const float c = std::min(std::max(lo, x[i]), hi);
      q[i] = static_cast<uint8_t>(std::nearbyint((c - lo) / scale + shift) - shift);
    }
  }
}

/// acc + bias requantized to the output grid and clamped, written for channel c.
inline uint8_t requantize(const Int8Op& op, int32_t acc, int64_t c) {
  const int32_t v = op.out.zeroPoint + kernels::multiplyByQuantizedMultiplier(acc + op.bias[c], op.multipliers[c]);
  return static_cast<uint8_t>(std::clamp(v, op.clampMin, op.clampMax));
}

QuantizedBatch runDense(const Int8Op& op, const QuantizedBatch& x) {
  const int64_t f = op.weightShape[0], k = op.weightShape[1];
  SHRINK_CHECK(x.dims.size() == 2 && x.dims[1] == k, "Int8Model: dense op '{}' expects input [N, {}], got {}", op.name,
               k, shapeOf(x.dims));
  const int64_t n = x.dims[0];
  std::vector<int32_t> acc(static_cast<size_t>(n * f));
  kernels::gemmU8S8(n, f, k, x.q.data(), k, op.in.zeroPoint, op.weight.data(), k, op.rowSums.data(), acc.data(), f);
  QuantizedBatch y{std::vector<uint8_t>(acc.size()), {n, f}};
  for (int64_t i = 0; i < n; ++i)
    for (int64_t c = 0; c < f; ++c) y.q[i * f + c] = requantize(op, acc[i * f + c], c);
  return y;
}

kernels::Conv2dGeometry convGeometry(const Int8Op& op, const std::vector<int64_t>& dims) {
  const Shape& w = op.weightShape;
  SHRINK_CHECK(dims.size() == 4 && dims[1] == w[1], "Int8Model: conv2d op '{}' expects input [N, {}, H, W], got {}",
               op.name, w[1], shapeOf(dims));
  const kernels::Conv2dGeometry g =
      detail::conv2dGeometry(dims, w.dims(), op.conv.strideH, op.conv.strideW, op.conv.padding);
  SHRINK_CHECK(g.outH > 0 && g.outW > 0, "Int8Model: conv2d op '{}': input {} gives an empty output", op.name,
               shapeOf(dims));
  return g;
}

/// One image [C, H, W] -> patches [outPixels, C * kh * kw]: row p holds the input window of output
/// pixel p in the weight's (c, i, j) order; cells in the padding hold the zero point (real 0).
void im2rows(const kernels::Conv2dGeometry& g, const uint8_t* x, uint8_t zeroPoint, uint8_t* rows) {
  const int64_t k = g.colRows();
  for (int64_t oy = 0; oy < g.outH; ++oy)
    for (int64_t ox = 0; ox < g.outW; ++ox) {
      uint8_t* row = rows + (oy * g.outW + ox) * k;
      for (int64_t c = 0; c < g.inChannels; ++c)
        for (int64_t i = 0; i < g.kernelH; ++i) {
          const int64_t iy = oy * g.strideH - g.padTop + i;
          uint8_t* dst = row + (c * g.kernelH + i) * g.kernelW;
          for (int64_t j = 0; j < g.kernelW; ++j) {
            const int64_t ix = ox * g.strideW - g.padLeft + j;
            const bool inside = iy >= 0 && iy < g.inH && ix >= 0 && ix < g.inW;
            dst[j] = inside ? x[(c * g.inH + iy) * g.inW + ix] : zeroPoint;
          }
        }
    }
}

QuantizedBatch runConv2D(const Int8Op& op, const QuantizedBatch& x) {
  const kernels::Conv2dGeometry g = convGeometry(op, x.dims);
  const int64_t k = g.colRows(), p = g.outPixels(), f = g.outChannels;
  std::vector<uint8_t> rows(static_cast<size_t>(p * k));
  std::vector<int32_t> acc(static_cast<size_t>(p * f));
  QuantizedBatch y{std::vector<uint8_t>(static_cast<size_t>(g.outputSize())), {g.batch, f, g.outH, g.outW}};
  const int64_t inSize = g.inChannels * g.inH * g.inW;
  for (int64_t n = 0; n < g.batch; ++n) {
    im2rows(g, x.q.data() + n * inSize, static_cast<uint8_t>(op.in.zeroPoint), rows.data());
    kernels::gemmU8S8(p, f, k, rows.data(), k, op.in.zeroPoint, op.weight.data(), k, op.rowSums.data(), acc.data(),
                      f);
    uint8_t* out = y.q.data() + n * f * p;
    for (int64_t i = 0; i < p; ++i)
      for (int64_t c = 0; c < f; ++c) out[c * p + i] = requantize(op, acc[i * f + c], c);
  }
  return y;
}

kernels::Pool2dGeometry poolGeometry(const Int8Op& op, const std::vector<int64_t>& dims) {
  SHRINK_CHECK(dims.size() == 4, "Int8Model: pooling op '{}' expects input [N, C, H, W], got {}", op.name,
               shapeOf(dims));
  const kernels::Pool2dGeometry g = detail::pool2dGeometry(dims, op.pool.kernelH, op.pool.kernelW, op.pool.strideH,
                                                           op.pool.strideW, op.pool.padding);
  SHRINK_CHECK(g.outH > 0 && g.outW > 0, "Int8Model: pooling op '{}': input {} gives an empty output", op.name,
               shapeOf(dims));
  return g;
}

/// Max: the largest value of the window's input cells; average: their sum divided by their count,
/// rounded half up (the values are >= 0).
QuantizedBatch runPool(const Int8Op& op, const QuantizedBatch& x) {
  const kernels::Pool2dGeometry g = poolGeometry(op, x.dims);
  QuantizedBatch y{std::vector<uint8_t>(static_cast<size_t>(g.outputSize())), {g.batch, g.channels, g.outH, g.outW}};
  const bool isMax = op.type == Int8OpType::MaxPool;
  for (int64_t plane = 0; plane < g.planes(); ++plane) {
    const uint8_t* in = x.q.data() + plane * g.inH * g.inW;
    uint8_t* out = y.q.data() + plane * g.outH * g.outW;
    for (int64_t oy = 0; oy < g.outH; ++oy)
      for (int64_t ox = 0; ox < g.outW; ++ox) {
        const int64_t y0 = std::max<int64_t>(oy * g.strideH - g.padTop, 0);
        const int64_t y1 = std::min(oy * g.strideH - g.padTop + g.kernelH, g.inH);
        const int64_t x0 = std::max<int64_t>(ox * g.strideW - g.padLeft, 0);
        const int64_t x1 = std::min(ox * g.strideW - g.padLeft + g.kernelW, g.inW);
        int32_t best = 0, sum = 0;
        for (int64_t iy = y0; iy < y1; ++iy)
          for (int64_t ix = x0; ix < x1; ++ix) {
            const int32_t v = in[iy * g.inW + ix];
            best = std::max(best, v);
            sum += v;
          }
        const int32_t count = static_cast<int32_t>((y1 - y0) * (x1 - x0));
        out[oy * g.outW + ox] = static_cast<uint8_t>(isMax ? best : (2 * sum + count) / (2 * count));
      }
  }
  return y;
}

/// Per channel (axis 1): acc = (q - zero point) * w[c] + bias[c], requantized.
QuantizedBatch runChannelAffine(const Int8Op& op, const QuantizedBatch& x) {
  const int64_t channels = op.weightShape[0];
  SHRINK_CHECK(x.dims.size() >= 2 && x.dims[1] == channels,
               "Int8Model: channel op '{}' expects input [N, {}, ...], got {}", op.name, channels, shapeOf(x.dims));
  const int64_t inner = x.perExample() / channels;
  QuantizedBatch y{std::vector<uint8_t>(x.q.size()), x.dims};
  for (int64_t n = 0; n < x.dims[0]; ++n)
    for (int64_t c = 0; c < channels; ++c) {
      const int64_t at = (n * channels + c) * inner;
      for (int64_t i = at; i < at + inner; ++i)
        y.q[i] = requantize(op, (static_cast<int32_t>(x.q[i]) - op.in.zeroPoint) * op.weight[c], c);
    }
  return y;
}

QuantizedBatch runOp(const Int8Op& op, QuantizedBatch x) {
  switch (op.type) {
    case Int8OpType::ChannelAffine:
      return runChannelAffine(op, x);
    case Int8OpType::Dense:
      return runDense(op, x);
    case Int8OpType::Conv2D:
      return runConv2D(op, x);
    case Int8OpType::MaxPool:
    case Int8OpType::AvgPool:
      return runPool(op, x);
    case Int8OpType::Flatten:
      SHRINK_CHECK(!x.dims.empty(), "Int8Model: flatten op '{}' got a scalar", op.name);
      x.dims = {x.dims[0], x.perExample()};
      return x;
    case Int8OpType::Clamp:
      for (uint8_t& v : x.q) v = static_cast<uint8_t>(std::clamp<int32_t>(v, op.clampMin, op.clampMax));
      return x;
    case Int8OpType::Quantize:
      break;
  }
  throw std::logic_error(fmt::format("Int8Model: op '{}' cannot run after the input", op.name));
}

// ---- Conversion

/// The grid fake-quant uses for an activation quantizer's stored range.
Int8Grid gridOf(const ActivationQuantizer& q) {
  const float lo = std::min(q.min(), 0.0f), hi = std::max(q.max(), 0.0f);
  const QuantGrid g = nudgedGrid(lo, hi, {.bits = q.options().bits, .rounding = q.options().rounding});
  return {.scale = g.scale, .zeroPoint = static_cast<int32_t>(g.zeroPoint), .qmax = (1 << q.options().bits) - 1};
}

Tensor valueOf(const Parameter& p) {
  NoGradGuard noGrad;
  return p.value().value();
}

/// Every layer of the model and of its nested Sequentials, depth first, with its name.
void flattenLayers(Sequential& model, std::vector<std::pair<std::string, Module*>>& out) {
  for (size_t i = 0; i < model.size(); ++i) {
    if (auto* nested = dynamic_cast<Sequential*>(&model.at(i)))
      flattenLayers(*nested, out);
    else
      out.emplace_back(model.name(i), &model.at(i));
  }
}

class Converter {
 public:
  std::vector<Int8Op> run(Sequential& model) {
    std::vector<std::pair<std::string, Module*>> layers;
    flattenLayers(model, layers);
    for (size_t i = 0; i < layers.size(); ++i) {
      const auto& [name, layer] = layers[i];
      if (auto* bn = dynamic_cast<BatchNorm*>(layer)) {
        auto* q = i + 1 < layers.size() ? dynamic_cast<ActivationQuantizer*>(layers[i + 1].second) : nullptr;
        SHRINK_CHECK(q != nullptr && !ops_.empty(),
                     "convertToInt8: BatchNorm '{}' runs in float (int8 inference runs a BatchNorm folded into its "
                     "Conv2D, QuantizeScheme::foldBatchNorm, or one whose input and output are quantized)", name);
        addBatchNorm(name, *bn, *q);
        ++i;
        continue;
      }
      add(name, *layer);
    }
    SHRINK_CHECK(!ops_.empty(), "convertToInt8: the model has no layers");
    return std::move(ops_);
  }

 private:
  void add(const std::string& name, Module& layer) {
    const std::string type = layer.typeName();
    if (auto* q = dynamic_cast<ActivationQuantizer*>(&layer)) {
      SHRINK_CHECK(ops_.empty(), "convertToInt8: activation quantizer '{}' is not the model's input quantizer; int8 "
                   "inference runs quantizers only at the input and at the outputs of quantized layers", name);
      Int8Op op;
      op.type = Int8OpType::Quantize;
      op.name = name;
      op.rounding = q->options().rounding;
      op.in = op.out = gridOf(*q);
      ops_.push_back(std::move(op));
      return;
    }
    SHRINK_CHECK(!ops_.empty(), "convertToInt8: layer '{}' ({}) comes before the input quantizer; int8 conversion "
                 "needs a model quantized with an input quantizer first (QuantizeScheme::quantizeInput)", name, type);
    if (auto* w = dynamic_cast<QuantizeWrapper*>(&layer)) return addWrapper(name, *w);
    if (dynamic_cast<Dropout*>(&layer) != nullptr) return;
    Int8Op op;
    op.name = name;
    op.in = op.out = grid();
    if (auto* pool = dynamic_cast<Pool2D*>(&layer)) {
      SHRINK_CHECK(type == "MaxPool2D" || type == "AvgPool2D", "convertToInt8: layer '{}' of type {} cannot run in int8",
                   name, type);
      op.type = type == "MaxPool2D" ? Int8OpType::MaxPool : Int8OpType::AvgPool;
      op.pool = pool->options();
    } else if (dynamic_cast<Flatten*>(&layer) != nullptr) {
      op.type = Int8OpType::Flatten;
    } else if (type == "ReLU") {
      op.type = Int8OpType::Clamp;
      op.clampMin = grid().zeroPoint;
      op.clampMax = grid().qmax;
    } else {
      throw std::invalid_argument(fmt::format(
          "convertToInt8: layer '{}' of type {} cannot run in int8 (supported: the input quantizer, QuantizeWrapper of "
          "Dense or Conv2D, MaxPool2D, AvgPool2D, Flatten, ReLU, Dropout)", name, type));
    }
    ops_.push_back(std::move(op));
  }

  const Int8Grid& grid() const { return ops_.back().out; }

  /// A BatchNorm between two quantized tensors, y = a x + b per channel with a = gamma /
  /// sqrt(var + epsilon) and b = beta - mean a on its running statistics, followed by its output
  /// quantizer: one weight per channel, +-127 with scale |a| / 127 (a exactly), so the integer op is
  /// the fake-quant one up to the bias and requantization rounding.
  void addBatchNorm(const std::string& name, BatchNorm& bn, const ActivationQuantizer& quantizer) {
    const int64_t channels = bn.options().features;
    const Tensor gamma = valueOf(bn.gamma()), beta = valueOf(bn.beta());
    Int8Op op;
    op.type = Int8OpType::ChannelAffine;
    op.name = name;
    op.in = grid();
    op.out = gridOf(quantizer);
    op.clampMin = 0;
    op.clampMax = op.out.qmax;
    op.weightShape = Shape{channels, 1};
    op.weight.resize(static_cast<size_t>(channels));
    op.weightScale.resize(static_cast<size_t>(channels));
    std::vector<float> bias(static_cast<size_t>(channels));
    for (int64_t c = 0; c < channels; ++c) {
      const float a = gamma[c] / std::sqrt(bn.runningVar()[c] + bn.options().epsilon);
      op.weight[c] = static_cast<int8_t>(a > 0 ? 127 : a < 0 ? -127 : 0);
      op.weightScale[c] = a == 0.0f ? 1.0f : std::fabs(a) / 127.0f;
      bias[c] = beta[c] - bn.runningMean()[c] * a;
    }
    op.bias = quantizeBias(bias, op);
    op.prepare();
    ops_.push_back(std::move(op));
  }

  void addWrapper(const std::string& name, QuantizeWrapper& wrapper) {
    Module* inner = &wrapper.layer();
    if (auto* pruned = dynamic_cast<PruneLowMagnitude*>(inner)) inner = &pruned->layer();
    auto* dense = dynamic_cast<Dense*>(inner);
    auto* conv = dynamic_cast<Conv2D*>(inner);
    SHRINK_CHECK(dense != nullptr || conv != nullptr,
                 "convertToInt8: layer '{}' wraps a {}, which cannot run in int8 (Dense and Conv2D can)", name,
                 inner->typeName());
    const QuantizeOptions& o = wrapper.options();
    SHRINK_CHECK(o.symmetricWeights, "convertToInt8: layer '{}' has asymmetric weights; int8 inference needs "
                 "symmetric weights (zero point 0, QuantizeOptions::symmetricWeights)", name);
    SHRINK_CHECK(wrapper.outputQuantizer() != nullptr,
                 "convertToInt8: layer '{}' has no output quantizer (its output feeds a BatchNorm in float); quantize "
                 "with QuantizeScheme::foldBatchNorm so the BatchNorm folds into it", name);
    SHRINK_CHECK(wrapper.quantizedWeights().size() == 1, "convertToInt8: layer '{}' quantizes {} weights, expected 1",
                 name, wrapper.quantizedWeights().size());
    const Activation activation = dense != nullptr ? dense->options().activation : conv->options().activation;
    SHRINK_CHECK(activation == Activation::None || activation == Activation::ReLU,
                 "convertToInt8: layer '{}' has fused activation '{}', which cannot run in int8 (linear and relu can)",
                 name, activationName(activation));

    Int8Op op;
    op.type = dense != nullptr ? Int8OpType::Dense : Int8OpType::Conv2D;
    op.name = name;
    op.in = grid();
    op.out = gridOf(*wrapper.outputQuantizer());
    op.clampMin = activation == Activation::ReLU ? op.out.zeroPoint : 0;
    op.clampMax = op.out.qmax;
    if (conv != nullptr) op.conv = conv->opOptions();
    quantizeWeight(name, wrapper, op);
    const Parameter* bias = dense != nullptr ? dense->bias() : conv->bias();
    op.bias = quantizeBias(biasOf(bias, wrapper.foldedBatchNorm(), op.weightShape[0]), op);
    op.prepare();
    ops_.push_back(std::move(op));
  }

  /// The wrapper's fake-quantized weight (its stored ranges; with folding, of the folded kernel)
  /// as grid indices: v = q * scale exactly, so q = round(v / scale).
  static void quantizeWeight(const std::string& name, const QuantizeWrapper& wrapper, Int8Op& op) {
    const QuantizedWeight& w = wrapper.quantizedWeights()[0];
    const QuantizeOptions& o = wrapper.options();
    const Tensor v = valueOf(*w.parameter);
    const int64_t out = v.dim(0), ranges = w.min->numel(), inner = v.numel() / out;
    const int32_t limit = (1 << (o.weightBits - 1)) - 1;
    op.weightShape = v.shape();
    op.weight.resize(static_cast<size_t>(v.numel()));
    op.weightScale.resize(static_cast<size_t>(out));
    for (int64_t c = 0; c < out; ++c) {
      const int64_t r = ranges == 1 ? 0 : c;
      const QuantGrid g = nudgedGrid((*w.min)[r], (*w.max)[r], {.bits = o.weightBits, .narrowRange = true});
      op.weightScale[c] = g.scale == 0.0f ? 1.0f : g.scale;
      for (int64_t e = 0; e < inner; ++e) {
        const int64_t i = c * inner + e;
        const long q = g.scale == 0.0f ? 0 : std::lround(v[i] / g.scale);
        SHRINK_ASSERT(std::abs(q) <= limit, "convertToInt8: layer '{}': weight {} is off its grid ({} steps)", name, i,
                      q);
        op.weight[i] = static_cast<int8_t>(q);
      }
    }
  }

  /// The float bias: the layer's (or 0), or with a folded BatchNorm beta + (b - mean) * gamma /
  /// sqrt(var + epsilon) on its running statistics, as the wrapper computes it in eval mode.
  static std::vector<float> biasOf(const Parameter* bias, BatchNorm* bn, int64_t channels) {
    std::vector<float> b(static_cast<size_t>(channels), 0.0f);
    if (bias != nullptr) {
      const Tensor t = valueOf(*bias);
      std::copy(t.begin(), t.end(), b.begin());
    }
    if (bn == nullptr) return b;
    const Tensor gamma = valueOf(bn->gamma()), beta = valueOf(bn->beta());
    for (int64_t c = 0; c < channels; ++c) {
      const float scale = gamma[c] / std::sqrt(bn->runningVar()[c] + bn->options().epsilon);
      b[c] = beta[c] + (b[c] - bn->runningMean()[c]) * scale;
    }
    return b;
  }

  /// round(b / (in.scale * weightScale)), saturated to int32.
  static std::vector<int32_t> quantizeBias(const std::vector<float>& b, const Int8Op& op) {
    std::vector<int32_t> q(b.size());
    constexpr double lo = std::numeric_limits<int32_t>::min(), hi = std::numeric_limits<int32_t>::max();
    for (size_t c = 0; c < b.size(); ++c) {
      const double scale = static_cast<double>(op.in.scale) * op.weightScale[c];
      q[c] = scale == 0 ? 0 : static_cast<int32_t>(std::clamp(std::round(b[c] / scale), lo, hi));
    }
    return q;
  }

  std::vector<Int8Op> ops_;
};

// ---- Archive

nlohmann::json gridJson(const Int8Grid& g) {
  return {{"scale", g.scale}, {"zero_point", g.zeroPoint}, {"qmax", g.qmax}};
}

Int8Grid gridFromJson(const nlohmann::json& j) {
  return {.scale = j.at("scale").get<float>(), .zeroPoint = j.at("zero_point").get<int32_t>(),
          .qmax = j.at("qmax").get<int32_t>()};
}

template <class T>
std::vector<uint8_t> bytesOf(const std::vector<T>& v) {
  std::vector<uint8_t> bytes(v.size() * sizeof(T));
  if (!v.empty()) std::memcpy(bytes.data(), v.data(), bytes.size());
  return bytes;
}

template <class T>
std::vector<T> valuesOf(const Archive& archive, const std::string& name, DType dtype, int64_t count) {
  const ArchiveEntry& e = archive.entry(name);
  if (e.dtype != dtype || e.shape.numel() != count || e.bytes.size() != static_cast<size_t>(count) * sizeof(T))
    throw std::runtime_error(fmt::format("entry '{}' is {} {}, expected {} values of type {}", name,
                                         dtypeName(e.dtype), e.shape.str(), count, dtypeName(dtype)));
  std::vector<T> v(static_cast<size_t>(count));
  if (count > 0) std::memcpy(v.data(), e.bytes.data(), e.bytes.size());
  return v;
}

bool hasWeights(Int8OpType t) {
  return t == Int8OpType::Dense || t == Int8OpType::Conv2D || t == Int8OpType::ChannelAffine;
}

}  // namespace

std::string int8OpTypeName(Int8OpType type) {
  switch (type) {
    case Int8OpType::Quantize: return "quantize";
    case Int8OpType::Dense: return "dense";
    case Int8OpType::Conv2D: return "conv2d";
    case Int8OpType::MaxPool: return "max_pool";
    case Int8OpType::AvgPool: return "avg_pool";
    case Int8OpType::Flatten: return "flatten";
    case Int8OpType::Clamp: return "clamp";
    case Int8OpType::ChannelAffine: return "channel_affine";
  }
  return "?";
}

Int8OpType parseInt8OpType(const std::string& name) {
  for (Int8OpType t : {Int8OpType::Quantize, Int8OpType::Dense, Int8OpType::Conv2D, Int8OpType::MaxPool,
                       Int8OpType::AvgPool, Int8OpType::Flatten, Int8OpType::Clamp, Int8OpType::ChannelAffine})
    if (int8OpTypeName(t) == name) return t;
  throw std::invalid_argument(fmt::format("unknown int8 op type '{}'", name));
}

void Int8Op::prepare() {
  if (!hasWeights(type)) return;
  const int64_t f = weightShape.rank() >= 2 ? weightShape[0] : 0;
  const bool shapeFits = type == Int8OpType::Conv2D          ? weightShape.rank() == 4
                         : type == Int8OpType::ChannelAffine ? weightShape.rank() == 2 && weightShape[1] == 1
                                                             : weightShape.rank() == 2;
  SHRINK_CHECK(shapeFits && f > 0 &&
                   static_cast<int64_t>(weight.size()) == weightShape.numel() &&
                   static_cast<int64_t>(weightScale.size()) == f && static_cast<int64_t>(bias.size()) == f,
               "Int8Op '{}': weight {} with {} values, {} scales and {} biases do not fit together", name,
               weightShape.str(), weight.size(), weightScale.size(), bias.size());
  SHRINK_CHECK(in.scale >= 0 && out.scale >= 0 && in.zeroPoint >= 0 && in.zeroPoint <= in.qmax && out.qmax <= 255 &&
                   out.zeroPoint >= 0 && out.zeroPoint <= out.qmax && clampMin >= 0 && clampMin <= clampMax &&
                   clampMax <= out.qmax,
               "Int8Op '{}': inconsistent grids or clamp range", name);
  const int64_t k = weightShape.numel() / f;
  rowSums.resize(static_cast<size_t>(f));
  kernels::int8RowSums(f, k, weight.data(), k, rowSums.data());
  multipliers.resize(static_cast<size_t>(f));
  for (int64_t c = 0; c < f; ++c) {
    SHRINK_CHECK(weightScale[c] > 0, "Int8Op '{}': weight scale {} of channel {} is not positive", name,
                 weightScale[c], c);
    const double real = out.scale == 0 ? 0.0 : static_cast<double>(in.scale) * weightScale[c] / out.scale;
    multipliers[c] = kernels::quantizeMultiplier(real);
  }
}

Int8Model::Int8Model(std::vector<Int8Op> ops) : ops_(std::move(ops)) {
  SHRINK_CHECK(!ops_.empty() && ops_.front().type == Int8OpType::Quantize,
               "Int8Model: the first op must quantize the input");
  for (size_t i = 1; i < ops_.size(); ++i)
    SHRINK_CHECK(ops_[i].type != Int8OpType::Quantize, "Int8Model: op {} ('{}') quantizes again", i, ops_[i].name);
  for (Int8Op& op : ops_) op.prepare();
}

Tensor Int8Model::predict(const Tensor& floatInput, int64_t batchSize) const {
  SHRINK_CHECK(!ops_.empty(), "Int8Model::predict: empty model");
  SHRINK_CHECK(floatInput.rank() >= 1 && floatInput.dim(0) > 0, "Int8Model::predict: expected input [N, ...], got {}",
               floatInput.shape().str());
  SHRINK_CHECK(batchSize > 0, "Int8Model::predict: batch size must be positive, got {}", batchSize);
  const int64_t n = floatInput.dim(0), perExample = floatInput.numel() / n;
  const int64_t batches = (n + batchSize - 1) / batchSize;
  std::vector<QuantizedBatch> results(static_cast<size_t>(batches));
  auto runBatch = [&](int64_t b) {
    const int64_t first = b * batchSize, count = std::min(batchSize, n - first);
    QuantizedBatch x{std::vector<uint8_t>(static_cast<size_t>(count * perExample)), floatInput.shape().dims()};
    x.dims[0] = count;
    quantizeInput(ops_.front(), floatInput.data() + first * perExample, count * perExample, x.q.data());
    for (size_t i = 1; i < ops_.size(); ++i) x = runOp(ops_[i], std::move(x));
    results[b] = std::move(x);
  };
  runBatch(0);  // on the calling thread: a shape error is thrown here, not inside the parallel region
#pragma omp parallel for num_threads(numThreads()) schedule(dynamic, 1) if (batches > 2)
  for (int64_t b = 1; b < batches; ++b) runBatch(b);

  std::vector<int64_t> dims = results[0].dims;
  dims[0] = n;
  Tensor out{Shape(dims)};
  const Int8Grid& g = ops_.back().out;
  const float offset = 0.0f - static_cast<float>(g.zeroPoint);
  float* y = out.data();
  for (const QuantizedBatch& r : results)
    for (uint8_t q : r.q) *y++ = (static_cast<float>(q) + offset) * g.scale;
  return out;
}

std::string Int8Model::summary() const {
  std::string s;
  for (const Int8Op& op : ops_) {
    s += fmt::format("{:<14} {:<24}", int8OpTypeName(op.type), op.name);
    if (hasWeights(op.type)) s += fmt::format(" weight {:<16}", op.weightShape.str());
    s += fmt::format(" out scale {:.6g} zero point {}\n", op.out.scale, op.out.zeroPoint);
  }
  return s;
}

Archive Int8Model::toArchive() const {
  Archive a;
  nlohmann::json ops = nlohmann::json::array();
  for (size_t i = 0; i < ops_.size(); ++i) {
    const Int8Op& op = ops_[i];
    nlohmann::json j = {{"type", int8OpTypeName(op.type)}, {"name", op.name}, {"in", gridJson(op.in)},
                        {"out", gridJson(op.out)}};
    if (op.type == Int8OpType::Quantize) j["rounding"] = roundingModeName(op.rounding);
    if (hasWeights(op.type) || op.type == Int8OpType::Clamp) j["clamp"] = {op.clampMin, op.clampMax};
    if (op.type == Int8OpType::Conv2D)
      j["conv"] = {{"strides", {op.conv.strideH, op.conv.strideW}}, {"padding", paddingName(op.conv.padding)}};
    if (op.type == Int8OpType::MaxPool || op.type == Int8OpType::AvgPool)
      j["pool"] = {{"pool_size", {op.pool.kernelH, op.pool.kernelW}},
                   {"strides", {op.pool.strideH, op.pool.strideW}},
                   {"padding", paddingName(op.pool.padding)}};
    if (hasWeights(op.type)) {
      const std::string base = fmt::format("ops.{}.", i);
      const int64_t f = op.weightShape[0];
      a.putBytes(base + "weight", DType::Int8, op.weightShape, bytesOf(op.weight));
      a.putBytes(base + "bias", DType::Int32, Shape{f}, bytesOf(op.bias));
      a.putBytes(base + "weight_scale", DType::Float32, Shape{f}, bytesOf(op.weightScale));
    }
    ops.push_back(std::move(j));
  }
  a.meta() = {{"format", kFormat}, {"version", kVersion}, {"ops", std::move(ops)}};
  return a;
}

bool Int8Model::isInt8Archive(const Archive& archive) {
  const nlohmann::json& m = archive.meta();
  return m.is_object() && m.contains("format") && m["format"] == kFormat;
}

Int8Model Int8Model::fromArchive(const Archive& archive, const std::string& what) {
  if (!isInt8Archive(archive))
    throw std::runtime_error(fmt::format("{} is not an int8 model file (its metadata has no format '{}'; a quantized "
                                         "model file is converted with convertToInt8)", what, kFormat));
  const nlohmann::json& m = archive.meta();
  try {
    const int version = m.at("version").get<int>();
    if (version != kVersion)
      throw std::runtime_error(fmt::format("int8 format version {} is not supported (this build reads {})", version,
                                           kVersion));
    std::vector<Int8Op> ops;
    const nlohmann::json& list = m.at("ops");
    for (size_t i = 0; i < list.size(); ++i) {
      const nlohmann::json& j = list.at(i);
      Int8Op op;
      op.type = parseInt8OpType(j.at("type").get<std::string>());
      op.name = j.at("name").get<std::string>();
      op.in = gridFromJson(j.at("in"));
      op.out = gridFromJson(j.at("out"));
      if (op.type == Int8OpType::Quantize) op.rounding = parseRoundingMode(j.at("rounding").get<std::string>());
      if (j.contains("clamp")) {
        op.clampMin = j.at("clamp").at(0).get<int32_t>();
        op.clampMax = j.at("clamp").at(1).get<int32_t>();
      }
      if (op.type == Int8OpType::Conv2D) {
        const nlohmann::json& c = j.at("conv");
        op.conv = {.strideH = c.at("strides").at(0).get<int>(), .strideW = c.at("strides").at(1).get<int>(),
                   .padding = parsePadding(c.at("padding").get<std::string>())};
        if (op.conv.strideH <= 0 || op.conv.strideW <= 0)
          throw std::runtime_error(fmt::format("op {} has a non-positive stride", i));
      }
      if (op.type == Int8OpType::MaxPool || op.type == Int8OpType::AvgPool) {
        const nlohmann::json& p = j.at("pool");
        op.pool = {.kernelH = p.at("pool_size").at(0).get<int>(), .kernelW = p.at("pool_size").at(1).get<int>(),
                   .strideH = p.at("strides").at(0).get<int>(), .strideW = p.at("strides").at(1).get<int>(),
                   .padding = parsePadding(p.at("padding").get<std::string>())};
        if (op.pool.kernelH <= 0 || op.pool.kernelW <= 0 || op.pool.strideH <= 0 || op.pool.strideW <= 0)
          throw std::runtime_error(fmt::format("op {} has a non-positive pool size or stride", i));
      }
      if (hasWeights(op.type)) {
        const std::string base = fmt::format("ops.{}.", i);
        op.weightShape = archive.entry(base + "weight").shape;
        if (op.weightShape.rank() < 2) throw std::runtime_error(fmt::format("op {} has a weight of rank < 2", i));
        const int64_t f = op.weightShape[0];
        op.weight = valuesOf<int8_t>(archive, base + "weight", DType::Int8, op.weightShape.numel());
        op.bias = valuesOf<int32_t>(archive, base + "bias", DType::Int32, f);
        op.weightScale = valuesOf<float>(archive, base + "weight_scale", DType::Float32, f);
      }
      ops.push_back(std::move(op));
    }
    return Int8Model(std::move(ops));
  } catch (const std::exception& e) {
    throw std::runtime_error(fmt::format("{}: corrupt int8 model: {}", what, e.what()));
  }
}

void Int8Model::save(const std::string& path) const { toArchive().save(path); }

Int8Model Int8Model::load(const std::string& path) { return fromArchive(Archive::load(path), path); }

int64_t Int8Model::fileBytes() const { return static_cast<int64_t>(toArchive().toBytes().size()); }

Int8Model convertToInt8(const Module& quantizedModel) {
  registerCompressionTypes();
  std::unique_ptr<Module> copy = cloneModel(quantizedModel);
  copy->eval();
  auto* model = dynamic_cast<Sequential*>(copy.get());
  SHRINK_CHECK(model != nullptr, "convertToInt8: expected a Sequential model, got {}", copy->typeName());
  SHRINK_CHECK(!quantizeWrappers(*model).empty(),
               "convertToInt8: the model has no quantize wrappers; prepare it with quantizeModel and train or "
               "calibrate it first");
  for (const auto& [name, q] : modulesOfType<ActivationQuantizer>(*model))
    SHRINK_CHECK(q->steps() > 0, "int8 conversion of a model that was never calibrated or trained: activation "
                 "quantizer '{}' has seen no batch, so its range is still the initial [-6, 6] (train the quantized "
                 "model, or run calibration batches through it in training mode, first)", name);
  return Int8Model(Converter().run(*model));
}

}  // namespace shrink
