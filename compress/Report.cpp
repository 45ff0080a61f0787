#include "compress/Report.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>
#include <map>
#include <set>
#include <utility>

#include <fmt/format.h>
#include <zlib.h>

#include "core/Check.h"
#include "core/Random.h"
#include "optim/ModelFile.h"

namespace shrink {

namespace {

struct Counts {
  int64_t total = 0;
  int64_t nonZero = 0;
  int64_t unique = 0;  ///< only with countValues(p, true)
};

Counts countValues(const Parameter& p, bool unique = false) {
  const Variable v = p.value();
  Counts c;
  c.total = v.numel();
  for (float x : v.value()) c.nonZero += x != 0.0f ? 1 : 0;
  if (unique) c.unique = distinctValues(v.value());
  return c;
}

double sparsityOf(int64_t total, int64_t nonZero) {
  return total == 0 ? 0.0 : 1.0 - static_cast<double>(nonZero) / static_cast<double>(total);
}

/// The root (as "") followed by every descendant, parents first.
std::vector<std::pair<std::string, Module*>> allModules(Module& model) {
  std::vector<std::pair<std::string, Module*>> out{{"", &model}};
  for (auto& entry : model.namedModules()) out.push_back(entry);
  return out;
}

void checkOptions(const ReportOptions& o) {
  SHRINK_CHECK(o.fileCompressionLevel >= 0 && o.fileCompressionLevel <= 9,
               "report: fileCompressionLevel must be in [0, 9], got {}", o.fileCompressionLevel);
  if (!o.latency) return;
  SHRINK_CHECK(o.inputShape.rank() >= 1, "report: latency needs the shape of one input example, got {}",
               o.inputShape.str());
  SHRINK_CHECK(!o.batchSizes.empty(), "report: latency needs at least one batch size");
  for (int64_t b : o.batchSizes) SHRINK_CHECK(b >= 1, "report: batch sizes must be >= 1, got {}", b);
  SHRINK_CHECK(o.warmup >= 0, "report: warmup must be >= 0, got {}", o.warmup);
  SHRINK_CHECK(o.repetitions >= 1, "report: repetitions must be >= 1, got {}", o.repetitions);
}

SizeReport measureSizes(const Module& model, int level) {
  const Archive archive = modelArchive(model);
  const std::vector<uint8_t> file = archive.toBytes(level);
  const std::vector<uint8_t> raw = archive.toBytes(0);
  SizeReport s;
  s.fileBytes = static_cast<int64_t>(file.size());
  s.fileGzipBytes = static_cast<int64_t>(gzipBytes(file, 9).size());
  s.uncompressedBytes = static_cast<int64_t>(raw.size());
  s.uncompressedGzipBytes = static_cast<int64_t>(gzipBytes(raw, 9).size());
  return s;
}

/// Puts a model in eval mode and restores every module's own flag (parents first, so mixed modes
/// come back as they were) when it goes out of scope.
class EvalModeScope {
 public:
  explicit EvalModeScope(Module& model) {
    model.visit([&](Module& m) { modes_.emplace_back(&m, m.isTraining()); });
    model.eval();
  }
  ~EvalModeScope() {
    for (auto& [m, on] : modes_) m->train(on);
  }
  EvalModeScope(const EvalModeScope&) = delete;
  EvalModeScope& operator=(const EvalModeScope&) = delete;

 private:
  std::vector<std::pair<Module*, bool>> modes_;
};

std::vector<LatencyReport> measureLatency(Module& model, const ReportOptions& o) {
  EvalModeScope evalMode(model);
  NoGradGuard noGrad;

  std::vector<LatencyReport> out;
  for (int64_t b : o.batchSizes) {
    std::vector<int64_t> dims{b};
    dims.insert(dims.end(), o.inputShape.dims().begin(), o.inputShape.dims().end());
    const Variable x(Generator(o.seed).uniformTensor(Shape(dims), -1.0f, 1.0f));
    for (int i = 0; i < o.warmup; ++i) model(x);
    const auto start = std::chrono::steady_clock::now();
    for (int i = 0; i < o.repetitions; ++i) model(x);
    const std::chrono::duration<double> elapsed = std::chrono::steady_clock::now() - start;
    LatencyReport r;
    r.batchSize = b;
    r.repetitions = o.repetitions;
    r.batchSeconds = elapsed.count() / o.repetitions;
    r.sampleSeconds = r.batchSeconds / static_cast<double>(b);
    out.push_back(r);
  }
  return out;
}

std::string humanBytes(int64_t n) {
  if (n < 1024) return fmt::format("{} B", n);
  if (n < 1024 * 1024) return fmt::format("{:.1f} KiB", n / 1024.0);
  return fmt::format("{:.2f} MiB", n / (1024.0 * 1024.0));
}

std::string humanSeconds(double s) {
  if (s < 1e-3) return fmt::format("{:.1f} us", s * 1e6);
  if (s < 1.0) return fmt::format("{:.3f} ms", s * 1e3);
  return fmt::format("{:.3f} s", s);
}

std::string ratioText(double r) { return std::isinf(r) ? "inf" : fmt::format("{:.2f}x", r); }

}  // namespace

std::vector<uint8_t> gzipBytes(const std::vector<uint8_t>& bytes, int level) {
  SHRINK_CHECK(level >= 0 && level <= 9, "gzipBytes: level must be in [0, 9], got {}", level);
  z_stream zs{};
  // windowBits 15 + 16 selects the gzip wrapper; memLevel 8 is gzip's own default.
  int rc = deflateInit2(&zs, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY);
  SHRINK_ASSERT(rc == Z_OK, "gzipBytes: deflateInit2 failed with code {}", rc);
  std::vector<uint8_t> out(deflateBound(&zs, static_cast<uLong>(bytes.size())) + 32);
  zs.next_in = const_cast<Bytef*>(bytes.data());
  zs.avail_in = static_cast<uInt>(bytes.size());
  zs.next_out = out.data();
  zs.avail_out = static_cast<uInt>(out.size());
  rc = deflate(&zs, Z_FINISH);
  const size_t written = zs.total_out;
  deflateEnd(&zs);
  SHRINK_ASSERT(rc == Z_STREAM_END, "gzipBytes: deflate did not finish (code {})", rc);
  out.resize(written);
  return out;
}

ModelReport report(Module& model, const ReportOptions& options) {
  checkOptions(options);
  ModelReport r;
  std::map<const Parameter*, std::string> paramNames;
  for (auto& [name, p] : model.namedParameters()) paramNames[p] = name;

  {
    NoGradGuard noGrad;
    std::set<const Parameter*> seen;
    for (auto& [name, m] : allModules(model)) {
      for (Parameter* p : m->compressibleWeights()) {
        if (!seen.insert(p).second) continue;
        const auto it = paramNames.find(p);
        SHRINK_ASSERT(it != paramNames.end(), "report: module '{}' ({}) reports a weight not registered in the model",
                      name, m->typeName());
        const Counts c = countValues(*p, true);
        r.weights.push_back({it->second, name, m->typeName(), p->shape(), c.total, c.nonZero,
                             sparsityOf(c.total, c.nonZero), c.unique});
        r.prunableParameters += c.total;
        r.prunableNonZero += c.nonZero;
      }
      const auto own = m->namedParameters(false);
      if (own.empty()) continue;
      Counts layer;
      for (auto& [pn, p] : own) {
        const Counts c = countValues(*p);
        layer.total += c.total;
        layer.nonZero += c.nonZero;
      }
      r.layers.push_back({name, m->typeName(), layer.total, layer.nonZero, sparsityOf(layer.total, layer.nonZero)});
      r.totalParameters += layer.total;
      r.nonZeroParameters += layer.nonZero;
    }
  }
  r.sparsity = sparsityOf(r.totalParameters, r.nonZeroParameters);
  r.compressionRatio = r.nonZeroParameters == 0 ? std::numeric_limits<double>::infinity()
                                                : static_cast<double>(r.totalParameters) / r.nonZeroParameters;
  r.prunableSparsity = sparsityOf(r.prunableParameters, r.prunableNonZero);
  for (auto& [name, b] : model.namedBuffers()) r.bufferElements += b->numel();

  if (options.sizes) {
    r.hasSizes = true;
    r.sizes = measureSizes(model, options.fileCompressionLevel);
  }
  if (options.latency) r.latency = measureLatency(model, options);
  return r;
}

std::string formatReport(const ModelReport& r) {
  std::string out;
  size_t w = 24;
  for (const auto& x : r.weights) w = std::max(w, x.name.size() + 2);
  for (const auto& x : r.layers) w = std::max(w, x.name.size() + x.type.size() + 5);

  out += fmt::format("{:<{}}{:<20}{:>12}{:>12}{:>10}{:>10}\n", "Prunable weight", w, "Shape", "Params", "Non-zero",
                     "Sparsity", "Unique");
  out += std::string(w + 64, '-') + "\n";
  for (const auto& x : r.weights)
    out += fmt::format("{:<{}}{:<20}{:>12}{:>12}{:>9.2f}%{:>10}\n", x.name, w, x.shape.str(), x.parameters, x.nonZero,
                       100 * x.sparsity, x.uniqueValues);
  out += fmt::format("{:<{}}{:<20}{:>12}{:>12}{:>9.2f}%\n\n", "all prunable", w, "", r.prunableParameters,
                     r.prunableNonZero, 100 * r.prunableSparsity);

  out += fmt::format("{:<{}}{:<20}{:>12}{:>12}{:>10}\n", "Layer (type)", w, "", "Params", "Non-zero", "Sparsity");
  out += std::string(w + 54, '-') + "\n";
  for (const auto& x : r.layers) {
    const std::string label = fmt::format("{} ({})", x.name.empty() ? "<root>" : x.name, x.type);
    out += fmt::format("{:<{}}{:<20}{:>12}{:>12}{:>9.2f}%\n", label, w, "", x.parameters, x.nonZero,
                       100 * x.sparsity);
  }
  out += fmt::format("{:<{}}{:<20}{:>12}{:>12}{:>9.2f}%\n\n", "all parameters", w, "", r.totalParameters,
                     r.nonZeroParameters, 100 * r.sparsity);

  out += fmt::format("Compression ratio (params / non-zero): {}\n", ratioText(r.compressionRatio));
  out += fmt::format("Buffer elements (saved, not counted):   {}\n", r.bufferElements);
  if (r.hasSizes) {
    const SizeReport& s = r.sizes;
    out += fmt::format("Model file:                 {:>12} ({})\n", s.fileBytes, humanBytes(s.fileBytes));
    out += fmt::format("Model file, gzip -9:        {:>12} ({})\n", s.fileGzipBytes, humanBytes(s.fileGzipBytes));
    out += fmt::format("Uncompressed archive:       {:>12} ({})\n", s.uncompressedBytes,
                       humanBytes(s.uncompressedBytes));
    out += fmt::format("Uncompressed archive, gzip: {:>12} ({})\n", s.uncompressedGzipBytes,
                       humanBytes(s.uncompressedGzipBytes));
  }
  for (const auto& l : r.latency)
    out += fmt::format("Latency, batch {:>5}: {} per sample ({} per batch, mean of {})\n", l.batchSize,
                       humanSeconds(l.sampleSeconds), humanSeconds(l.batchSeconds), l.repetitions);
  return out;
}

nlohmann::json toJson(const ModelReport& r) {
  nlohmann::json j;
  j["weights"] = nlohmann::json::array();
  for (const auto& x : r.weights)
    j["weights"].push_back({{"name", x.name}, {"layer", x.layer}, {"type", x.type}, {"shape", x.shape.dims()},
                            {"parameters", x.parameters}, {"non_zero", x.nonZero}, {"sparsity", x.sparsity},
                            {"unique_values", x.uniqueValues}});
  j["layers"] = nlohmann::json::array();
  for (const auto& x : r.layers)
    j["layers"].push_back({{"name", x.name}, {"type", x.type}, {"parameters", x.parameters},
                           {"non_zero", x.nonZero}, {"sparsity", x.sparsity}});
  j["total"] = {{"parameters", r.totalParameters},
                {"non_zero", r.nonZeroParameters},
                {"sparsity", r.sparsity},
                {"compression_ratio", std::isinf(r.compressionRatio) ? nlohmann::json(nullptr)
                                                                     : nlohmann::json(r.compressionRatio)},
                {"prunable_parameters", r.prunableParameters},
                {"prunable_non_zero", r.prunableNonZero},
                {"prunable_sparsity", r.prunableSparsity},
                {"buffer_elements", r.bufferElements}};
  if (r.hasSizes)
    j["sizes"] = {{"file_bytes", r.sizes.fileBytes},
                  {"file_gzip_bytes", r.sizes.fileGzipBytes},
                  {"uncompressed_bytes", r.sizes.uncompressedBytes},
                  {"uncompressed_gzip_bytes", r.sizes.uncompressedGzipBytes}};
  if (!r.latency.empty()) {
    j["latency"] = nlohmann::json::array();
    for (const auto& l : r.latency)
      j["latency"].push_back({{"batch_size", l.batchSize},
                              {"repetitions", l.repetitions},
                              {"batch_seconds", l.batchSeconds},
                              {"sample_seconds", l.sampleSeconds}});
  }
  return j;
}

int64_t distinctValues(const Tensor& t) {
  std::vector<float> sorted(t.begin(), t.end());
  std::sort(sorted.begin(), sorted.end());
  return std::unique(sorted.begin(), sorted.end()) - sorted.begin();
}

double quantile(std::vector<double> values, double q) {
  SHRINK_CHECK(!values.empty(), "quantile: no values");
  SHRINK_CHECK(q >= 0 && q <= 1, "quantile: q must be in [0, 1], got {}", q);
  const auto k = static_cast<size_t>(q * static_cast<double>(values.size() - 1) + 0.5);
  std::nth_element(values.begin(), values.begin() + static_cast<std::ptrdiff_t>(k), values.end());
  return values[k];
}

LatencyComparison compareLatency(Module& a, Module& b, const Tensor& input, int rounds, int callsPerRound,
                                 int warmup) {
  SHRINK_CHECK(rounds >= 1, "compareLatency: rounds must be >= 1, got {}", rounds);
  SHRINK_CHECK(callsPerRound >= 1, "compareLatency: callsPerRound must be >= 1, got {}", callsPerRound);
  SHRINK_CHECK(warmup >= 0, "compareLatency: warmup must be >= 0, got {}", warmup);
  EvalModeScope evalA(a), evalB(b);
  NoGradGuard noGrad;
  const Variable x(input);
  auto timed = [&x](Module& m) {
    const auto start = std::chrono::steady_clock::now();
    m(x);
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  };
  for (int i = 0; i < warmup; ++i) timed(a), timed(b);
  LatencyComparison c;
  for (int r = 0; r < rounds; ++r)
    for (int half = 0; half < 2; ++half) {
      const bool firstTurn = (half == 0) == (r % 2 == 0);
      for (int i = 0; i < callsPerRound; ++i) (firstTurn ? c.first : c.second).push_back(timed(firstTurn ? a : b));
    }
  c.firstMedian = quantile(c.first, 0.5);
  c.secondMedian = quantile(c.second, 0.5);
  c.speedup = c.firstMedian / c.secondMedian;
  return c;
}

}  // namespace shrink
