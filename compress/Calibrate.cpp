#include "compress/Calibrate.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "compress/Wrapping.h"
#include "core/Check.h"
#include "datasets/Loader.h"

namespace shrink {

namespace {

/// Candidate ends per side in the Mse search.
constexpr int kMseSteps = 128;

/// The ActivationQuantizers of `model` that keep a range (not Dynamic).
std::vector<ActivationQuantizer*> rangeQuantizers(Module& model) {
  std::vector<ActivationQuantizer*> out;
  for (auto& [name, q] : modulesOfType<ActivationQuantizer>(model))
    if (q->options().tracking != RangeTracking::Dynamic) out.push_back(q);
  return out;
}

/// Observes through the quantizers for its lifetime; then clears the observers and puts the model
/// back in its mode.
class CalibrationScope {
 public:
  CalibrationScope(Module& model, const std::vector<ActivationQuantizer*>& quantizers)
      : model_(model), quantizers_(quantizers), wasTraining_(model.isTraining()) {
    model_.eval();
  }
  ~CalibrationScope() {
    for (ActivationQuantizer* q : quantizers_) q->setObserver({});
    model_.train(wasTraining_);
  }
  CalibrationScope(const CalibrationScope&) = delete;
  CalibrationScope& operator=(const CalibrationScope&) = delete;

 private:
  Module& model_;
  const std::vector<ActivationQuantizer*>& quantizers_;
  bool wasTraining_;
};

/// Runs the calibration batches through `model` without a graph; returns how many ran.
int64_t runBatches(Module& model, const data::Dataset& data, const CalibrationOptions& o) {
  data::Loader loader(data, {.batchSize = o.batchSize, .shuffle = true, .seed = o.seed});
  const int64_t batches = std::min(o.batches, loader.batchesPerEpoch());
  NoGradGuard noGrad;
  for (int64_t b = 0; b < batches; ++b) model.forward(Variable(loader.next()->x));
  return batches;
}

/// q(c) of fakeQuant on grid `g` for one value (its rounding, its nudged grid).
float quantizeOne(float c, const QuantGrid& g, const FakeQuantOptions& o) {
  if (g.scale == 0.0f) return g.min;
  const float qmin = o.narrowRange ? 1.0f : 0.0f;
  const float k = (std::clamp(c, g.min, g.max) - g.min) / g.scale;
  const float offset = qmin - g.zeroPoint;
  if (o.rounding == RoundingMode::HalfUp) return (std::floor(k + 0.5f) + offset) * g.scale;
  const float shift = std::fmod(std::fabs(offset), 2.0f);
  return (std::nearbyint(k + shift) - shift + offset) * g.scale;
}

}  // namespace

std::string calibrationMethodName(CalibrationMethod method) {
  switch (method) {
    case CalibrationMethod::MinMax: return "minmax";
    case CalibrationMethod::Percentile: return "percentile";
    case CalibrationMethod::Mse: return "mse";
  }
  throw std::logic_error("calibrationMethodName: unknown CalibrationMethod");
}

CalibrationMethod parseCalibrationMethod(const std::string& name) {
  if (name == "minmax") return CalibrationMethod::MinMax;
  if (name == "percentile") return CalibrationMethod::Percentile;
  if (name == "mse") return CalibrationMethod::Mse;
  throw std::invalid_argument(
      fmt::format("calibration method must be 'minmax', 'percentile' or 'mse', got '{}'", name));
}

void checkCalibrationOptions(const CalibrationOptions& o) {
  SHRINK_CHECK(o.batches >= 1, "calibrate: the number of calibration batches must be >= 1, got {}", o.batches);
  SHRINK_CHECK(o.batchSize >= 1, "calibrate: the calibration batch size must be >= 1, got {}", o.batchSize);
  SHRINK_CHECK(o.percentile > 0 && o.percentile <= 100, "calibrate: the percentile must be in (0, 100], got {}",
               o.percentile);
}

Histogram::Histogram(float min, float max) : min(min), max(max), counts(kCalibrationBins, 0.0) {
  SHRINK_CHECK(std::isfinite(min) && std::isfinite(max) && min <= max,
               "Histogram: the range must be finite with min <= max, got [{}, {}]", min, max);
}

float Histogram::binWidth() const { return (max - min) / static_cast<float>(counts.size()); }

void Histogram::add(std::span<const float> x) {
  const float width = binWidth();
  const int64_t last = static_cast<int64_t>(counts.size()) - 1;
  for (float v : x) {
    const int64_t bin = width > 0.0f ? static_cast<int64_t>(std::floor((v - min) / width)) : 0;
    counts[static_cast<size_t>(std::clamp<int64_t>(bin, 0, last))] += 1.0;
  }
}

double Histogram::total() const {
  double sum = 0;
  for (double c : counts) sum += c;
  return sum;
}

float histogramQuantile(const Histogram& h, double q) {
  SHRINK_CHECK(q >= 0 && q <= 1, "histogramQuantile: q must be in [0, 1], got {}", q);
  const double target = q * h.total();
  double below = 0;
  for (size_t k = 0; k < h.counts.size(); ++k) {
    const double next = below + h.counts[k];
    if (h.counts[k] > 0 && next >= target) {
      const double inside = std::clamp((target - below) / h.counts[k], 0.0, 1.0);
      return h.min + static_cast<float>((static_cast<double>(k) + inside) * h.binWidth());
    }
    below = next;
  }
  return h.max;
}

std::pair<float, float> percentileRange(const Histogram& h, double percentile) {
  const float a = histogramQuantile(h, (100.0 - percentile) / 100.0);
  const float b = histogramQuantile(h, percentile / 100.0);
  return {std::min(a, b), std::max(a, b)};
}

std::pair<float, float> mseRange(const Histogram& h, const FakeQuantOptions& options) {
  struct Bin {
    float centre;
    double count;
  };
  std::vector<Bin> bins;
  const float width = h.binWidth();
  for (size_t k = 0; k < h.counts.size(); ++k)
    if (h.counts[k] > 0) bins.push_back({h.min + (static_cast<float>(k) + 0.5f) * width, h.counts[k]});
  const float negative = std::min(h.min, 0.0f), positive = std::max(h.max, 0.0f);
  const int loSteps = negative < 0.0f ? kMseSteps : 0, hiSteps = positive > 0.0f ? kMseSteps : 0;

  std::pair<float, float> best{negative, positive};
  double bestError = std::numeric_limits<double>::infinity();
  for (int i = loSteps; i >= 0; --i) {
    const float lo = negative * static_cast<float>(i) / kMseSteps;
    for (int j = hiSteps; j >= 0; --j) {
      const float hi = positive * static_cast<float>(j) / kMseSteps;
      const QuantGrid g = nudgedGrid(lo, hi, options);
      double error = 0;
      for (const Bin& b : bins) {
        const double d = b.centre - quantizeOne(b.centre, g, options);
        error += b.count * d * d;
      }
      // Strictly smaller: of equal errors the widest range (visited first) wins.
      if (error < bestError) {
        bestError = error;
        best = {lo, hi};
      }
    }
  }
  return best;
}

void calibrate(Module& quantizedModel, const data::Dataset& data, const CalibrationOptions& options) {
  SHRINK_CHECK(data.size() > 0, "calibrate: calibration set of size 0");
  checkCalibrationOptions(options);
  const std::vector<ActivationQuantizer*> quantizers = rangeQuantizers(quantizedModel);
  SHRINK_CHECK(!quantizers.empty(),
               "calibrate: the model has no activation quantizers to calibrate (prepare it with quantizeModel)");

  const size_t n = quantizers.size();
  std::vector<float> mins(n, std::numeric_limits<float>::infinity());
  std::vector<float> maxs(n, -std::numeric_limits<float>::infinity());
  std::vector<int64_t> seen(n, 0);
  const CalibrationScope scope(quantizedModel, quantizers);
  for (size_t i = 0; i < n; ++i)
    quantizers[i]->setObserver([&, i](const Tensor& x) {
      if (x.numel() == 0) return;
      mins[i] = std::min(mins[i], x.array().minCoeff());
      maxs[i] = std::max(maxs[i], x.array().maxCoeff());
      ++seen[i];
    });
  runBatches(quantizedModel, data, options);

  if (options.method == CalibrationMethod::MinMax) {
    for (size_t i = 0; i < n; ++i)
      if (seen[i] > 0) quantizers[i]->setRange(mins[i], maxs[i], seen[i]);
    return;
  }
  std::vector<Histogram> histograms;
  for (size_t i = 0; i < n; ++i) histograms.emplace_back(seen[i] > 0 ? mins[i] : 0.0f, seen[i] > 0 ? maxs[i] : 0.0f);
  for (size_t i = 0; i < n; ++i)
    quantizers[i]->setObserver([&, i](const Tensor& x) { histograms[i].add(x.span()); });
  runBatches(quantizedModel, data, options);

  for (size_t i = 0; i < n; ++i) {
    if (seen[i] == 0) continue;
    const ActivationQuantizerOptions& q = quantizers[i]->options();
    const auto [lo, hi] = options.method == CalibrationMethod::Percentile
                              ? percentileRange(histograms[i], options.percentile)
                              : mseRange(histograms[i], {.bits = q.bits, .rounding = q.rounding});
    quantizers[i]->setRange(lo, hi, seen[i]);
  }
}

bool isCalibrated(const Module& quantizedModel) {
  std::vector<const Module*> modules{&quantizedModel};
  for (const auto& [name, m] : quantizedModel.namedModules()) modules.push_back(m);
  bool any = false;
  for (const Module* m : modules) {
    const auto* q = dynamic_cast<const ActivationQuantizer*>(m);
    if (q == nullptr) continue;
    any = true;
    if (q->options().tracking != RangeTracking::Dynamic && q->steps() <= 0) return false;
  }
  return any;
}

std::string ptqModeName(PtqMode mode) { return mode == PtqMode::DynamicRange ? "dynamic" : "int8"; }

namespace {

/// Replaces the ActivationQuantizers of `model` and its nested Sequentials by a Dynamic one before
/// each QuantizeWrapper.
void placeDynamicInputQuantizers(Sequential& model) {
  for (size_t i = 0; i < model.size();) {
    if (dynamic_cast<ActivationQuantizer*>(&model.at(i)) != nullptr) {
      model.remove(i);
      continue;
    }
    if (auto* nested = dynamic_cast<Sequential*>(&model.at(i))) placeDynamicInputQuantizers(*nested);
    if (auto* wrapper = dynamic_cast<QuantizeWrapper*>(&model.at(i))) {
      const QuantizeOptions& o = wrapper->options();
      model.insert(i, std::make_unique<ActivationQuantizer>(ActivationQuantizerOptions{
                          .bits = o.activationBits, .tracking = RangeTracking::Dynamic, .rounding = o.rounding}),
                   model.name(i) + "_input_quantizer");
      ++i;
    }
    ++i;
  }
}

}  // namespace

int postTrainingQuantize(Sequential& model, const data::Dataset& calibration, const PtqOptions& options) {
  if (options.mode == PtqMode::DynamicRange) {
    QuantizeScheme scheme = options.scheme;
    scheme.quantizeInput = false;
    scheme.defaults.quantizeOutput = false;
    for (auto& [name, layer] : scheme.layers) layer.quantizeOutput = false;
    const int wrapped = quantizeModel(model, scheme);
    placeDynamicInputQuantizers(model);
    model.eval();
    return wrapped;
  }
  SHRINK_CHECK(calibration.size() > 0,
               "postTrainingQuantize: calibration set of size 0 (full integer quantization needs calibration data)");
  checkCalibrationOptions(options.calibration);
  const int wrapped = quantizeModel(model, options.scheme);
  calibrate(model, calibration, options.calibration);
  model.eval();
  return wrapped;
}

}  // namespace shrink
