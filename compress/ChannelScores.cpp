#include "compress/ChannelScores.h"

#include <cmath>
#include <utility>

#include "compress/ChannelGraph.h"
#include "core/Check.h"
#include "core/Functions.h"
#include "datasets/Loader.h"
#include "layers/Conv2D.h"
#include "layers/Dense.h"

namespace shrink {

namespace {

Tensor kernelValue(Module& layer, const char* fn) {
  Parameter* weight = nullptr;
  if (auto* d = dynamic_cast<Dense*>(&layer)) weight = &d->weight();
  if (auto* c = dynamic_cast<Conv2D*>(&layer)) weight = &c->weight();
  SHRINK_CHECK(weight != nullptr, "{}: expected a Dense or Conv2D layer, got {}", fn, layer.typeName());
  NoGradGuard noGrad;
  return weight->value().value();
}

/// Restores every module's mode and every parameter leaf's requires-grad flag on scope exit.
class ScoringScope {
 public:
  explicit ScoringScope(Module& model) {
    model.visit([&](Module& m) { modes_.emplace_back(&m, m.isTraining()); });
    for (Parameter* p : model.parameters()) {
      flags_.emplace_back(p, p->leaf().requiresGrad());
      p->leaf().setRequiresGrad(false);
    }
    model.eval();
  }
  ~ScoringScope() {
    for (auto& [m, on] : modes_) m->train(on);
    for (auto& [p, on] : flags_) p->leaf().setRequiresGrad(on);
  }
  ScoringScope(const ScoringScope&) = delete;
  ScoringScope& operator=(const ScoringScope&) = delete;

 private:
  std::vector<std::pair<Module*, bool>> modes_;
  std::vector<std::pair<Parameter*, bool>> flags_;
};

}  // namespace

Tensor rowNorms(const Tensor& weight, ChannelNorm norm) {
  SHRINK_CHECK(weight.rank() >= 1 && weight.dim(0) > 0, "rowNorms: expected a weight of rank >= 1 with units, got {}",
               weight.shape().str());
  const int64_t rows = weight.dim(0);
  const int64_t cols = weight.numel() / rows;
  Tensor out(Shape{rows});
  auto m = weight.matrix(rows, cols);
  for (int64_t r = 0; r < rows; ++r)
    out[r] = norm == ChannelNorm::L1 ? m.row(r).cwiseAbs().sum() : m.row(r).norm();
  return out;
}

Tensor unitL2Scores(Module& layer) { return rowNorms(kernelValue(layer, "unitL2Scores"), ChannelNorm::L2); }

Tensor filterL1Scores(Module& layer) { return rowNorms(kernelValue(layer, "filterL1Scores"), ChannelNorm::L1); }

Tensor l2Normalized(const Tensor& scores) {
  double sq = 0;
  for (float v : scores) sq += double(v) * double(v);
  Tensor out = scores;
  if (sq > 0) out *= static_cast<float>(1.0 / std::sqrt(sq));
  return out;
}

std::vector<LayerScores> taylorScores(Sequential& model, const data::Dataset& data, const TaylorOptions& options) {
  SHRINK_CHECK(options.batchSize > 0, "taylorScores: batchSize must be positive, got {}", options.batchSize);
  SHRINK_CHECK(options.maxBatches >= 0, "taylorScores: maxBatches must be >= 0, got {}", options.maxBatches);
  SHRINK_CHECK(data.size() > 0, "taylorScores: the dataset is empty");
  SHRINK_CHECK(isGradEnabled(), "taylorScores: needs gradients, but was called inside a NoGradGuard");
  const std::vector<ChannelLayer> layers = channelLayers(model);

  // Which layers tap the output of each child (several layers never share a tap, but stay general).
  std::vector<std::vector<size_t>> tapsAt(model.size());
  for (size_t k = 0; k < layers.size(); ++k) tapsAt[layers[k].tapIndex].push_back(k);

  std::vector<std::vector<double>> sums(layers.size());
  for (size_t k = 0; k < layers.size(); ++k) sums[k].assign(static_cast<size_t>(layers[k].units), 0.0);
  int64_t examples = 0;

  ScoringScope scope(model);
  data::Loader loader(data, {.batchSize = options.batchSize, .shuffle = false});
  int64_t batches = 0;
  for (data::Batch& b : loader) {
    if (options.maxBatches > 0 && batches == options.maxBatches) break;
    ++batches;
    const int64_t n = b.size();
    std::vector<Variable> taps(layers.size()), probes(layers.size());
    Variable h(std::move(b.x));
    for (size_t i = 0; i < model.size(); ++i) {
      h = model.at(i).forward(h);
      if (tapsAt[i].empty()) continue;
      Variable probe(Tensor::zeros(h.shape()), true);
      h = add(h, probe);  // z + 0: the same z, and the probe's gradient is dC/dz
      for (size_t k : tapsAt[i]) {
        taps[k] = h;
        probes[k] = probe;
      }
    }
    options.objective.lossOf(h, b.y).backward();
    for (size_t k = 0; k < layers.size(); ++k) {
      const Variable& z = taps[k];
      const Variable& probe = probes[k];
      if (!probe.hasGrad()) continue;  // the loss does not depend on it: every score stays 0
      const int64_t units = layers[k].units;
      SHRINK_ASSERT(z.shape().rank() >= 2 && z.shape()[0] == n && z.shape()[1] == units,
                    "taylorScores: layer '{}' output {} does not have {} channels", layers[k].name, z.shape().str(),
                    units);
      const int64_t m = z.numel() / (n * units);
      const float* zv = z.value().data();
      const float* gv = probe.grad().data();
      for (int64_t e = 0; e < n; ++e)
        for (int64_t c = 0; c < units; ++c) {
          const int64_t base = (e * units + c) * m;
          double s = 0;
          for (int64_t p = 0; p < m; ++p) s += double(gv[base + p]) * double(zv[base + p]);
          sums[k][static_cast<size_t>(c)] += std::fabs(s * double(n) / double(m));
        }
    }
    examples += n;
  }

  std::vector<LayerScores> out;
  for (size_t k = 0; k < layers.size(); ++k) {
    Tensor scores(Shape{layers[k].units});
    for (int64_t c = 0; c < layers[k].units; ++c)
      scores[c] = static_cast<float>(sums[k][static_cast<size_t>(c)] / double(examples));
    out.push_back({layers[k].index, layers[k].name, options.normalize ? l2Normalized(scores) : std::move(scores)});
  }
  return out;
}

}  // namespace shrink
