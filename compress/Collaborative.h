#pragma once

#include <string>
#include <vector>

#include "compress/Quantize.h"
#include "compress/Report.h"
#include "layers/Sequential.h"

namespace shrink {

/// Collaborative optimisation (tfmot's PQAT, CQAT and PCQAT): quantization-aware training of a model
/// that was pruned and/or clustered and then stripped, keeping what those steps made.
struct CollaborativeScheme {
  /// How the layers are quantized: quantizeModel's options per layer, skipped layers, input
  /// quantizer, folding.
  QuantizeScheme quantize = {};
  /// PQAT: the entries of each weight that are exactly 0 when wrapping stay 0 through training and
  /// strip (QuantizeOptions::preserveSparsity on every quantized layer).
  bool preserveSparsity = false;
  /// CQAT: the distinct values of each weight become its codebook; every entry stays tied to the
  /// centroid of its value (a ClusterWeights with UniqueValues centroids and fixed assignments), the
  /// centroids train (their gradient the per-cluster sum) and the gathered weight is fake-quantized,
  /// so a weight keeps at most its number of distinct values (per output channel with per-axis weight
  /// ranges, Conv2D's default: each channel is quantized on its own scale, so a kernel clustered per
  /// channel keeps at most k values per channel). With preserveSparsity too (PCQAT) the
  /// centroid 0 stays fixed and the zeros stay zero; a weight without zeros is clustered as in CQAT.
  bool preserveClusters = false;
  /// With preserveClusters, a layer whose weights have more distinct values than this (not
  /// clustered) or fewer than 2 gets plain QAT (tfmot skips more than 1024).
  int maxClusters = 1024;
};

/// Prepares a stripped model for collaborative quantization-aware training, in place: with
/// preserveClusters every quantized layer with a clustered weight is wrapped in a ClusterWeights (see
/// CollaborativeScheme), then quantizeModel wraps the layers with preserveSparsity set as asked.
/// Train with any optimizer built afterwards; no callback is needed. stripQuantizationInPlace then
/// gives the float model (clustering wrappers included). Returns the number of layers quantized.
/// Throws std::invalid_argument when the model still holds compression wrappers (strip it first),
/// for maxClusters < 2, and for what quantizeModel rejects, before changing the model.
int collaborativeQuantize(Sequential& model, const CollaborativeScheme& scheme);

/// The prunable weights of a model after one step of a compression pipeline.
struct StepReport {
  std::string step;                  ///< e.g. "pruned", "clustered", "QAT", "stripped"
  std::vector<WeightReport> weights;  ///< as report() counts them: read through every transform
};

/// The weights of `model` now (report(model) without sizes), labelled `step`.
StepReport stepReport(Module& model, std::string step);

/// A table with one row per weight (named as in the first step) and, for each step, the weight's
/// sparsity and distinct values: whether the zeros of pruning and the codebooks of clustering held
/// through each later step. Every step must report the same number of weights with the same
/// sizes (std::invalid_argument otherwise).
std::string formatSteps(const std::vector<StepReport>& steps);

}  // namespace shrink
