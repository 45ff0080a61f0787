#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "layers/Sequential.h"
#include "optim/Callback.h"
#include "optim/Fit.h"

namespace shrink {

struct LotteryTicketOptions {
  /// Pruning rounds R after the first, dense training: R + 1 trainings in all. >= 1.
  int rounds = 5;
  /// Fraction of each layer's surviving weights pruned per round, in (0, 1): after round r a layer
  /// is 1 - (1 - rate)^r sparse.
  double rate = 0.2;
  /// The rate of the last prunable layer (the output layer); Frankle and Carbin prune it at half
  /// the rate of the others, the default.
  std::optional<double> outputRate = std::nullopt;
};

/// One training of the lottery-ticket search.
struct LotteryTicketRound {
  int round = 0;         ///< 0 = the dense training
  double sparsity = 0;   ///< fraction of zeros over every pruned kernel, measured from the weights
  std::vector<double> layerSparsity;  ///< per pruned kernel, in model order
  Logs logs;             ///< what the trainer returned (e.g. test accuracy)
};

/// Trains `model` in place for one round; it must pass `callbacks` to fit() (they keep the masks)
/// and build a fresh optimizer for `model.trainableParameters()`. What it returns is kept in the
/// round's logs.
using LotteryTrainer = std::function<Logs(Sequential& model, const std::vector<Callback*>& callbacks)>;

/// Iterative magnitude pruning with rewinding (Frankle and Carbin 2019): the initial values of
/// every parameter and buffer are saved; the model is trained; then, for R rounds, rate x (the
/// surviving weights) of each Dense/Conv2D kernel are pruned by magnitude, per layer, every
/// parameter and buffer is rewound to its initial value (pruned weights stay 0) and the model is
/// retrained. Masks only grow: a weight pruned once stays pruned.
///
/// The model's Dense/Conv2D layers are wrapped with PruneLowMagnitude (not yet wrapped is required),
/// with a schedule that never recomputes masks during training, so the rounds' masks are held by
/// UpdatePruningStep exactly as in any pruning run. The model is left wrapped, as trained in the last
/// round: stripPruning() gives the winning ticket. Bad options throw std::invalid_argument.
std::vector<LotteryTicketRound> lotteryTicket(Sequential& model, const LotteryTrainer& train,
                                              const LotteryTicketOptions& options = {});

}  // namespace shrink
