#include "optim/ProgressBar.h"

#include <string>

#include <fmt/format.h>
#include <unistd.h>

namespace shrink {

namespace {

std::string formatLogs(const Logs& logs) {
  std::string s;
  // Keras order: loss first, then the metrics, then val_ entries; lr last.
  auto emit = [&](const std::string& key, double v) { s += fmt::format(" - {}: {:.4f}", key, v); };
  if (auto it = logs.find("loss"); it != logs.end()) emit("loss", it->second);
  for (const auto& [k, v] : logs)
    if (k != "loss" && k != "lr" && k.rfind("val_", 0) != 0) emit(k, v);
  for (const auto& [k, v] : logs)
    if (k.rfind("val_", 0) == 0) emit(k, v);
  return s;
}

std::string formatDuration(double seconds) {
  if (seconds >= 3600) return fmt::format("{}:{:02}:{:02}", int(seconds) / 3600, int(seconds) / 60 % 60, int(seconds) % 60);
  if (seconds >= 60) return fmt::format("{}:{:02}", int(seconds) / 60, int(seconds) % 60);
  return fmt::format("{}s", int(seconds));
}

}  // namespace

ProgressBar::ProgressBar(int verbose, std::FILE* out)
    : verbose_(verbose), out_(out), terminal_(::isatty(::fileno(out)) != 0) {}

void ProgressBar::onTrainBegin(TrainContext&) {}

void ProgressBar::onEpochBegin(TrainContext& ctx) {
  if (verbose_ <= 0) return;
  epochStart_ = lastDraw_ = Clock::now();
  if (terminal_) fmt::print(out_, "Epoch {}/{}\n", ctx.epoch + 1, ctx.epochs);
}

void ProgressBar::onBatchEnd(TrainContext& ctx) {
  if (verbose_ <= 0 || !terminal_) return;
  const auto now = Clock::now();
  if (now - lastDraw_ < std::chrono::milliseconds(100) && ctx.batch + 1 < ctx.batchesPerEpoch) return;
  lastDraw_ = now;
  draw(ctx, false);
}

void ProgressBar::draw(const TrainContext& ctx, bool final) {
  const double elapsed = std::chrono::duration<double>(Clock::now() - epochStart_).count();
  const int64_t done = final ? ctx.batchesPerEpoch : ctx.batch + 1;
  const int64_t total = ctx.batchesPerEpoch;
  constexpr int kWidth = 30;
  const int filled = total > 0 ? int(kWidth * done / total) : kWidth;
  std::string bar(static_cast<size_t>(filled), '=');
  if (filled < kWidth) bar += '>';
  bar.resize(kWidth, '.');
  const double perStep = done > 0 ? elapsed / double(done) : 0;
  const std::string timing = final ? fmt::format("{} {:.0f}ms/step", formatDuration(elapsed), perStep * 1000)
                                   : fmt::format("ETA: {}", formatDuration(perStep * double(total - done)));
  fmt::print(out_, "\r{}/{} [{}] - {}{}\033[K", done, total, bar, timing,
             formatLogs(final ? ctx.epochLogs : ctx.batchLogs));
  if (final) fmt::print(out_, "\n");
  std::fflush(out_);
}

void ProgressBar::onEpochEnd(TrainContext& ctx) {
  if (verbose_ <= 0) return;
  if (terminal_) {
    draw(ctx, true);
    return;
  }
  const double elapsed = std::chrono::duration<double>(Clock::now() - epochStart_).count();
  fmt::print(out_, "Epoch {}/{} - {:.1f}s{}\n", ctx.epoch + 1, ctx.epochs, elapsed, formatLogs(ctx.epochLogs));
  std::fflush(out_);
}

}  // namespace shrink
