#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "compress/Masks.h"
#include "compress/Schedule.h"
#include "compress/Wrapping.h"

namespace shrink {

/// Per-layer masks (tfmot) or one magnitude threshold across every Global-scope wrapper of the
/// model (PyTorch's global_unstructured), computed together by UpdatePruningStep.
enum class PruneScope { Layer, Global };

struct PruneOptions {
  /// When masks are recomputed and at which sparsity. Required.
  std::shared_ptr<const PruningSchedule> schedule;
  /// Block sparsity: magnitudes pooled over blockRows x blockCols blocks of the kernel viewed as
  /// [out, in] (Dense) or [out, in*kh*kw] (Conv2D); 1x1 is plain magnitude pruning.
  int64_t blockRows = 1;
  int64_t blockCols = 1;
  BlockPooling pooling = BlockPooling::Avg;
  /// N:M sparsity along the input dimension (e.g. 2 and 4); 0 = off. As tfmot, the mask is computed
  /// once, at step 1, and the schedule's sparsity is ignored.
  int64_t nOfMN = 0;
  int64_t nOfMM = 0;
  PruneScope scope = PruneScope::Layer;
};

/// "layer" | "global" and "avg" | "max" (architecture files, the CLI).
std::string pruneScopeName(PruneScope scope);
PruneScope parsePruneScope(const std::string& name);
std::string blockPoolingName(BlockPooling pooling);
BlockPooling parseBlockPooling(const std::string& name);

/// One weight a wrapper prunes: the parameter, its mask (1 = kept, the weight's shape) and the
/// threshold of the last mask update. Mask and threshold are buffers of the wrapper.
struct PrunedWeight {
  std::string name;  ///< the parameter's name inside the wrapped layer, e.g. "weight"
  Parameter* parameter;
  Tensor* mask;
  Tensor* threshold;  ///< shape [1]
};

/// Zeros of leaf * mask, counted without forming the product.
int64_t maskedZeros(const PrunedWeight& weight);

/// tfmot's prune_low_magnitude wrapper. Owns the wrapped layer (child "layer") and, for each weight
/// the layer declares through compressibleWeights(), a mask buffer "<name>_mask" (ones at first)
/// and a threshold buffer "<name>_threshold"; plus the pruning step, buffer "step" (-1 until
/// UpdatePruningStep starts training; stored as float, so exact up to 2^24 = 16.7M steps).
///
/// The layer reads each weight through a mask transform, value = leaf * mask (pruned entries get
/// zero gradient). While UpdatePruningStep drives training, it keeps the leaves themselves masked
/// before every forward (leaf <- leaf * mask, as tfmot does), so training forwards read the leaves
/// as they are: no mask product in the forward or the backward, gradients reach every entry as in
/// tfmot, and whatever the optimizer does to a pruned entry is undone before the next forward,
/// except that a mask update sees it (so a pruned weight whose one-step update beats the threshold
/// regrows, as in tfmot). Saved models are exactly as sparse as their masks. Wrapping keeps the
/// layer's weights; the masks start dense.
class PruneLowMagnitude : public LayerWrapper {
 public:
  using Options = PruneOptions;
  /// Throws std::invalid_argument when the layer declares no prunable weights, the options are
  /// invalid (no schedule, block < 1x1, a bad N:M pair, Global scope with blocks or N:M), or a
  /// block/N:M pattern meets a weight that is not a Dense or Conv2D kernel.
  PruneLowMagnitude(std::unique_ptr<Module> layer, Options options);
  ~PruneLowMagnitude() override;

  /// The wrapped layer's forward. In training mode the step must have been set (>= 1) by
  /// UpdatePruningStep, else std::logic_error.
  Variable forward(const Variable& x) override;
  std::string typeName() const override { return "PruneLowMagnitude"; }
  /// {"layer": architecture of the wrapped layer, "schedule": {...}, "block_size": [r, c],
  ///  "pooling": "avg"|"max", "scope": "layer"|"global"[, "n_of_m": [n, m]]}
  nlohmann::json config() const override;
  const Options& options() const { return options_; }

  /// The pruning step: -1 before training began, then the number of training batches seen.
  int64_t step() const;
  void setStep(int64_t step);

  std::vector<PrunedWeight>& prunedWeights() { return weights_; }
  const std::vector<PrunedWeight>& prunedWeights() const { return weights_; }

  /// Recomputes every mask from the current weights at `sparsity` with this wrapper's pattern
  /// (magnitude, block or N:M) and stores the thresholds. Does not touch the weights.
  void updateMasks(double sparsity);
  /// Sets the mask of weight i (e.g. from a global threshold); shapes must match.
  void setMask(size_t i, Tensor mask, float threshold);
  /// leaf <- leaf * mask for every pruned weight, without a graph; pruned entries become +0.
  void applyMasks();
  /// Whether the masks are recomputed at pruning step `step` (the schedule's decision; N:M masks
  /// only at step 1).
  bool updatesMasksAt(int64_t step) const;
  /// Promises (on) that the leaves hold zeros wherever the masks do, for every training-mode forward
  /// until turned off: those forwards then skip the mask product. UpdatePruningStep turns it on for
  /// the length of training and keeps the promise by re-masking after every step. Eval-mode forwards
  /// (validation) still multiply by the masks; so does everything once it is turned off.
  void setLeavesMasked(bool on);
  bool leavesMasked() const { return leavesMasked_; }
  /// Fraction of zeros of the masked weights, all pruned weights together.
  double sparsity() const;
  /// Counts mask changes (updateMasks, setMask) in this process, so observers such as
  /// PruningSummaries can tell when to log. Not saved.
  int64_t maskVersion() const { return maskVersion_; }

  /// For strip: applies the masks to the leaves, detaches the mask transforms and gives up the
  /// wrapped layer (the wrapper is empty afterwards and must be discarded).
  std::unique_ptr<Module> releaseLayer();

 private:
  class MaskTransform;

  Options options_;
  Tensor* step_ = nullptr;
  int64_t maskVersion_ = 0;
  bool leavesMasked_ = false;
  std::vector<PrunedWeight> weights_;
  std::vector<std::unique_ptr<MaskTransform>> transforms_;
};

/// Makes the compression modules (PruneLowMagnitude, QuantizeWrapper, ActivationQuantizer,
/// QuantNoiseWrapper, ClusterWeights) known to
/// buildModule/loadModel.
/// Idempotent. The compression entry points call it; call it yourself before loadModel() of a
/// compressed model file in a program that uses nothing else from shrink::compress.
void registerCompressionTypes();

}  // namespace shrink
