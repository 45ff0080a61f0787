#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "core/Tensor.h"
#include "datasets/Dataset.h"
#include "layers/Sequential.h"
#include "optim/Objective.h"

namespace shrink {

/// Importance scores of output units (Dense) and filters (Conv2D), for structured pruning.
/// A larger score means more important; every function returns one score per output unit, [out].

enum class ChannelNorm { L1, L2 };

/// The norm of each slice along axis 0 of `weight` (rank >= 1) viewed as [out, rest]:
/// Dense [out, in] -> the norm of each row; Conv2D [out, in, kh, kw] -> the norm of each filter.
Tensor rowNorms(const Tensor& weight, ChannelNorm norm);

/// Neuron pruning's score of a Dense (or Conv2D) layer: the L2 norm of each output unit's weights,
/// read through the kernel's transforms (the weights the layer computes with). `layer` must be a
/// Dense or Conv2D.
Tensor unitL2Scores(Module& layer);

/// Li et al. (2017) filter score of a Conv2D (or Dense) layer: the L1 norm of each filter
/// [in, kh, kw], read through the kernel's transforms.
Tensor filterL1Scores(Module& layer);

/// scores / sqrt(sum_j scores_j^2) (Molchanov et al.'s layer-wise normalisation, which makes scores
/// of different layers comparable). All-zero scores stay zero.
Tensor l2Normalized(const Tensor& scores);

struct TaylorOptions {
  /// The loss C whose first-order change is measured (the model's training objective).
  Objective objective = Objective::classification();
  int64_t batchSize = 64;
  /// At most this many batches of the dataset (in order, not shuffled) are used; 0: all of them.
  int64_t maxBatches = 4;
  /// Divide each layer's scores by their L2 norm.
  bool normalize = true;
};

/// The Taylor scores of one Dense/Conv2D layer of a Sequential.
struct LayerScores {
  size_t index = 0;  ///< position in the Sequential
  std::string name;
  Tensor scores;  ///< [units]
};

/// Molchanov et al. (2017) first-order Taylor criterion for the output units/filters of every
/// Dense/Conv2D layer of `model` (the output layer included), in model order.
///
/// z is the feature map the next layer sees from the layer: its output after the fused activation
/// and after any activation layers directly following it (before pooling, BatchNorm, Dropout);
/// z [N, C, H, W] for Conv2D (M = H * W positions per channel), [N, units] for Dense (M = 1).
/// For each example n with loss C_n (the objective's loss of that example alone),
///   Theta_n(z_c) = | (1/M) sum_m dC_n/dz_{n,c,m} * z_{n,c,m} |,
/// averaged over the examples seen; then, with options.normalize, divided by the layer's L2 norm.
///
/// How: the model runs child by child in eval mode (running BatchNorm statistics, no dropout, so
/// scoring changes no state); at every tap a zero leaf that requires a gradient is added to z
/// (z + 0 keeps z and the graph behind it), the batch loss is backpropagated, and that leaf's
/// gradient, times the batch size (the batch loss is the mean of the C_n), is dC_n/dz_n. Parameter leaves are made not
/// to require gradients for the duration, so their .grad is left as it was. Modes and flags are
/// restored afterwards. Needs grad mode (not inside a NoGradGuard).
std::vector<LayerScores> taylorScores(Sequential& model, const data::Dataset& data, const TaylorOptions& options = {});

}  // namespace shrink
