#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "compress/ChannelScores.h"
#include "core/Module.h"
#include "datasets/Dataset.h"
#include "layers/Sequential.h"
#include "optim/Callback.h"

namespace shrink {

/// How units/filters are ranked (the smallest score is pruned first).
enum class UnitCriterion {
  Magnitude,  ///< by layer kind: Dense -> L2 norm of the unit's row, Conv2D -> L1 norm of the filter
  L1,         ///< L1 norm of the row/filter for both kinds
  L2,         ///< L2 norm of the row/filter for both kinds
  Taylor,     ///< Molchanov et al. first-order Taylor scores on data (taylorScores)
};

/// Per layer: `fraction` of each selected layer's units. Global: `fraction` of all selected units
/// together, ranked by per-layer L2-normalised scores (Molchanov et al.; for the norm criteria the
/// same normalisation is applied so that layers compete on equal terms).
enum class PruningScope { PerLayer, Global };

/// Chooses the layers a StructuredPruner works on: name and layer (the Dense/Conv2D itself).
using LayerSelector = std::function<bool(const std::string& name, const Module& layer)>;

struct StructuredPruningOptions {
  UnitCriterion criterion = UnitCriterion::Magnitude;
  PruningScope scope = PruningScope::PerLayer;
  /// Which Dense/Conv2D layers may be pruned: the ones named in `layers`, or those `select`
  /// accepts (by name or type), or, when both are empty, every one but the output layer. Naming or
  /// selecting the output layer is an error (it is never pruned), so is a name that is not a
  /// Dense/Conv2D of the model, and so is giving both.
  std::vector<std::string> layers = {};
  LayerSelector select = nullptr;
  /// Batches and objective of the Taylor criterion.
  TaylorOptions taylor = {};
};

/// Pruned units of one layer.
struct UnitCount {
  std::string name;
  int64_t units = 0;
  int64_t pruned = 0;
};

/// Structured pruning of whole output units (Dense) and filters (Conv2D) of a Sequential by masks,
/// so that shrinkStructured() can later remove them exactly.
///
/// Pruning unit j of layer L zeroes row j of L's kernel, L's bias[j], and gamma[j], beta[j] of every
/// BatchNorm between L and the next Dense/Conv2D; the channel is then exactly 0 downstream in train
/// and eval mode. Each of these parameters gets a Prune-stage WeightTransform (value = leaf * mask),
/// so pruned entries get zero gradient, and the leaves are zeroed at once. As a Callback passed to
/// fit(), the pruner re-zeroes the pruned entries after every optimizer step (onBatchEnd), so
/// momentum cannot revive them.
///
/// Masks accumulate: units once pruned stay pruned, so one-shot use is prune(f) and iterative use is
/// prune(f1), fit, prune(f2 > f1), fit, ... Only the pruner's own transforms are attached and
/// detached; other transforms on the same parameters (another pruning mechanism, quantizers) are left
/// alone. Layers rebuilt behind the pruner's back (shrinkStructured) are noticed and start afresh
/// with no unit pruned. The model must outlive the pruner.
class StructuredPruner : public Callback {
 public:
  /// Validates the selection: throws std::invalid_argument when it includes the output layer, when
  /// it is empty, or when a selected layer's channels do not stay 0 (an activation with f(0) != 0,
  /// such as Sigmoid, between it and the next layer).
  explicit StructuredPruner(Sequential& model, StructuredPruningOptions options = {});
  ~StructuredPruner() override;
  StructuredPruner(const StructuredPruner&) = delete;
  StructuredPruner& operator=(const StructuredPruner&) = delete;

  /// Prunes until `fraction` (in [0, 1)) of the units is pruned, per layer or globally: of n units,
  /// n - max(round_half_even(n (1 - fraction)), 1) are pruned (tfmot's counting rule), units already
  /// pruned count towards it, and every layer keeps at least one unit. The lowest scores go first,
  /// ties to the lower index (then the earlier layer). `data` is required for the Taylor criterion.
  /// Returns how many units were newly pruned.
  int64_t prune(double fraction, const data::Dataset* data = nullptr);

  /// Prunes the given units of one selected layer (a custom criterion, or a hand-made test case).
  void pruneUnits(const std::string& layer, const std::vector<int64_t>& units);

  /// Bakes the pruning into the leaves (pruned entries are 0 there already) and detaches the
  /// pruner's transforms; the pruner forgets its masks. Units stay 0, so shrinkStructured() finds them.
  void removeMasks();

  /// Per selected layer, in model order.
  std::vector<UnitCount> counts() const;
  /// Whether each unit of `layer` is pruned, [units].
  std::vector<bool> prunedUnits(const std::string& layer) const;
  /// The names of the selected layers, in model order.
  std::vector<std::string> selectedLayers() const;

  /// Re-applies the masks to the leaves before training starts.
  void onTrainBegin(TrainContext& ctx) override;
  /// Re-zeroes pruned entries after the optimizer step.
  void onBatchEnd(TrainContext& ctx) override;

 private:
  struct Target;
  /// Drops the state of targets whose parameters are no longer the model's (rebuilt layers).
  void sync();
  Target& target(const std::string& name);
  void applyMasks(Target& t);
  std::vector<Tensor> scoreLayers(const data::Dataset* data);

  Sequential& model_;
  StructuredPruningOptions options_;
  std::vector<std::unique_ptr<Target>> targets_;
};

}  // namespace shrink
