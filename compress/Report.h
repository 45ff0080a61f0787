#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/Module.h"
#include "core/Shape.h"
#include "core/Tensor.h"

namespace shrink {

/// What report() measures besides the counts (which are always computed).
struct ReportOptions {
  /// Serialise the model and measure its file, gzip and uncompressed-archive sizes.
  bool sizes = true;
  /// The zlib level of the model file whose size is reported (saveModel's default is 6).
  int fileCompressionLevel = 6;
  /// Time eval-mode, no-grad forwards. Off by default: it costs seconds on large models.
  bool latency = false;
  /// The shape of one input example, without the batch dimension (e.g. {1, 28, 28}); required
  /// when `latency` is on.
  Shape inputShape = {};
  /// The batch sizes timed; each must be >= 1.
  std::vector<int64_t> batchSizes = {1, 1000};
  /// Untimed forwards before the timed ones, per batch size (>= 0).
  int warmup = 2;
  /// Timed forwards per batch size (>= 1).
  int repetitions = 10;
  /// Seed of the uniform [-1, 1] inputs used for timing.
  uint64_t seed = 0;
};

/// Counts of one prunable weight (a tensor that Module::compressibleWeights() reports: the Dense
/// and Conv2D kernels), read through its transforms (Parameter::value(), so a pruning mask counts).
struct WeightReport {
  std::string name;   ///< the parameter's dotted name in the model ("dense_1.weight")
  std::string layer;  ///< the dotted name of the module reporting it ("dense_1")
  std::string type;   ///< that module's typeName()
  Shape shape;
  int64_t parameters = 0;
  int64_t nonZero = 0;
  double sparsity = 0;  ///< fraction of exact zeros: 1 - nonZero / parameters (0 for an empty tensor)
  /// Distinct values (0 and -0 count as one): at most k for a weight clustered into k centroids.
  int64_t uniqueValues = 0;
};

/// Counts of every parameter registered directly on one module (kernel and bias, BatchNorm's
/// gamma and beta), read through their transforms. Modules without parameters of their own
/// (activations, pooling, containers, wrappers whose weights live in the inner layer) get no row.
struct LayerReport {
  std::string name;  ///< dotted module name; "" for the root when the root holds parameters itself
  std::string type;
  int64_t parameters = 0;
  int64_t nonZero = 0;
  double sparsity = 0;
};

/// Mean time of one eval-mode, no-grad forward of a batch of `batchSize` uniform inputs.
struct LatencyReport {
  int64_t batchSize = 0;
  int repetitions = 0;
  double batchSeconds = 0;   ///< mean wall time of one forward of the whole batch
  double sampleSeconds = 0;  ///< batchSeconds / batchSize
};

/// Serialised sizes, in bytes. The model file is zlib-compressed inside (core/Archive.h), so its
/// gzip barely shrinks further; the uncompressed archive (zlib level 0, the same bytes stored) and
/// its gzip are the figures comparable with gzipped Keras / TFLite files.
struct SizeReport {
  int64_t fileBytes = 0;            ///< saveModel's file at ReportOptions::fileCompressionLevel
  int64_t fileGzipBytes = 0;        ///< gzip -9 of those file bytes
  int64_t uncompressedBytes = 0;    ///< the same archive written with compression level 0
  int64_t uncompressedGzipBytes = 0;  ///< gzip -9 of the uncompressed archive
};

/// The cost of a model: counts per prunable weight, per layer and in total, sizes and latency.
struct ModelReport {
  std::vector<WeightReport> weights;
  std::vector<LayerReport> layers;
  int64_t totalParameters = 0;  ///< every registered parameter (the leaves a saved model holds)
  int64_t nonZeroParameters = 0;
  double sparsity = 0;           ///< 1 - nonZero / total over every parameter
  double compressionRatio = 0;   ///< total / nonZero (infinity when every parameter is zero)
  int64_t prunableParameters = 0;  ///< the sum over `weights`
  int64_t prunableNonZero = 0;
  double prunableSparsity = 0;
  int64_t bufferElements = 0;   ///< buffers (BatchNorm statistics, masks, steps): saved, not counted above
  bool hasSizes = false;        ///< `sizes` was measured (ReportOptions::sizes)
  SizeReport sizes;
  std::vector<LatencyReport> latency;  ///< one per ReportOptions::batchSizes; empty when not measured
};

/// Measures `model`. Values are read with Parameter::value() under a NoGradGuard; a latency run
/// puts the model in eval mode and restores its previous mode afterwards. Bad options throw
/// std::invalid_argument; a failing forward for the given input shape throws what the model throws.
ModelReport report(Module& model, const ReportOptions& options = {});

/// A readable table: one row per prunable weight, one per layer, then totals, sizes and latency.
std::string formatReport(const ModelReport& report);

/// {"weights": [...], "layers": [...], "total": {...}[, "sizes": {...}][, "latency": [...]]}; keys
/// are snake_case; an infinite compression ratio is written as null.
nlohmann::json toJson(const ModelReport& report);

/// Per-call latencies of two models on the same input, timed in alternating rounds (the order flips
/// every round) so that machine noise hits both alike. Both run in eval mode without a graph; their
/// modes are restored afterwards.
struct LatencyComparison {
  std::vector<double> first;   ///< seconds per call of `a`
  std::vector<double> second;  ///< seconds per call of `b`
  double firstMedian = 0;
  double secondMedian = 0;
  double speedup = 0;  ///< firstMedian / secondMedian
};
/// `rounds` x `callsPerRound` timed calls of each model after `warmup` untimed calls of each; all
/// three must be >= 1 (warmup >= 0), else std::invalid_argument.
LatencyComparison compareLatency(Module& a, Module& b, const Tensor& input, int rounds = 30, int callsPerRound = 20,
                                 int warmup = 20);

/// The number of distinct values of `t` (0 and -0 count as one).
int64_t distinctValues(const Tensor& t);

/// The q-quantile (q in [0, 1], nearest rank) of non-empty `values`.
double quantile(std::vector<double> values, double q);

/// The gzip stream (RFC 1952, as written by `gzip -<level>`) of `bytes`; level in [0, 9].
std::vector<uint8_t> gzipBytes(const std::vector<uint8_t>& bytes, int level = 9);

}  // namespace shrink
