#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "compress/Quantize.h"
#include "datasets/Dataset.h"
#include "layers/Sequential.h"

namespace shrink {

/// How calibration turns the activations it observes into a quantization range.
enum class CalibrationMethod {
  /// The smallest and largest value seen over all calibration batches (TFLite's calibrator,
  /// PyTorch's MinMaxObserver).
  MinMax,
  /// The (100 - p)-th and p-th percentiles of the values (TensorRT's percentile calibrator), read
  /// from a histogram: outliers beyond them are clipped.
  Percentile,
  /// The range that minimises the mean squared error between the values and their fake-quantized
  /// ones, searched over candidate ranges inside [min, max] on a histogram (PyTorch's
  /// HistogramObserver, NVIDIA's MSE calibrator). It clips a tail only when the rounding error that
  /// clipping saves over all values outweighs the clipping error of the tail.
  Mse,
};

/// "minmax" | "percentile" | "mse".
std::string calibrationMethodName(CalibrationMethod method);
CalibrationMethod parseCalibrationMethod(const std::string& name);

struct CalibrationOptions {
  CalibrationMethod method = CalibrationMethod::MinMax;
  /// Percentile: the upper percentile p in (0, 100]; the lower one is 100 - p.
  double percentile = 99.99;
  /// Batches run (at most one pass over the data set): >= 1.
  int64_t batches = 32;
  int64_t batchSize = 32;
  /// The examples are drawn in an order shuffled with this seed.
  uint64_t seed = 42;
};

/// Throws std::invalid_argument for batches or batchSize < 1 or a percentile outside (0, 100].
void checkCalibrationOptions(const CalibrationOptions& options);

/// Bins of the histogram behind Percentile and Mse (TensorRT's and PyTorch's 2048).
inline constexpr int64_t kCalibrationBins = 2048;

/// Counts of values in kCalibrationBins equal bins spanning [min, max] (the extreme values fall in
/// the first and last bin).
struct Histogram {
  float min = 0;
  float max = 0;
  std::vector<double> counts;

  Histogram(float min, float max);
  /// Adds every value of `x`; values outside [min, max] count in the end bins.
  void add(std::span<const float> x);
  double total() const;
  float binWidth() const;
};

/// The value below which a fraction q in [0, 1] of the histogram's mass lies, interpolated linearly
/// inside its bin: q = 0 gives min, q = 1 the upper edge of the last non-empty bin.
float histogramQuantile(const Histogram& h, double q);

/// The quantization range Percentile gives for a histogram: [P(100 - p), P(p)] (ordered).
std::pair<float, float> percentileRange(const Histogram& h, double percentile);

/// The range [lo, hi] (lo <= 0 <= hi) Mse chooses on the grid `options` for the histogram: among
/// 128 x 128 candidates lo = k/128 min(h.min, 0), hi = j/128 max(h.max, 0), the one with the smallest
/// sum over bins of count * (centre - fakeQuant(centre))^2.
std::pair<float, float> mseRange(const Histogram& h, const FakeQuantOptions& options);

/// Sets the range of every ActivationQuantizer of `quantizedModel` (a model prepared by
/// quantizeModel) from the activations of calibration data (post-training quantization): runs the
/// first options.batches batches of `data` (shuffled with options.seed; fewer when the data set
/// has fewer) in eval mode without a graph, with every quantizer passing its input through in float
/// and observing it (PyTorch's calibration; weights stay fake-quantized on their own ranges, as
/// deployed). MinMax needs one pass, Percentile and Mse a second over the same batches to fill a
/// histogram on the range of the first. Each quantizer's "steps" buffer records the batches it saw.
/// Quantizers with Dynamic tracking need no range and are left alone. The model's mode is restored.
/// Throws std::invalid_argument for an empty data set ("calibration set of size 0"), bad options,
/// or a model without activation quantizers to calibrate.
void calibrate(Module& quantizedModel, const data::Dataset& data, const CalibrationOptions& options = {});

/// True when every ActivationQuantizer of the model with a stored range (not Dynamic) has seen data
/// (steps > 0: calibrated or trained) and the model holds at least one ActivationQuantizer. False
/// for a float model or one prepared by quantizeModel but neither calibrated nor trained.
bool isCalibrated(const Module& quantizedModel);

/// Post-training quantization modes (TFLite's converter options).
enum class PtqMode {
  /// TFLite's dynamic range quantization: weights on their int8 grid, activations float at rest
  /// and quantized on the fly, per example, at the input of each quantized layer; no calibration.
  DynamicRange,
  /// Full integer quantization: weights and every activation on a grid whose range calibration
  /// fixed.
  FullInt8,
};

/// "dynamic" | "int8".
std::string ptqModeName(PtqMode mode);

struct PtqOptions {
  PtqMode mode = PtqMode::FullInt8;
  /// Bits, per-axis and symmetric choices, skip list (quantizeModel's). In DynamicRange mode the
  /// output quantizers and the model's input quantizer are replaced by the per-layer input ones.
  QuantizeScheme scheme;
  CalibrationOptions calibration;
};

/// Post-training quantization of a trained float model, in place, leaving it in eval mode:
/// - FullInt8: quantizeModel(model, scheme), then calibrate on `calibration`;
/// - DynamicRange: quantizeModel without output or input quantizers, then an ActivationQuantizer
///   with Dynamic tracking "<layer>_input_quantizer" before each wrapped layer (the activation bits
///   of that layer's options). `calibration` is not used and may be empty.
/// Returns the number of layers wrapped. Bad options or an empty calibration set (FullInt8) throw
/// std::invalid_argument before the model is changed.
int postTrainingQuantize(Sequential& model, const data::Dataset& calibration, const PtqOptions& options = {});

}  // namespace shrink
