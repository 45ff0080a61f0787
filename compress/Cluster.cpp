#include "compress/Cluster.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

#include "compress/PruneLowMagnitude.h"
#include "core/Check.h"
#include "layers/Config.h"
#include "layers/Registry.h"

namespace shrink {

std::string centroidInitName(CentroidInit init) {
  switch (init) {
    case CentroidInit::Linear: return "linear";
    case CentroidInit::Random: return "random";
    case CentroidInit::DensityBased: return "density_based";
    case CentroidInit::KMeansPlusPlus: return "kmeans_plus_plus";
    case CentroidInit::UniqueValues: return "unique_values";
  }
  return "kmeans_plus_plus";
}

CentroidInit parseCentroidInit(const std::string& name) {
  for (CentroidInit init : {CentroidInit::Linear, CentroidInit::Random, CentroidInit::DensityBased,
                            CentroidInit::KMeansPlusPlus, CentroidInit::UniqueValues})
    if (centroidInitName(init) == name) return init;
  throw std::invalid_argument(fmt::format("centroid initialisation must be 'linear', 'random', 'density_based', "
                                          "'kmeans_plus_plus' or 'unique_values', got '{}'",
                                          name));
}

std::string gradientAggregationName(GradientAggregation aggregation) {
  return aggregation == GradientAggregation::Mean ? "mean" : "sum";
}

GradientAggregation parseGradientAggregation(const std::string& name) {
  if (name == "sum") return GradientAggregation::Sum;
  if (name == "mean") return GradientAggregation::Mean;
  throw std::invalid_argument(fmt::format("gradient aggregation must be 'sum' or 'mean', got '{}'", name));
}

void checkClusterOptions(const ClusterOptions& options) {
  SHRINK_CHECK(options.clusters > 1, "ClusterWeights: the number of clusters must be > 1, got {}", options.clusters);
  SHRINK_CHECK(!options.preserveSparsity || options.clusters > 2,
               "ClusterWeights: the number of clusters must be > 2 with preserve_sparsity (one centroid is the fixed "
               "zero), got {}",
               options.clusters);
  SHRINK_CHECK(options.lloydIterations >= 0, "ClusterWeights: lloyd_iterations must be >= 0, got {}",
               options.lloydIterations);
}

namespace {

/// n evenly spaced values from lo to hi, both exact.
std::vector<float> linspace(float lo, float hi, int n) {
  std::vector<float> out(static_cast<size_t>(std::max(n, 0)));
  for (int i = 0; i < n; ++i)
    out[i] = i == n - 1 && n > 1 ? hi : lo + static_cast<float>(i) * (n > 1 ? (hi - lo) / static_cast<float>(n - 1) : 0);
  return out;
}

std::vector<float> densityBased(std::span<const float> values, int n, bool preserveSparsity) {
  constexpr int kGrid = 30;
  const auto [lo, hi] = std::minmax_element(values.begin(), values.end());
  const float gap = preserveSparsity ? std::min(0.01f, std::min(std::fabs(*lo), std::fabs(*hi)) / 2) : 0.01f;
  const std::vector<float> grid = linspace(*lo - gap, *hi + gap, kGrid);
  std::vector<float> sorted(values.begin(), values.end());
  std::sort(sorted.begin(), sorted.end());
  std::vector<float> cdf(kGrid);
  for (int j = 0; j < kGrid; ++j)
    cdf[j] = static_cast<float>(std::upper_bound(sorted.begin(), sorted.end(), grid[j]) - sorted.begin()) /
             static_cast<float>(sorted.size());
  std::vector<float> out;
  for (float p : linspace(0.01f, 1.0f, n)) {
    const auto first = std::upper_bound(cdf.begin(), cdf.end(), p) - cdf.begin();  // first node with CDF > p
    out.push_back(grid[std::min<ptrdiff_t>(first, kGrid - 1)]);
  }
  return out;
}

double squaredDistance(float a, float b) {
  const double d = static_cast<double>(a) - b;
  return d * d;
}

std::vector<float> kmeansPlusPlus(std::span<const float> values, int n, Generator& gen) {
  std::vector<float> out;
  if (n <= 0) return out;
  const size_t size = values.size();
  out.push_back(values[gen.below(size)]);
  std::vector<double> nearest(size);
  for (size_t i = 0; i < size; ++i) nearest[i] = squaredDistance(values[i], out[0]);
  const int candidates = 3 + static_cast<int>(std::log(static_cast<double>(n)));
  auto potential = [&](float c) {
    double sum = 0;
    for (size_t i = 0; i < size; ++i) sum += std::min(nearest[i], squaredDistance(values[i], c));
    return sum;
  };
  while (static_cast<int>(out.size()) < n) {
    const double total = std::accumulate(nearest.begin(), nearest.end(), 0.0);
    size_t best = 0;
    double bestPotential = std::numeric_limits<double>::infinity();
    for (int t = 0; t < candidates; ++t) {
      size_t pick = size - 1;
      if (total > 0) {
        double r = gen.uniform01() * total;
        for (size_t i = 0; i < size; ++i) {
          r -= nearest[i];
          if (r < 0) {
            pick = i;
            break;
          }
        }
      } else {
        pick = gen.below(size);
      }
      const double p = potential(values[pick]);
      if (p < bestPotential) {
        bestPotential = p;
        best = pick;
      }
    }
    out.push_back(values[best]);
    for (size_t i = 0; i < size; ++i)
      nearest[i] = std::min(nearest[i], squaredDistance(values[i], values[best]));
  }
  return out;
}

/// n of the distinct values, ascending: all of them padded with the largest, or n spread evenly over
/// them (the smallest and largest included).
std::vector<float> uniqueValues(std::span<const float> values, int n) {
  std::vector<float> sorted(values.begin(), values.end());
  std::sort(sorted.begin(), sorted.end());
  sorted.erase(std::unique(sorted.begin(), sorted.end()), sorted.end());
  const auto size = static_cast<int64_t>(sorted.size());
  std::vector<float> out;
  for (int64_t i = 0; i < n; ++i)
    out.push_back(size <= n ? sorted[std::min(i, size - 1)] : sorted[n > 1 ? i * (size - 1) / (n - 1) : 0]);
  return out;
}

/// n centroids of `values` (not empty when n > 0) by the initialisation `init`.
std::vector<float> initialise(std::span<const float> values, int n, CentroidInit init, bool preserveSparsity,
                              Generator& gen) {
  if (n <= 0) return {};
  const auto [lo, hi] = std::minmax_element(values.begin(), values.end());
  switch (init) {
    case CentroidInit::Linear: return linspace(*lo, *hi, n);
    case CentroidInit::Random: {
      std::vector<float> out(n);
      for (float& c : out) c = gen.uniform(*lo, *hi);
      return out;
    }
    case CentroidInit::DensityBased: return densityBased(values, n, preserveSparsity);
    case CentroidInit::KMeansPlusPlus: return kmeansPlusPlus(values, n, gen);
    case CentroidInit::UniqueValues: return uniqueValues(values, n);
  }
  return {};
}

/// `iterations` Lloyd steps on `values`: assign each to its nearest centroid, move every centroid (but an
/// empty one and the fixed zero) to the mean of its members.
void lloydSteps(std::span<const float> values, Codebook& book, int iterations) {
  const size_t k = book.centroids.size();
  std::vector<int32_t> idx(values.size());
  for (int it = 0; it < iterations; ++it) {
    nearestCentroids(values, book.centroids, idx);
    std::vector<double> sum(k, 0.0);
    std::vector<int64_t> count(k, 0);
    for (size_t i = 0; i < values.size(); ++i) {
      sum[idx[i]] += values[i];
      ++count[idx[i]];
    }
    for (size_t c = 0; c < k; ++c)
      if (count[c] > 0 && static_cast<int>(c) != book.zeroIndex)
        book.centroids[c] = static_cast<float>(sum[c] / static_cast<double>(count[c]));
  }
}

/// Codebooks of a weight of `shape`: one per output channel for a Conv2D kernel with perChannel, else one.
int64_t codebookGroups(const Shape& shape, bool perChannel) {
  return perChannel && shape.rank() == 4 ? shape[0] : 1;
}

}  // namespace

Codebook makeCodebook(std::span<const float> values, const ClusterOptions& options, Generator& gen) {
  checkClusterOptions(options);
  SHRINK_CHECK(static_cast<int64_t>(values.size()) >= options.clusters,
               "makeCodebook: {} values are fewer than the {} clusters", values.size(), options.clusters);
  Codebook book;
  if (!options.preserveSparsity) {
    book.centroids = initialise(values, options.clusters, options.init, false, gen);
  } else {
    std::vector<float> negative, positive;
    for (float v : values) {
      if (v < 0) negative.push_back(v);
      if (v > 0) positive.push_back(v);
    }
    const size_t nonZero = negative.size() + positive.size();
    if (nonZero == 0) {
      book.centroids.assign(options.clusters, 0.0f);
      book.zeroIndex = 0;
      return book;
    }
    // k - 1 centroids split in proportion to the counts (rounded half to even, as tf.math.round).
    const int rest = options.clusters - 1;
    if (options.init == CentroidInit::UniqueValues) {
      std::vector<float> nonZeroValues = negative;
      nonZeroValues.insert(nonZeroValues.end(), positive.begin(), positive.end());
      book.centroids = uniqueValues(nonZeroValues, rest);
      book.zeroIndex = static_cast<int>(
          std::lower_bound(book.centroids.begin(), book.centroids.end(), 0.0f) - book.centroids.begin());
      book.centroids.insert(book.centroids.begin() + book.zeroIndex, 0.0f);
      lloydSteps(values, book, options.lloydIterations);
      return book;
    }
    const int nNegative = static_cast<int>(
        std::nearbyint(rest * static_cast<double>(negative.size()) / static_cast<double>(nonZero)));
    book.centroids = initialise(negative, nNegative, options.init, true, gen);
    book.zeroIndex = static_cast<int>(book.centroids.size());
    book.centroids.push_back(0.0f);
    for (float c : initialise(positive, rest - nNegative, options.init, true, gen)) book.centroids.push_back(c);
  }
  lloydSteps(values, book, options.lloydIterations);
  return book;
}

void nearestCentroids(std::span<const float> values, std::span<const float> centroids, std::span<int32_t> out) {
  SHRINK_CHECK(!centroids.empty(), "nearestCentroids: no centroids");
  SHRINK_CHECK(out.size() == values.size(), "nearestCentroids: {} outputs for {} values", out.size(), values.size());
  const int k = static_cast<int>(centroids.size());
  std::vector<int32_t> order(k);
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](int32_t a, int32_t b) { return centroids[a] < centroids[b]; });
  std::vector<float> sorted(k);
  std::vector<int32_t> lowest(k);  // of the run of equal centroids ending at a sorted position, the lowest index
  for (int p = 0; p < k; ++p) {
    sorted[p] = centroids[order[p]];
    lowest[p] = p > 0 && sorted[p] == sorted[p - 1] ? lowest[p - 1] : order[p];
  }
  for (size_t i = 0; i < values.size(); ++i) {
    const float v = values[i];
    const int p = static_cast<int>(std::lower_bound(sorted.begin(), sorted.end(), v) - sorted.begin());
    if (p == k) {
      out[i] = lowest[k - 1];
    } else if (p == 0) {
      out[i] = order[0];
    } else {
      const float right = sorted[p] - v, left = v - sorted[p - 1];
      const int32_t r = order[p], l = lowest[p - 1];
      out[i] = right < left || (right == left && r < l) ? r : l;
    }
  }
}

/// value = centroids gathered by the current assignment; backward as ClusterWeights describes.
class ClusterWeights::Gather : public WeightTransform {
 public:
  Gather(const ClusterWeights& owner, size_t index) : owner_(owner), index_(index) {}

  Variable apply(const Variable& weight) const override {
    const ClusteredWeight& w = owner_.weights_[index_];
    const Tensor centroids = owner_.effectiveCentroids(w);
    auto idx = std::make_shared<const std::vector<int32_t>>(owner_.assign(w, weight.value(), centroids));
    const int64_t k = owner_.options_.clusters;
    const int64_t groupSize = weight.numel() / w.groups;
    Tensor out = Tensor::uninitialized(weight.shape());
    for (int64_t i = 0; i < out.numel(); ++i) out[i] = centroids[(i / groupSize) * k + (*idx)[i]];

    const Tensor* mask = w.sparsityMask;
    const Tensor* zeroIndex = w.zeroIndex;
    const bool fixed = owner_.options_.fixedAssignments;
    const bool mean = owner_.options_.gradientAggregation == GradientAggregation::Mean;
    return Variable::fromOp(
        std::move(out), {weight, w.centroids->leaf()},
        [idx, mask, zeroIndex, fixed, mean, k, groupSize](std::vector<Variable>& in, const Tensor& gradOut,
                                                          const Tensor&) {
          if (!fixed && in[0].requiresGrad()) {
            Tensor g = gradOut;
            if (mask != nullptr) g.array() *= mask->array();
            in[0].addGrad(std::move(g));
          }
          if (!in[1].requiresGrad()) return;
          Tensor g(in[1].shape());
          std::vector<int64_t> count(static_cast<size_t>(g.numel()), 0);
          for (int64_t i = 0; i < gradOut.numel(); ++i) {
            const int64_t c = (i / groupSize) * k + (*idx)[i];
            g[c] += gradOut[i];
            ++count[c];
          }
          if (mean)
            for (int64_t c = 0; c < g.numel(); ++c) g[c] = count[c] > 0 ? g[c] / static_cast<float>(count[c]) : 0.0f;
          if (zeroIndex != nullptr)
            for (int64_t group = 0; group < zeroIndex->numel(); ++group)
              g[group * k + static_cast<int64_t>((*zeroIndex)[group])] = 0.0f;
          in[1].addGrad(std::move(g));
        },
        "clusterGather");
  }
  TransformStage stage() const override { return TransformStage::Cluster; }

 private:
  const ClusterWeights& owner_;
  size_t index_;
};

ClusterWeights::ClusterWeights(std::unique_ptr<Module> layer, Options options)
    : LayerWrapper(std::move(layer), "ClusterWeights"), options_(options) {
  const std::string type = this->layer().typeName();
  SHRINK_CHECK(type != "ClusterWeights", "ClusterWeights: the layer is already wrapped for clustering");
  checkClusterOptions(options_);
  const std::vector<NamedWeight> named = namedCompressibleWeights(this->layer(), "ClusterWeights");
  SHRINK_CHECK(!named.empty(), "ClusterWeights: layer '{}' has no weights to cluster", type);

  Generator gen(options_.seed);
  const int64_t k = options_.clusters;
  for (const auto& [name, p] : named) {
    Tensor value;
    {
      NoGradGuard noGrad;
      value = valueBefore(*p, TransformStage::Cluster).value();  // e.g. through a pruning mask
    }
    const int64_t groups = codebookGroups(value.shape(), options_.perChannel);
    const int64_t groupSize = value.numel() / groups;
    SHRINK_CHECK(groupSize >= k, "ClusterWeights: '{}' of {} {} has {} values per codebook, fewer than the {} clusters",
                 name, type, value.shape().str(), groupSize, k);
    Tensor centroids(groups == 1 ? Shape{k} : Shape{groups, k});
    Tensor zeroIndex(Shape{groups}, -1.0f);
    for (int64_t g = 0; g < groups; ++g) {
      const Codebook book = makeCodebook(value.span().subspan(g * groupSize, groupSize), options_, gen);
      std::copy(book.centroids.begin(), book.centroids.end(), centroids.begin() + g * k);
      zeroIndex[g] = static_cast<float>(book.zeroIndex);
    }
    const std::string prefix = bufferPrefix(name);
    ClusteredWeight w{name, p, &registerParameter(prefix + "_centroids", std::move(centroids)), groups,
                      nullptr, nullptr, nullptr};
    if (options_.preserveSparsity) {
      Tensor mask(value.shape());
      mask.array() = (value.array() != 0.0f).cast<float>();
      w.sparsityMask = &registerBuffer(prefix + "_sparsity_mask", std::move(mask));
      w.zeroIndex = &registerBuffer(prefix + "_zero_index", std::move(zeroIndex));
    }
    if (options_.fixedAssignments) {
      const std::vector<int32_t> idx = assign(w, value, effectiveCentroids(w));
      Tensor assignments(value.shape());
      for (int64_t i = 0; i < assignments.numel(); ++i) assignments[i] = static_cast<float>(idx[i]);
      w.assignments = &registerBuffer(prefix + "_assignments", std::move(assignments));
    }
    weights_.push_back(w);
    transforms_.push_back(std::make_unique<Gather>(*this, transforms_.size()));
    p->addTransform(transforms_.back().get());
  }
}

ClusterWeights::~ClusterWeights() {
  for (size_t i = 0; i < transforms_.size() && hasLayer(); ++i)
    weights_[i].parameter->removeTransform(transforms_[i].get());
}

Variable ClusterWeights::forward(const Variable& x) { return layer().forward(x); }

Tensor ClusterWeights::effectiveCentroids(const ClusteredWeight& w) const {
  Tensor c = w.centroids->leaf().value();
  if (w.zeroIndex != nullptr)
    for (int64_t g = 0; g < w.groups; ++g)
      c[g * options_.clusters + static_cast<int64_t>((*w.zeroIndex)[g])] = 0.0f;
  return c;
}

std::vector<int32_t> ClusterWeights::assign(const ClusteredWeight& w, const Tensor& value,
                                            const Tensor& centroids) const {
  const int64_t n = value.numel();
  std::vector<int32_t> idx(static_cast<size_t>(n));
  if (w.assignments != nullptr) {
    for (int64_t i = 0; i < n; ++i) idx[i] = static_cast<int32_t>((*w.assignments)[i]);
    return idx;
  }
  const int64_t k = options_.clusters;
  const int64_t groupSize = n / w.groups;
  for (int64_t g = 0; g < w.groups; ++g)
    nearestCentroids(value.span().subspan(g * groupSize, groupSize), centroids.span().subspan(g * k, k),
                     std::span<int32_t>(idx).subspan(g * groupSize, groupSize));
  if (w.sparsityMask != nullptr)
    for (int64_t i = 0; i < n; ++i)
      if ((*w.sparsityMask)[i] == 0.0f) idx[i] = static_cast<int32_t>((*w.zeroIndex)[i / groupSize]);
  return idx;
}

std::vector<int32_t> ClusterWeights::assignments(size_t i) const {
  SHRINK_CHECK(i < weights_.size(), "ClusterWeights::assignments: weight {} out of range ({} clustered weights)", i,
               weights_.size());
  NoGradGuard noGrad;
  const ClusteredWeight& w = weights_[i];
  return assign(w, valueBefore(*w.parameter, TransformStage::Cluster).value(), effectiveCentroids(w));
}

nlohmann::json ClusterWeights::config() const {
  return {{"layer", architectureOf(layer())},
          {"clusters", options_.clusters},
          {"init", centroidInitName(options_.init)},
          {"preserve_sparsity", options_.preserveSparsity},
          {"per_channel", options_.perChannel},
          {"gradient_aggregation", gradientAggregationName(options_.gradientAggregation)},
          {"lloyd_iterations", options_.lloydIterations},
          {"fixed_assignments", options_.fixedAssignments},
          {"seed", options_.seed}};
}

std::unique_ptr<Module> ClusterWeights::fromConfig(const nlohmann::json& config) {
  ConfigReader c(config, "ClusterWeights");
  Options o;
  o.clusters = static_cast<int>(c.integer("clusters"));
  o.init = parseCentroidInit(c.string("init", "kmeans_plus_plus"));
  o.preserveSparsity = c.boolean("preserve_sparsity", false);
  o.perChannel = c.boolean("per_channel", false);
  o.gradientAggregation = parseGradientAggregation(c.string("gradient_aggregation", "sum"));
  o.lloydIterations = static_cast<int>(c.integer("lloyd_iterations", 0));
  o.fixedAssignments = c.boolean("fixed_assignments", false);
  o.seed = c.has("seed") ? c.unsignedInteger("seed") : 0;
  std::unique_ptr<Module> inner = buildModule(c.raw("layer"));
  c.finish();
  return std::make_unique<ClusterWeights>(std::move(inner), o);
}

std::unique_ptr<Module> ClusterWeights::releaseLayer() {
  for (size_t i = 0; i < transforms_.size(); ++i) bakeTransform(*weights_[i].parameter, *transforms_[i]);
  transforms_.clear();
  weights_.clear();
  return std::move(releaseChildren().front().second);
}

namespace {

/// Has weights, each with more values per codebook than clusters (tfmot leaves smaller ones).
bool clusterable(Module& layer, const ClusterOptions& options) {
  const std::vector<Parameter*> weights = layer.compressibleWeights();
  return !weights.empty() && std::all_of(weights.begin(), weights.end(), [&](const Parameter* p) {
    return p->numel() / codebookGroups(p->shape(), options.perChannel) > options.clusters;
  });
}

/// Wraps the clusterable layers of `model` and of its nested Sequentials; returns how many.
int wrapClusterable(Sequential& model, const ClusterScheme& scheme) {
  int wrapped = 0;
  for (size_t i = 0; i < model.size(); ++i) {
    if (auto* nested = dynamic_cast<Sequential*>(&model.at(i))) {
      wrapped += wrapClusterable(*nested, scheme);
      continue;
    }
    const std::string name = model.name(i);
    const ClusterOptions& options = layerOptions(scheme.layers, scheme.defaults, name);
    if (listed(scheme.skip, name) || !clusterable(model.at(i), options)) continue;
    model.wrap(i, [&](std::unique_ptr<Module>& layer) { return std::make_unique<ClusterWeights>(std::move(layer), options); });
    ++wrapped;
  }
  return wrapped;
}

}  // namespace

int clusterWeights(Sequential& model, const ClusterScheme& scheme) {
  registerCompressionTypes();
  for (const auto& [name, layer] : namedLayers(model))
    SHRINK_CHECK(dynamic_cast<const ClusterWeights*>(layer) == nullptr,
                 "clusterWeights: the model is already clustered (layer '{}')", name);
  checkLayerScheme(model, scheme.defaults, scheme.layers, scheme.skip, "clusterWeights", checkClusterOptions);
  const int wrapped = wrapClusterable(model, scheme);
  SHRINK_CHECK(wrapped > 0,
               "clusterWeights: no layer to cluster (Dense and Conv2D layers with more weights per codebook than "
               "clusters are, unless skipped)");
  return wrapped;
}

int clusterWeights(Sequential& model, const ClusterOptions& options) {
  return clusterWeights(model, ClusterScheme{.defaults = options});
}

std::vector<std::pair<std::string, ClusterWeights*>> clusterWrappers(Module& model) {
  return modulesOfType<ClusterWeights>(model);
}

}  // namespace shrink
