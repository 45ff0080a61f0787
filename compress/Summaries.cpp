#include "compress/Summaries.h"

#include <algorithm>
#include <filesystem>
#include <stdexcept>

#include <fmt/format.h>

#include "compress/EventWriter.h"
#include "compress/PruneLowMagnitude.h"
#include "compress/PruningCallbacks.h"
#include "compress/Quantize.h"
#include "compress/QuantizeWrapper.h"
#include "compress/ScalarLog.h"
#include "compress/Wrapping.h"

namespace shrink {

CompressionSummaries::CompressionSummaries(const std::string& logDir, Options options) : options_(options) {
  if (options_.rangePeriod < 1)
    throw std::invalid_argument(
        fmt::format("CompressionSummaries: rangePeriod must be >= 1, got {}", options_.rangePeriod));
  std::error_code ec;
  std::filesystem::create_directories(logDir, ec);
  if (ec || !std::filesystem::is_directory(logDir))
    throw std::runtime_error(fmt::format("CompressionSummaries: cannot create the log directory '{}': {}", logDir,
                                         ec ? ec.message() : "not a directory"));
  const std::filesystem::path dir(logDir);
  events_ = std::make_unique<EventWriter>((dir / "metrics").string());
  pruningCsv_ = std::make_unique<ScalarCsvLog>((dir / "pruning.csv").string());
  quantizationCsv_ = std::make_unique<ScalarCsvLog>((dir / "quantization.csv").string());
}

CompressionSummaries::~CompressionSummaries() = default;

void CompressionSummaries::add(ScalarLogger& csv, const std::string& tag, double value, int64_t step) {
  events_->addScalar(tag, value, step);
  csv.addScalar(tag, value, step);
}

void CompressionSummaries::flush() {
  events_->flush();
  pruningCsv_->flush();
  quantizationCsv_->flush();
}

void CompressionSummaries::logPruning(const std::string& layer, const PruneLowMagnitude& wrapper) {
  for (const PrunedWeight& p : wrapper.prunedWeights()) {
    const double sparsity = static_cast<double>(maskedZeros(p)) / static_cast<double>(p.mask->numel());
    const std::string tag = fmt::format("{}/{}", layer.empty() ? "model" : layer, p.name);
    add(*pruningCsv_, tag + "/sparsity", sparsity, wrapper.step());
    add(*pruningCsv_, tag + "/threshold", (*p.threshold)[0], wrapper.step());
  }
}

void CompressionSummaries::logRanges(int64_t step) {
  if (step == lastRangeStep_) return;
  lastRangeStep_ = step;
  for (const auto& [layer, wrapper] : quantize_) {
    const QuantizeOptions& o = wrapper->options();
    const FakeQuantOptions grid{.bits = o.weightBits, .narrowRange = o.symmetricWeights, .rounding = o.rounding};
    for (const QuantizedWeight& w : wrapper->quantizedWeights()) {
      const std::string tag = fmt::format("{}/{}", layer.empty() ? "model" : layer, w.name);
      float lo = (*w.min)[0], hi = (*w.max)[0];
      float scaleMin = 0, scaleMax = 0;
      for (int64_t c = 0; c < w.min->numel(); ++c) {
        lo = std::min(lo, (*w.min)[c]);
        hi = std::max(hi, (*w.max)[c]);
        const float scale = nudgedGrid((*w.min)[c], (*w.max)[c], grid).scale;
        scaleMin = c == 0 ? scale : std::min(scaleMin, scale);
        scaleMax = c == 0 ? scale : std::max(scaleMax, scale);
      }
      add(*quantizationCsv_, tag + "/min", lo, step);
      add(*quantizationCsv_, tag + "/max", hi, step);
      if (w.min->numel() == 1) {
        add(*quantizationCsv_, tag + "/scale", scaleMin, step);
      } else {
        add(*quantizationCsv_, tag + "/scale_min", scaleMin, step);
        add(*quantizationCsv_, tag + "/scale_max", scaleMax, step);
      }
    }
  }
  for (const auto& [name, quantizer] : activations_) {
    const std::string tag = name.empty() ? "model" : name;
    const float lo = std::min(quantizer->min(), 0.0f), hi = std::max(quantizer->max(), 0.0f);
    add(*quantizationCsv_, tag + "/min", lo, step);
    add(*quantizationCsv_, tag + "/max", hi, step);
    add(*quantizationCsv_, tag + "/scale", nudgedGrid(lo, hi, {.bits = quantizer->options().bits}).scale, step);
  }
}

void CompressionSummaries::onTrainBegin(TrainContext& context) {
  prune_ = pruneWrappers(context.model);
  quantize_ = quantizeWrappers(context.model);
  activations_ = modulesOfType<ActivationQuantizer>(context.model);
  seenVersions_.clear();
  for (const auto& [name, w] : prune_) {
    seenVersions_.push_back(w->maskVersion());
    logPruning(name, *w);
  }
  lastRangeStep_ = -1;
  logRanges(context.step);
  flush();
}

void CompressionSummaries::onBatchEnd(TrainContext& context) {
  bool wrote = false;
  for (size_t i = 0; i < prune_.size(); ++i) {
    if (prune_[i].second->maskVersion() == seenVersions_[i]) continue;
    seenVersions_[i] = prune_[i].second->maskVersion();
    logPruning(prune_[i].first, *prune_[i].second);
    wrote = true;
  }
  if (context.step % options_.rangePeriod == 0 && !(quantize_.empty() && activations_.empty())) {
    logRanges(context.step);
    wrote = true;
  }
  if (wrote) flush();
}

void CompressionSummaries::onTrainEnd(TrainContext& context) {
  if (!(quantize_.empty() && activations_.empty())) logRanges(context.step);
  flush();
}

}  // namespace shrink
