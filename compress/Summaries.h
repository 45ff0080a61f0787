#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "optim/Callback.h"

namespace shrink {

class ActivationQuantizer;
class PruneLowMagnitude;
class QuantizeWrapper;
class ScalarLogger;

struct CompressionSummariesOptions {
  /// Quantization ranges are logged when training begins, every `rangePeriod` training steps and
  /// when it ends (they move at every step; pruning masks are logged whenever they change).
  int64_t rangePeriod = 100;
};

/// What the compression of a model looks like while it trains, written both as TensorBoard event
/// files in `<logDir>/metrics/` and as long CSV tables (step,tag,value) in `<logDir>`:
/// - pruning (`pruning.csv`), for every weight a PruneLowMagnitude wrapper prunes: its sparsity
///   (fraction of zeros of the masked weight) and mask threshold, when training begins (step 0 for a
///   fresh model) and at every step where its mask changed, with the wrapper's pruning step as the
///   step. Tags "<layer>/<weight>/sparsity", "<layer>/<weight>/threshold" (e.g.
///   "dense_1/weight/sparsity");
/// - quantization (`quantization.csv`), with the global training step: for every weight a
///   QuantizeWrapper fake-quantizes, its range and grid step "<layer>/<weight>/min", ".../max",
///   ".../scale" (per output channel ranges: the smallest min, the largest max, and the smallest and
///   largest channel scale as ".../scale_min", ".../scale_max"); for every activation quantizer
///   (the model input, each wrapper's output, a BatchNorm's output) "<quantizer>/min", "/max",
///   "/scale" of the range it quantizes on (the tracked one widened to contain 0), e.g.
///   "dense.output_quantizer/scale".
/// Pass it after UpdatePruningStep.
class CompressionSummaries : public Callback {
 public:
  using Options = CompressionSummariesOptions;
  /// Creates `logDir` when missing; std::runtime_error naming the path when it cannot.
  /// std::invalid_argument when rangePeriod < 1.
  explicit CompressionSummaries(const std::string& logDir, Options options = {});
  ~CompressionSummaries() override;

  void onTrainBegin(TrainContext& context) override;
  void onBatchEnd(TrainContext& context) override;
  void onTrainEnd(TrainContext& context) override;

 private:
  void logPruning(const std::string& layer, const PruneLowMagnitude& wrapper);
  void logRanges(int64_t step);
  /// To the event files and to `csv`.
  void add(ScalarLogger& csv, const std::string& tag, double value, int64_t step);
  void flush();

  Options options_;
  std::unique_ptr<ScalarLogger> events_;
  std::unique_ptr<ScalarLogger> pruningCsv_;
  std::unique_ptr<ScalarLogger> quantizationCsv_;
  std::vector<std::pair<std::string, PruneLowMagnitude*>> prune_;
  std::vector<int64_t> seenVersions_;
  std::vector<std::pair<std::string, QuantizeWrapper*>> quantize_;
  std::vector<std::pair<std::string, ActivationQuantizer*>> activations_;
  int64_t lastRangeStep_ = -1;
};

/// Its first name, from when it logged pruning only.
using PruningSummaries = CompressionSummaries;

}  // namespace shrink
