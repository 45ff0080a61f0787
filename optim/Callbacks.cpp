#include "optim/Callbacks.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "core/Check.h"
#include "optim/Optimizer.h"

namespace shrink {

Monitor::Monitor(std::string key, MonitorMode mode, double minDelta)
    : key_(std::move(key)), minDelta_(std::fabs(minDelta)) {
  SHRINK_CHECK(!key_.empty(), "Monitor: empty monitored key");
  larger_ = mode == MonitorMode::Max || (mode == MonitorMode::Auto && key_.find("acc") != std::string::npos);
}

double Monitor::read(const Logs& logs) const {
  auto it = logs.find(key_);
  if (it != logs.end()) return it->second;
  std::vector<std::string> keys;
  for (const auto& [k, v] : logs) keys.push_back(k);
  throw std::invalid_argument(fmt::format("monitor '{}' is not in the logs (available: {}){}", key_,
                                          fmt::join(keys, ", "),
                                          key_.rfind("val_", 0) == 0 ? "; give validation data or a validation split" : ""));
}

bool Monitor::improves(double value) const {
  if (!best_) return true;
  return larger_ ? value > *best_ + minDelta_ : value < *best_ - minDelta_;
}

EarlyStopping::EarlyStopping(EarlyStoppingOptions options)
    : options_(std::move(options)), monitor_(options_.monitor, options_.mode, options_.minDelta) {
  SHRINK_CHECK(options_.patience >= 0, "EarlyStopping: patience must be >= 0, got {}", options_.patience);
}

void EarlyStopping::onTrainBegin(TrainContext&) {
  monitor_.reset();
  wait_ = 0;
  stoppedEpoch_ = bestEpoch_ = -1;
  bestState_.reset();
}

void EarlyStopping::onEpochEnd(TrainContext& ctx) {
  const double value = monitor_.read(ctx.epochLogs);
  ++wait_;
  if (monitor_.improves(value)) {
    monitor_.accept(value);
    bestEpoch_ = ctx.epoch;
    wait_ = 0;
    if (options_.restoreBestWeights) bestState_ = captureState(ctx.model);
    return;
  }
  if (wait_ >= options_.patience && ctx.epoch > 0) {
    stoppedEpoch_ = ctx.epoch;
    ctx.stopTraining = true;
  }
}

void EarlyStopping::onTrainEnd(TrainContext& ctx) {
  // Keras restores only when it stopped early; we also restore when the run ends on a worse epoch,
  // which is what a user asking for the best weights wants.
  if (options_.restoreBestWeights && bestState_ && bestEpoch_ >= 0) restoreState(ctx.model, *bestState_);
}

ReduceLROnPlateau::ReduceLROnPlateau(ReduceLROnPlateauOptions options)
    : options_(std::move(options)), monitor_(options_.monitor, options_.mode, options_.minDelta) {
  SHRINK_CHECK(options_.factor > 0 && options_.factor < 1, "ReduceLROnPlateau: factor must be in (0, 1), got {}",
               options_.factor);
  SHRINK_CHECK(options_.patience >= 0 && options_.cooldown >= 0,
               "ReduceLROnPlateau: patience and cooldown must be >= 0");
}

void ReduceLROnPlateau::onTrainBegin(TrainContext&) {
  monitor_.reset();
  wait_ = 0;
  cooldownLeft_ = 0;
}

void ReduceLROnPlateau::onEpochEnd(TrainContext& ctx) {
  const double value = monitor_.read(ctx.epochLogs);
  if (cooldownLeft_ > 0) {
    --cooldownLeft_;
    wait_ = 0;
  }
  if (monitor_.improves(value)) {
    monitor_.accept(value);
    wait_ = 0;
  } else if (cooldownLeft_ == 0) {
    if (++wait_ >= options_.patience) {
      const double old = ctx.optimizer.lr();
      if (old > options_.minLr) {
        ctx.optimizer.setLr(static_cast<float>(std::max(old * options_.factor, options_.minLr)));
        cooldownLeft_ = options_.cooldown;
        wait_ = 0;
      }
    }
  }
}

CSVLogger::CSVLogger(std::string path, bool append) : path_(std::move(path)), append_(append) {}

CSVLogger::~CSVLogger() {
  if (file_) std::fclose(file_);
}

void CSVLogger::onTrainBegin(TrainContext&) {
  if (file_) std::fclose(file_);
  file_ = std::fopen(path_.c_str(), append_ ? "a" : "w");
  if (!file_) throw std::runtime_error(fmt::format("{}: cannot open for writing ({})", path_, std::strerror(errno)));
  columns_.clear();
}

void CSVLogger::onEpochEnd(TrainContext& ctx) {
  if (columns_.empty()) {
    for (const auto& [k, v] : ctx.epochLogs) columns_.push_back(k);
    if (!append_ || std::ftell(file_) == 0) fmt::print(file_, "epoch,{}\n", fmt::join(columns_, ","));
  }
  std::vector<std::string> cells{std::to_string(ctx.epoch)};
  for (const auto& k : columns_) {
    auto it = ctx.epochLogs.find(k);
    cells.push_back(it == ctx.epochLogs.end() ? "" : fmt::format("{}", it->second));
  }
  fmt::print(file_, "{}\n", fmt::join(cells, ","));
  std::fflush(file_);
}

void CSVLogger::onTrainEnd(TrainContext&) {
  if (file_) std::fclose(file_);
  file_ = nullptr;
}

ModelCheckpoint::ModelCheckpoint(std::string path, ModelCheckpointOptions options)
    : path_(std::move(path)), options_(std::move(options)), monitor_(options_.monitor, options_.mode, 0.0) {
  SHRINK_CHECK(!path_.empty(), "ModelCheckpoint: empty path");
}

void ModelCheckpoint::onEpochEnd(TrainContext& ctx) {
  if (options_.saveBestOnly) {
    const double value = monitor_.read(ctx.epochLogs);
    if (!monitor_.improves(value)) return;
    monitor_.accept(value);
  }
  std::string path = path_;
  if (auto at = path.find("{epoch}"); at != std::string::npos)
    path.replace(at, 7, std::to_string(ctx.epoch + 1));
  SaveOptions save;
  save.optimizer = options_.saveOptimizer ? &ctx.optimizer : nullptr;
  save.info = {{"epoch", ctx.epoch + 1}, {"step", ctx.step}};
  for (const auto& [k, v] : ctx.epochLogs) save.info["logs"][k] = v;
  saveModel(ctx.model, path, save);
  saved_.push_back(path);
}

LearningRateScheduler::LearningRateScheduler(const LrSchedule& schedule, Per per) : schedule_(schedule), per_(per) {}

void LearningRateScheduler::onEpochBegin(TrainContext& ctx) {
  if (per_ == Per::Epoch) ctx.optimizer.setLr(schedule_.at(ctx.epoch));
}

void LearningRateScheduler::onBatchBegin(TrainContext& ctx) {
  if (per_ == Per::Step) ctx.optimizer.setLr(schedule_.at(ctx.step));
}

}  // namespace shrink
