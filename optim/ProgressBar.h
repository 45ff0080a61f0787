#pragma once

#include <chrono>
#include <cstdio>

#include "optim/Callback.h"

namespace shrink {

/// Keras-style progress: on a terminal, a bar per epoch with ETA and the running loss and metrics,
/// redrawn at most ~10 times a second; otherwise one plain line per epoch. Writes to stderr, so
/// stdout stays free for results (e.g. `--json`).
class ProgressBar : public Callback {
 public:
  /// verbose 0 prints nothing.
  explicit ProgressBar(int verbose = 1, std::FILE* out = stderr);
  void onTrainBegin(TrainContext& ctx) override;
  void onEpochBegin(TrainContext& ctx) override;
  void onBatchEnd(TrainContext& ctx) override;
  void onEpochEnd(TrainContext& ctx) override;

 private:
  using Clock = std::chrono::steady_clock;
  void draw(const TrainContext& ctx, bool final);
  int verbose_;
  std::FILE* out_;
  bool terminal_;
  Clock::time_point epochStart_;
  Clock::time_point lastDraw_;
};

}  // namespace shrink
