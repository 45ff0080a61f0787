#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace shrink {

class Module;
class Optimizer;

/// Named scalars of a batch or an epoch: "loss", "accuracy", "val_loss", "lr", ...
using Logs = std::map<std::string, double>;

/// What callbacks see and may change during fit(): the model, the optimizer, where training is,
/// the latest logs, and a flag to stop.
struct TrainContext {
  TrainContext(Module& m, Optimizer& o) : model(m), optimizer(o) {}

  Module& model;
  Optimizer& optimizer;
  int epochs = 0;             ///< epochs requested
  int epoch = 0;              ///< current epoch, from 0
  int64_t step = 0;           ///< global batch counter: batches completed since training began
  int64_t batch = 0;          ///< batch index within the epoch
  int64_t batchesPerEpoch = 0;
  int64_t batchSize = 0;      ///< examples in the current batch
  Logs batchLogs;             ///< running means of the epoch so far (loss and metrics)
  Logs epochLogs;             ///< at epoch end: the epoch's loss, metrics and val_ metrics
  bool stopTraining = false;  ///< set by a callback to end training after the current batch/epoch
};

/// Hooks into the training loop; every hook does nothing by default. Compression callbacks
/// (pruning steps, cluster updates, range freezing) use this same interface.
class Callback {
 public:
  virtual ~Callback() = default;
  virtual void onTrainBegin(TrainContext&) {}
  virtual void onTrainEnd(TrainContext&) {}
  virtual void onEpochBegin(TrainContext&) {}
  virtual void onEpochEnd(TrainContext&) {}
  /// Before the forward pass of a batch.
  virtual void onBatchBegin(TrainContext&) {}
  /// After the optimizer step of a batch.
  virtual void onBatchEnd(TrainContext&) {}
};

/// Calls a list of callbacks in order.
class CallbackList : public Callback {
 public:
  explicit CallbackList(std::vector<Callback*> callbacks) : callbacks_(std::move(callbacks)) {}
  void onTrainBegin(TrainContext& c) override { for (auto* cb : callbacks_) cb->onTrainBegin(c); }
  void onTrainEnd(TrainContext& c) override { for (auto* cb : callbacks_) cb->onTrainEnd(c); }
  void onEpochBegin(TrainContext& c) override { for (auto* cb : callbacks_) cb->onEpochBegin(c); }
  void onEpochEnd(TrainContext& c) override { for (auto* cb : callbacks_) cb->onEpochEnd(c); }
  void onBatchBegin(TrainContext& c) override { for (auto* cb : callbacks_) cb->onBatchBegin(c); }
  void onBatchEnd(TrainContext& c) override { for (auto* cb : callbacks_) cb->onBatchEnd(c); }

 private:
  std::vector<Callback*> callbacks_;
};

}  // namespace shrink
