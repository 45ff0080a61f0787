#pragma once

#include <cstdio>
#include <optional>
#include <string>
#include <vector>

#include "optim/Callback.h"
#include "optim/LrSchedule.h"
#include "optim/ModelFile.h"

namespace shrink {

/// Whether a smaller or a larger monitored value is better. Auto: larger for names containing
/// "acc" (accuracy), smaller otherwise — as Keras.
enum class MonitorMode { Auto, Min, Max };

/// Tracks the best value of one log key across epochs (shared by EarlyStopping, ModelCheckpoint
/// and ReduceLROnPlateau).
class Monitor {
 public:
  Monitor(std::string key, MonitorMode mode, double minDelta);
  /// The monitored value in `logs`; throws naming the key and the available keys when absent.
  double read(const Logs& logs) const;
  /// True when `value` beats the best so far by more than minDelta (always true the first time).
  bool improves(double value) const;
  void accept(double value) { best_ = value; }
  std::optional<double> best() const { return best_; }
  const std::string& key() const { return key_; }
  void reset() { best_.reset(); }

 private:
  std::string key_;
  bool larger_;
  double minDelta_;
  std::optional<double> best_;
};

struct EarlyStoppingOptions {
  std::string monitor = "val_loss";
  double minDelta = 0.0;
  int patience = 0;
  MonitorMode mode = MonitorMode::Auto;
  bool restoreBestWeights = false;
};

/// Stops training when the monitored value has not improved for `patience` epochs; optionally
/// puts back the weights of the best epoch when it stops (Keras semantics).
class EarlyStopping : public Callback {
 public:
  explicit EarlyStopping(EarlyStoppingOptions options = {});
  void onTrainBegin(TrainContext& ctx) override;
  void onEpochEnd(TrainContext& ctx) override;
  void onTrainEnd(TrainContext& ctx) override;
  /// The epoch (from 0) at which training was stopped, or -1.
  int stoppedEpoch() const { return stoppedEpoch_; }
  int bestEpoch() const { return bestEpoch_; }

 private:
  EarlyStoppingOptions options_;
  Monitor monitor_;
  int wait_ = 0;
  int stoppedEpoch_ = -1;
  int bestEpoch_ = -1;
  std::optional<ModelState> bestState_;
};

struct ReduceLROnPlateauOptions {
  std::string monitor = "val_loss";
  double factor = 0.1;
  int patience = 10;
  MonitorMode mode = MonitorMode::Auto;
  double minDelta = 1e-4;
  int cooldown = 0;
  double minLr = 0.0;
};

/// Multiplies the learning rate by `factor` when the monitored value stalls for `patience` epochs
/// (Keras semantics, with cooldown and a floor).
class ReduceLROnPlateau : public Callback {
 public:
  explicit ReduceLROnPlateau(ReduceLROnPlateauOptions options = {});
  void onTrainBegin(TrainContext& ctx) override;
  void onEpochEnd(TrainContext& ctx) override;

 private:
  ReduceLROnPlateauOptions options_;
  Monitor monitor_;
  int wait_ = 0;
  int cooldownLeft_ = 0;
};

/// Appends one CSV row per epoch: "epoch" then the log keys in sorted order.
class CSVLogger : public Callback {
 public:
  explicit CSVLogger(std::string path, bool append = false);
  ~CSVLogger() override;
  void onTrainBegin(TrainContext& ctx) override;
  void onEpochEnd(TrainContext& ctx) override;
  void onTrainEnd(TrainContext& ctx) override;

 private:
  std::string path_;
  bool append_;
  std::FILE* file_ = nullptr;
  std::vector<std::string> columns_;
};

struct ModelCheckpointOptions {
  std::string monitor = "val_loss";
  bool saveBestOnly = false;
  MonitorMode mode = MonitorMode::Auto;
  /// Save the optimizer state too, so training can resume from the file.
  bool saveOptimizer = true;
};

/// Saves the model at the end of each epoch, or only when the monitored value improves. The path
/// may contain "{epoch}" (1-based), replaced by the epoch number.
class ModelCheckpoint : public Callback {
 public:
  ModelCheckpoint(std::string path, ModelCheckpointOptions options = {});
  void onEpochEnd(TrainContext& ctx) override;
  /// The files written so far.
  const std::vector<std::string>& saved() const { return saved_; }

 private:
  std::string path_;
  ModelCheckpointOptions options_;
  Monitor monitor_;
  std::vector<std::string> saved_;
};

/// Sets the optimizer's learning rate from a schedule at every batch (from the global step) or
/// at every epoch (from the epoch number).
class LearningRateScheduler : public Callback {
 public:
  enum class Per { Step, Epoch };
  LearningRateScheduler(const LrSchedule& schedule, Per per = Per::Epoch);
  void onEpochBegin(TrainContext& ctx) override;
  void onBatchBegin(TrainContext& ctx) override;

 private:
  const LrSchedule& schedule_;
  Per per_;
};

}  // namespace shrink
