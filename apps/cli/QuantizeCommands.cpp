// shrink quantize
#include <chrono>
#include <fstream>
#include <memory>
#include <optional>

#include <fmt/format.h>

#include "apps/cli/Common.h"
#include "compress/Calibrate.h"
#include "compress/compress.h"
#include "core/Threads.h"
#include "optim/optim.h"

namespace shrink::cli {

namespace {

struct QuantizeArgs {
  std::string model;
  DataArgs data;
  std::string mode = "ptq-int8";
  int bits = 8;
  std::optional<int> weightBits;
  std::optional<int> activationBits;
  bool perChannel = false;
  int64_t calibrationBatches = 32;
  int64_t calibrationBatchSize = 32;
  std::string calibrationMethod = "minmax";
  double percentile = 99.99;
  int epochs = 1;
  double lr = 1e-4;
  int64_t batchSize = 32;
  int floatEpochs = 5;
  double floatLr = 1e-3;
  uint64_t seed = 42;
  int threads = 0;
  std::string out;
  std::string json;
};

/// The quantization scheme the flags describe; bad bit widths throw naming the flag.
QuantizeScheme schemeOf(const QuantizeArgs& a) {
  checkQuantBits(a.bits, "--bits");
  QuantizeScheme scheme;
  scheme.defaults.weightBits = a.weightBits.value_or(a.bits);
  scheme.defaults.activationBits = a.activationBits.value_or(a.bits);
  checkQuantBits(scheme.defaults.weightBits, "--weight-bits");
  checkQuantBits(scheme.defaults.activationBits, "--activation-bits");
  if (a.perChannel) scheme.defaults.perAxis = true;
  return scheme;
}

std::string accuracyText(const Logs& l, const LoadedData& d) {
  return d.objective.isClassification() ? fmt::format("{:.2f}%", 100 * l.at("accuracy"))
                                        : fmt::format("{:.4f}", l.at("mse"));
}

void runQuantize(const QuantizeArgs& a) {
  if (a.threads > 0) setNumThreads(a.threads);
  const QuantizeScheme scheme = schemeOf(a);
  const bool qat = a.mode == "qat", int8 = a.mode == "ptq-int8", dynamic = a.mode == "ptq-dynamic";
  PtqOptions ptq;
  ptq.mode = int8 ? PtqMode::FullInt8 : PtqMode::DynamicRange;
  ptq.scheme = scheme;
  ptq.calibration = {.method = parseCalibrationMethod(a.calibrationMethod), .percentile = a.percentile,
                     .batches = a.calibrationBatches, .batchSize = a.calibrationBatchSize, .seed = a.seed};
  if (a.calibrationBatches < 1)
    throw std::invalid_argument(fmt::format("--calibration-batches must be >= 1, got {}", a.calibrationBatches));
  if (a.calibrationBatchSize < 1)
    throw std::invalid_argument(fmt::format("--calibration-batch-size must be >= 1, got {}", a.calibrationBatchSize));
  if (!(a.percentile > 0 && a.percentile <= 100))
    throw std::invalid_argument(fmt::format("--percentile must be in (0, 100], got {}", a.percentile));

  LoadedData d = loadData(a.data);
  if (!dynamic && d.train.size() == 0)
    throw std::invalid_argument(fmt::format(
        "the calibration set (the training split of {}) is empty: {} needs calibration data", d.description, a.mode));
  LoadedModel m = loadOrBuild(a.model, a.seed);
  Sequential& model = asSequential(*m.model, a.model, "quantization");
  if (!quantizeWrappers(model).empty() || !modulesOfType<ActivationQuantizer>(model).empty())
    throw std::invalid_argument(fmt::format("{} is already quantized; give the float model", a.model));
  const bool fromFile = isModelFile(a.model);
  const FitOptions fitOptions{.batchSize = a.batchSize, .seed = a.seed, .verbose = a.json == "-" ? 0 : 1};
  if (!fromFile) {
    Adam adam(model.trainableParameters(), {.lr = static_cast<float>(a.floatLr)});
    FitOptions o = fitOptions;
    o.epochs = a.floatEpochs;
    fit(model, adam, d.objective, d.train, o);
  }
  const Logs before = evaluate(model, d.objective, d.test, 1000);
  const ReportOptions reportOptions{.inputShape = d.train.exampleShape()};
  const ModelReport reportBefore = report(model, reportOptions);
  const int64_t floatBytes = quantizedModelBytes(model);

  const auto t0 = std::chrono::steady_clock::now();
  int wrapped = 0;
  if (qat) {
    wrapped = quantizeModel(model, scheme);
    calibrate(model, d.train, ptq.calibration);  // the ranges start from the data, not from [-6, 6]
    Adam adam(model.trainableParameters(), {.lr = static_cast<float>(a.lr)});
    FitOptions o = fitOptions;
    o.epochs = a.epochs;
    fit(model, adam, d.objective, d.train, o);
  } else {
    wrapped = postTrainingQuantize(model, d.train, ptq);
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const Logs after = evaluate(model, d.objective, d.test, 1000);
  const ModelReport reportAfter = report(*stripQuantization(model), reportOptions);
  const int64_t quantizedBytes = quantizedModelBytes(model);
  const double bitsPerParameter = 8.0 * double(quantizedBytes) / double(reportBefore.totalParameters);

  const char* metric = d.objective.isClassification() ? "accuracy" : "mse";
  nlohmann::json j{{"model", a.model},
                   {"dataset", a.data.dataset},
                   {"mode", a.mode},
                   {"weight_bits", scheme.defaults.weightBits},
                   {"activation_bits", scheme.defaults.activationBits},
                   {"per_channel", a.perChannel},
                   {"layers_quantized", wrapped},
                   {"float_trained_epochs", fromFile ? 0 : a.floatEpochs},
                   {"seconds", seconds},
                   {std::string("float_test_") + metric, before.at(metric)},
                   {std::string("quantized_test_") + metric, after.at(metric)},
                   {"float_test_loss", before.at("loss")},
                   {"quantized_test_loss", after.at("loss")},
                   {"float_parameter_bytes", floatBytes},
                   {"quantized_parameter_bytes", quantizedBytes},
                   {"bits_per_parameter", bitsPerParameter},
                   {"calibrated", isCalibrated(model)},
                   {"before", toJson(reportBefore)},
                   {"after", toJson(reportAfter)}};
  if (!dynamic)
    j["calibration"] = {{"method", a.calibrationMethod}, {"batches", a.calibrationBatches},
                        {"batch_size", a.calibrationBatchSize}, {"percentile", a.percentile}};
  if (qat) j["qat"] = {{"epochs", a.epochs}, {"lr", a.lr}, {"batch_size", a.batchSize}};

  if (!a.out.empty()) {
    SaveOptions so;
    so.info = {{"model", a.model}, {"dataset", a.data.dataset}, {"quantization", a.mode},
               {"input_shape", d.train.exampleShape().dims()}};
    saveModel(model, a.out, so);
    j["out"] = a.out;
  }
  if (a.json == "-") {
    fmt::print("{}\n", j.dump());
    return;
  }
  if (!a.json.empty()) {
    std::ofstream file(a.json);
    if (!(file << j.dump(2) << '\n')) throw std::runtime_error(fmt::format("cannot write {}", a.json));
  }
  const std::string mode = qat ? fmt::format("qat, {} calibration, then {} epochs at lr {}", a.calibrationMethod,
                                             a.epochs, a.lr)
                           : int8 ? fmt::format("ptq-int8, {} calibration ({} batches of {})", a.calibrationMethod,
                                                a.calibrationBatches, a.calibrationBatchSize)
                                  : std::string("ptq-dynamic (weights int, activations per example)");
  Table rows{{"model", fromFile ? a.model : fmt::format("{} (trained in float for {} epochs)", a.model, a.floatEpochs)},
             {"dataset", d.description},
             {"mode", mode},
             {"bits (weights / activations)",
              fmt::format("{} / {}{}", scheme.defaults.weightBits, scheme.defaults.activationBits,
                          a.perChannel ? ", per channel" : "")},
             {"layers quantized", fmt::format("{}", wrapped)},
             {"quantization seconds", fmt::format("{:.2f}", seconds)},
             {fmt::format("float test {}", metric), accuracyText(before, d)},
             {fmt::format("quantized test {}", metric), accuracyText(after, d)},
             {"parameters", fmt::format("{}", reportBefore.totalParameters)},
             {"parameter bytes float -> quantized", fmt::format("{} -> {}", floatBytes, quantizedBytes)},
             {"bits per parameter", fmt::format("32 -> {:.2f}", bitsPerParameter)}};
  if (reportAfter.hasSizes)
    rows.emplace_back("gzip of float archive -> quantized values",
                      fmt::format("{} -> {} bytes", reportBefore.sizes.uncompressedGzipBytes,
                                  reportAfter.sizes.uncompressedGzipBytes));
  if (!a.out.empty()) rows.emplace_back("saved (with ranges) to", a.out);
  if (!a.json.empty()) rows.emplace_back("JSON written to", a.json);
  printTable("quantization", rows);
}

}  // namespace

void registerQuantizeCommands(CLI::App& app) {
  auto qa = std::make_shared<QuantizeArgs>();
  CLI::App* q = app.add_subcommand(
      "quantize",
      "Quantize a float model: post-training (ptq-int8: calibrated int8 weights and activations; ptq-dynamic: int8 "
      "weights, activations quantized per example on the fly) or quantization-aware fine-tuning (qat); report float "
      "and quantized accuracy and sizes. MODEL is a model file saved by `shrink train --out`; a preset name or .json "
      "architecture is first trained in float for --float-epochs. Calibration uses the training split; qat "
      "calibrates the activation ranges too before fine-tuning (tfmot's would start from [-6, 6]).");
  q->add_option("model", qa->model, "Trained float model file, or a preset / .json architecture to train first")
      ->required();
  addDataOptions(*q, qa->data);
  q->add_option("--mode", qa->mode, "ptq-int8 | ptq-dynamic | qat")
      ->check(CLI::IsMember({"ptq-int8", "ptq-dynamic", "qat"}))
      ->capture_default_str();
  q->add_option("--bits", qa->bits, "Bits of weights and activations, 2..8")->capture_default_str();
  q->add_option("--weight-bits", qa->weightBits, "Bits of the weights, 2..8 (default: --bits)");
  q->add_option("--activation-bits", qa->activationBits, "Bits of the activations, 2..8 (default: --bits)");
  q->add_flag("--per-channel", qa->perChannel,
              "One weight range per output channel for every layer (default: per channel for Conv2D only)");
  q->add_option("--calibration-batches", qa->calibrationBatches, "ptq-int8, qat: calibration batches (>= 1)")
      ->capture_default_str();
  q->add_option("--calibration-batch-size", qa->calibrationBatchSize, "ptq-int8, qat: calibration batch size (>= 1)")
      ->capture_default_str();
  q->add_option("--calibration-method", qa->calibrationMethod, "ptq-int8, qat: minmax | percentile | mse")
      ->check(CLI::IsMember({"minmax", "percentile", "mse"}))
      ->capture_default_str();
  q->add_option("--percentile", qa->percentile, "Percentile calibration: the upper percentile, in (0, 100]")
      ->capture_default_str();
  q->add_option("--epochs", qa->epochs, "qat: epochs of quantization-aware fine-tuning")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  q->add_option("--lr", qa->lr, "qat: Adam learning rate of the fine-tuning")->check(CLI::PositiveNumber)->capture_default_str();
  q->add_option("--batch-size", qa->batchSize, "Batch size of training")->check(CLI::PositiveNumber)->capture_default_str();
  q->add_option("--float-epochs", qa->floatEpochs, "Preset / .json only: epochs of float training first")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  q->add_option("--float-lr", qa->floatLr, "Preset / .json only: Adam learning rate of the float training")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  q->add_option("--seed", qa->seed, "Seed of initialisation, shuffling, calibration order and data")->capture_default_str();
  q->add_option("--threads", qa->threads, "Threads (0: default)")->check(CLI::NonNegativeNumber);
  q->add_option("--out", qa->out, "Save the quantized model (wrappers, weight and activation ranges) to FILE");
  q->add_option("--json", qa->json, "Write the results as JSON to FILE ('-': print them instead of the table)");
  q->callback([qa] {
    qa->data.seed = qa->seed;
    runQuantize(*qa);
  });
}

}  // namespace shrink::cli
