#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "compress/Wrapping.h"
#include "core/Random.h"

namespace shrink {

/// How the centroids of a codebook start (tfmot's CentroidInitialization), computed once, when
/// wrapping, from the trained weights of that tensor or channel.
enum class CentroidInit {
  /// k evenly spaced values from min(w) to max(w), both included.
  Linear,
  /// k draws from Uniform[min(w), max(w)).
  Random,
  /// The empirical CDF of w on a 30-point grid spanning [min - g, max + g] (g = 0.01, or
  /// min(0.01, min(|min|, |max|) / 2) with preserveSparsity); for each target probability of
  /// linspace(0.01, 1, k) the first grid node whose CDF exceeds it (tfmot's interpolation ends on
  /// that node), so centroids crowd where the weights are dense.
  DensityBased,
  /// k-means++ seeding (Arthur & Vassilvitskii 2007): the first centroid a uniformly drawn weight,
  /// each next one the best, by total squared distance, of 3 + floor(ln k) weights drawn with
  /// probability proportional to their squared distance to the nearest centroid so far (TF's
  /// kmeans_plus_plus_initialization with its default retries). Seeding only, as tfmot.
  KMeansPlusPlus,
  /// The distinct values of w, ascending, for a weight that is already clustered (collaborative
  /// quantization keeps its clusters): k of them evenly spread over the sorted list when there are
  /// more, the list padded with its largest value when there are fewer. With preserveSparsity the
  /// k - 1 non-zero centroids are so taken from the non-zero values and the fixed 0 sits between
  /// the negative and positive ones.
  UniqueValues,
};

/// How the gradients of a cluster's weights combine into its centroid's gradient.
enum class GradientAggregation {
  Sum,   ///< dL/dc_k = sum of dL/dW[i] over the weights assigned to k (Deep Compression, tfmot's SUM)
  Mean,  ///< that sum divided by the cluster's size (tfmot's AVG); 0 for an empty cluster
};

/// "linear" | "random" | "density_based" | "kmeans_plus_plus" | "unique_values".
std::string centroidInitName(CentroidInit init);
CentroidInit parseCentroidInit(const std::string& name);
/// "sum" | "mean".
std::string gradientAggregationName(GradientAggregation aggregation);
GradientAggregation parseGradientAggregation(const std::string& name);

struct ClusterOptions {
  /// Centroids per codebook (tfmot's number_of_clusters): > 1, > 2 with preserveSparsity.
  int clusters = 16;
  CentroidInit init = CentroidInit::KMeansPlusPlus;
  /// Weights that are exactly 0 when wrapping stay 0: they are masked out of the forward value and
  /// of the gradient, and one centroid is a fixed 0 (tfmot's sparsity-preserving clustering); the
  /// other k - 1 are split between negative and positive weights in proportion to their counts.
  bool preserveSparsity = false;
  /// One codebook per output channel for Conv2D kernels ([out, in, kh, kw], axis 0); other weights
  /// (Dense kernels) keep one codebook per tensor, as tfmot's cluster_per_channel.
  bool perChannel = false;
  GradientAggregation gradientAggregation = GradientAggregation::Sum;
  /// Lloyd (k-means) iterations after the initialisation, >= 0. tfmot runs none.
  int lloydIterations = 0;
  /// Deep Compression's rule: the assignments are computed once, when wrapping, and saved; only the
  /// centroids train (the original weights get no gradient). Off: tfmot's rule, every read of the
  /// weight re-assigns each weight to its nearest centroid and both the centroids and the original
  /// weights train (straight-through).
  bool fixedAssignments = false;
  /// Seeds the Random and KMeansPlusPlus initialisations (one generator per wrapper, drawn through its
  /// weights and channels in order).
  uint64_t seed = 0;
};

/// Throws std::invalid_argument naming the field: clusters <= 1, clusters <= 2 with
/// preserveSparsity, lloydIterations < 0.
void checkClusterOptions(const ClusterOptions& options);

/// The centroids of one codebook and, with sparsity preservation, the index of its fixed zero.
struct Codebook {
  std::vector<float> centroids;
  int zeroIndex = -1;  ///< -1 without preserveSparsity
};

/// The codebook of `values` (one tensor or channel) under `options`: the initialisation, then
/// options.lloydIterations Lloyd steps (assign to the nearest centroid, move every centroid to the
/// mean of its members; empty clusters and the fixed zero stay). With preserveSparsity the
/// centroids are [negative ones, 0, positive ones] (all 0 when every value is). Random and
/// KMeansPlusPlus draw from `gen`. Needs values.size() >= options.clusters.
Codebook makeCodebook(std::span<const float> values, const ClusterOptions& options, Generator& gen);

/// out[i] = the index of the centroid nearest values[i] (|v - c| smallest; of equally near
/// centroids, the lowest index, as argmin). out.size() must equal values.size().
void nearestCentroids(std::span<const float> values, std::span<const float> centroids, std::span<int32_t> out);

/// One weight a ClusterWeights wrapper clusters.
struct ClusteredWeight {
  std::string name;      ///< the parameter's name inside the wrapped layer, e.g. "weight"
  Parameter* parameter;  ///< the original weight (still trained unless fixedAssignments)
  /// "<name>_centroids", trainable: [k] per tensor, [channels, k] per channel.
  Parameter* centroids;
  int64_t groups;  ///< codebooks: 1, or the output channels
  /// "<name>_assignments" (the weight's shape, centroid indices as floats) with fixedAssignments,
  /// else null.
  Tensor* assignments;
  /// With preserveSparsity: "<name>_sparsity_mask" (1 where the weight was non-zero when wrapped,
  /// the weight's shape) and "<name>_zero_index" ([groups], the fixed zero of each codebook);
  /// else null.
  Tensor* sparsityMask;
  Tensor* zeroIndex;
};

/// tfmot's ClusterWeights: owns the wrapped layer (child "layer": a Dense, a Conv2D, or a wrapper of
/// one) and, for each weight the layer declares through compressibleWeights(), a trainable centroid
/// Parameter (see ClusteredWeight) and a gather transform of stage Cluster, so it applies after a
/// pruning mask and before fake quantization. The layer's forward reads W_c[i] = c[idx[i]] with
/// idx[i] the nearest centroid of the current weight (or the saved assignment with
/// fixedAssignments). Backward: dL/dw = dL/dW_c straight through to the original weight (none with
/// fixedAssignments; masked with preserveSparsity), and dL/dc_k = the per-cluster sum (or mean) of
/// dL/dW_c; the fixed zero centroid gets none and always reads 0. Nothing here needs a callback:
/// re-assignment is a pure function of the weights and centroids, recomputed on every read.
class ClusterWeights : public LayerWrapper {
 public:
  using Options = ClusterOptions;
  /// Throws std::invalid_argument for invalid options, a layer without weights or already wrapped
  /// for clustering, or a weight with fewer values per codebook than clusters.
  ClusterWeights(std::unique_ptr<Module> layer, Options options);
  ~ClusterWeights() override;

  /// The wrapped layer's forward (it reads its weights clustered).
  Variable forward(const Variable& x) override;
  std::string typeName() const override { return "ClusterWeights"; }
  /// {"layer": architecture of the wrapped layer, "clusters", "init", "preserve_sparsity",
  ///  "per_channel", "gradient_aggregation", "lloyd_iterations", "fixed_assignments", "seed"}
  nlohmann::json config() const override;
  /// The inverse of config().
  static std::unique_ptr<Module> fromConfig(const nlohmann::json& config);

  const Options& options() const { return options_; }
  const std::vector<ClusteredWeight>& clusteredWeights() const { return weights_; }
  /// The centroid index each entry of weight i reads now (the weight's numel, row-major).
  std::vector<int32_t> assignments(size_t i) const;

  /// For strip: writes each weight's clustered value into its leaf, detaches the gather transforms
  /// (earlier ones, such as a pruning mask, stay) and gives up the layer. The wrapper must then be
  /// discarded.
  std::unique_ptr<Module> releaseLayer();

 private:
  class Gather;

  /// The centroids weight i reads: the Parameter's, with each fixed zero forced to 0.
  Tensor effectiveCentroids(const ClusteredWeight& w) const;
  /// idx of weight value `value` (the transform's input) under `centroids`.
  std::vector<int32_t> assign(const ClusteredWeight& w, const Tensor& value, const Tensor& centroids) const;

  Options options_;
  std::vector<ClusteredWeight> weights_;
  std::vector<std::unique_ptr<Gather>> transforms_;
};

/// What clusterWeights does to a model.
struct ClusterScheme {
  /// Options of every clustered layer that `layers` does not name.
  ClusterOptions defaults;
  /// Options of particular layers, by name, in place of the defaults.
  std::map<std::string, ClusterOptions> layers = {};
  /// Layers left unclustered.
  std::vector<std::string> skip = {};
};

/// tfmot's cluster_weights on a whole model, in place: every layer with weights (Dense, Conv2D, or
/// one already wrapped, e.g. for pruning), nested Sequentials included, is wrapped in a
/// ClusterWeights with its options, except skipped layers and, as tfmot, layers with a weight of at
/// most k values per codebook (too small to cluster), which stay as they are. Build the optimizer
/// afterwards. Returns the number of layers wrapped. Throws std::invalid_argument for invalid
/// options, names that are not layers of the model, a model already clustered, or nothing to wrap.
int clusterWeights(Sequential& model, const ClusterScheme& scheme);
int clusterWeights(Sequential& model, const ClusterOptions& options);

/// Every ClusterWeights under `model`, with its dotted name, in model order.
std::vector<std::pair<std::string, ClusterWeights*>> clusterWrappers(Module& model);

}  // namespace shrink
