#include "compress/Collaborative.h"

#include <algorithm>

#include <fmt/format.h>

#include "compress/Cluster.h"
#include "compress/Wrapping.h"
#include "core/Check.h"

namespace shrink {

namespace {

/// With preserveClusters: wraps every quantized layer whose weights hold between 2 and maxClusters
/// distinct values in a ClusterWeights keeping those values; returns how many.
int wrapClustered(Sequential& model, const CollaborativeScheme& scheme) {
  int wrapped = 0;
  for (size_t i = 0; i < model.size(); ++i) {
    if (auto* nested = dynamic_cast<Sequential*>(&model.at(i))) {
      wrapped += wrapClustered(*nested, scheme);
      continue;
    }
    const std::vector<Parameter*> weights = model.at(i).compressibleWeights();
    if (weights.empty() || listed(scheme.quantize.skip, model.name(i))) continue;
    int64_t clusters = 0;
    bool clustered = true, zeros = false;
    for (const Parameter* p : weights) {
      const Tensor& w = p->leaf().value();
      const int64_t distinct = distinctValues(w);
      clustered = clustered && distinct >= 2 && distinct <= scheme.maxClusters;
      clusters = std::max(clusters, distinct);
      zeros = zeros || std::find(w.begin(), w.end(), 0.0f) != w.end();
    }
    if (!clustered) continue;
    ClusterOptions options{.clusters = static_cast<int>(clusters),
                           .init = CentroidInit::UniqueValues,
                           .preserveSparsity = scheme.preserveSparsity && zeros,
                           .fixedAssignments = true};
    // Zero and one other value: a third, unused centroid, as the fixed zero needs more than 2.
    if (options.preserveSparsity) options.clusters = std::max(options.clusters, 3);
    model.wrap(i, [&](std::unique_ptr<Module>& layer) {
      return std::make_unique<ClusterWeights>(std::move(layer), options);
    });
    ++wrapped;
  }
  return wrapped;
}

}  // namespace

int collaborativeQuantize(Sequential& model, const CollaborativeScheme& scheme) {
  for (const auto& [name, layer] : namedLayers(model))
    SHRINK_CHECK(dynamic_cast<const LayerWrapper*>(layer) == nullptr,
                 "collaborativeQuantize: layer '{}' is a {}; strip the pruned or clustered model first", name,
                 layer->typeName());
  SHRINK_CHECK(scheme.maxClusters >= 2, "collaborativeQuantize: maxClusters must be >= 2, got {}", scheme.maxClusters);
  QuantizeScheme quantize = scheme.quantize;
  quantize.defaults.preserveSparsity = quantize.defaults.preserveSparsity || scheme.preserveSparsity;
  for (auto& [name, options] : quantize.layers)
    options.preserveSparsity = options.preserveSparsity || scheme.preserveSparsity;
  checkLayerScheme(model, quantize.defaults, quantize.layers, quantize.skip, "collaborativeQuantize",
                   checkQuantizeOptions);
  if (scheme.preserveClusters) wrapClustered(model, scheme);
  return quantizeModel(model, quantize);
}

StepReport stepReport(Module& model, std::string step) {
  return {std::move(step), report(model, {.sizes = false}).weights};
}

std::string formatSteps(const std::vector<StepReport>& steps) {
  SHRINK_CHECK(!steps.empty(), "formatSteps: no steps");
  const std::vector<WeightReport>& first = steps.front().weights;
  for (const StepReport& s : steps) {
    SHRINK_CHECK(s.weights.size() == first.size(), "formatSteps: step '{}' has {} weights, step '{}' {}", s.step,
                 s.weights.size(), steps.front().step, first.size());
    for (size_t i = 0; i < first.size(); ++i)
      SHRINK_CHECK(s.weights[i].parameters == first[i].parameters,
                   "formatSteps: weight {} has {} values in step '{}', {} in step '{}'", i, s.weights[i].parameters,
                   s.step, first[i].parameters, steps.front().step);
  }
  size_t width = 10;
  for (const WeightReport& w : first) width = std::max(width, w.name.size() + 2);
  std::string out = fmt::format("{:<{}}", "Weight", width);
  for (const StepReport& s : steps) out += fmt::format("{:>22}", s.step);
  out += fmt::format("\n{:<{}}", "", width);
  for (size_t i = 0; i < steps.size(); ++i) out += fmt::format("{:>22}", "sparsity / unique");
  out += '\n';
  out.append(width + 22 * steps.size(), '-');
  out += '\n';
  for (size_t i = 0; i < first.size(); ++i) {
    out += fmt::format("{:<{}}", first[i].name, width);
    for (const StepReport& s : steps)
      out += fmt::format("{:>22}", fmt::format("{:.2f}% / {}", 100 * s.weights[i].sparsity, s.weights[i].uniqueValues));
    out += "\n";
  }
  return out;
}

}  // namespace shrink
