// Integer inference of LeNet-300-100 on MNIST: train in float, fine-tune with 8-bit fake
// quantization (tfmot's default scheme: per-tensor symmetric int8 weights, asymmetric uint8
// activations, the input quantized too), convert to an int8 model that runs in integer arithmetic,
// and compare the three on the test set:
//   - accuracy of the float, the fake-quant (quantization-aware) and the int8 model;
//   - agreement of the predicted class, int8 vs fake-quant (target >= 99.8%);
//   - file bytes of the saved float model vs the saved int8 model (target ratio <= 0.27);
//   - batch-1 latency, float forward vs int8 predict (median over single test images, the two timed
//     in alternating rounds).
//
// Usage: int8_lenet300 --data-dir MNIST_DIR [--epochs 3] [--qat-epochs 1] [--latency-runs 2000]
//                      [--qat-out FILE] [--int8-out FILE] [--seed N] [--threads N] [--json FILE]
#include <algorithm>
#include <chrono>
#include <functional>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "apps/models/Models.h"
#include "apps/repro/Repro.h"
#include "compress/Int8.h"
#include "compress/compress.h"
#include "optim/optim.h"

using namespace shrink;

namespace {

constexpr int64_t kBatchSize = 128;

struct Args {
  repro::CommonOptions common;
  int epochs = 3;
  int qatEpochs = 1;
  int latencyRuns = 2000;
  std::string qatOut;   ///< save the quantization-aware model there when not empty
  std::string int8Out;  ///< save the int8 model there when not empty
};

double accuracyOf(const std::vector<int64_t>& predicted, const Tensor& labels) {
  int64_t correct = 0;
  for (size_t i = 0; i < predicted.size(); ++i) correct += predicted[i] == static_cast<int64_t>(labels[i]);
  return static_cast<double>(correct) / static_cast<double>(predicted.size());
}

/// Median seconds of single-image runs of two models, timed in alternating rounds (so that load on a
/// shared machine affects both alike): `runs` calls of each, i cycling over the first 1000 images.
std::pair<double, double> medianSeconds(int runs, const std::function<void(int64_t)>& first,
                                        const std::function<void(int64_t)>& second) {
  constexpr int kRounds = 10;
  std::vector<double> times[2];
  for (int round = 0; round < kRounds; ++round)
    for (int which = 0; which < 2; ++which)
      for (int r = round * runs / kRounds; r < (round + 1) * runs / kRounds; ++r) {
        const auto t0 = std::chrono::steady_clock::now();
        (which == 0 ? first : second)(r % 1000);
        times[which].push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
      }
  auto median = [](std::vector<double>& t) {
    std::nth_element(t.begin(), t.begin() + t.size() / 2, t.end());
    return t[t.size() / 2];
  };
  return {median(times[0]), median(times[1])};
}

/// Test image i as a batch of one, [1, 1, 28, 28].
Tensor image(const data::TensorDataset& test, int64_t i) {
  const int64_t size = 28 * 28;
  return Tensor(Shape{1, 1, 28, 28}, std::vector<float>(test.inputs().data() + i * size,
                                                          test.inputs().data() + (i + 1) * size));
}

void reproduce(const Args& a) {
  const data::TensorDataset train = repro::loadMnistSplit(a.common, true);
  const data::TensorDataset test = repro::loadMnistSplit(a.common, false);
  const Objective objective = Objective::classification();

  fmt::print("float training, {} epochs ...\n", a.epochs);
  std::unique_ptr<Sequential> model = models::build("lenet300", a.common.seed);
  Adam adam(model->trainableParameters());
  fit(*model, adam, objective, train, {.epochs = a.epochs, .batchSize = kBatchSize, .seed = a.common.seed});
  const double floatAccuracy = accuracyOf(argmaxRows(predict(*model, test)), test.targets());
  const int64_t floatBytes = static_cast<int64_t>(modelArchive(*model).toBytes().size());
  std::vector<Tensor> images;
  for (int64_t i = 0; i < 1000; ++i) images.push_back(image(test, i));
  std::unique_ptr<Module> floatModel = cloneModel(*model);
  floatModel->eval();

  fmt::print("quantization-aware fine-tuning, {} epoch(s) ...\n", a.qatEpochs);
  quantizeModel(*model);
  Adam fineTune(model->trainableParameters(), {.lr = 1e-4f});
  fit(*model, fineTune, objective, train, {.epochs = a.qatEpochs, .batchSize = kBatchSize, .seed = a.common.seed});
  const std::vector<int64_t> fakeQuant = argmaxRows(predict(*model, test));
  const double qatAccuracy = accuracyOf(fakeQuant, test.targets());

  const Int8Model int8 = convertToInt8(*model);
  if (!a.qatOut.empty()) saveModel(*model, a.qatOut);
  if (!a.int8Out.empty()) int8.save(a.int8Out);
  const std::vector<int64_t> integer = argmaxRows(int8.predict(test.inputs()));
  const double int8Accuracy = accuracyOf(integer, test.targets());
  int64_t same = 0;
  for (size_t i = 0; i < integer.size(); ++i) same += integer[i] == fakeQuant[i];
  const double agreement = static_cast<double>(same) / static_cast<double>(integer.size());
  const int64_t int8Bytes = int8.fileBytes();
  const auto [floatLatency, int8Latency] = medianSeconds(
      a.latencyRuns,
      [&](int64_t i) {
        NoGradGuard noGrad;
        floatModel->forward(Variable(images[i]));
      },
      [&](int64_t i) { int8.predict(images[i], 1); });

  const double ratio = static_cast<double>(int8Bytes) / static_cast<double>(floatBytes);
  repro::printComparison(
      fmt::format("lenet300 on MNIST: {} float epochs, {} QAT epoch(s), batch {}", a.epochs, a.qatEpochs, kBatchSize),
      {{"float test accuracy", repro::percent(floatAccuracy), ""},
       {"fake-quant (QAT) test accuracy", repro::percent(qatAccuracy), ""},
       {"int8 (integer arithmetic) test accuracy", repro::percent(int8Accuracy), ""},
       {"predicted class, int8 = fake-quant", fmt::format("{:.2f}% ({} of {})", 100 * agreement, same, integer.size()),
        ">= 99.8% (target)"},
       {"file bytes, float -> int8", fmt::format("{} -> {} (ratio {:.4f})", floatBytes, int8Bytes, ratio),
        "<= 0.27 (target)"},
       {"batch-1 latency (median), float -> int8",
        fmt::format("{:.1f} -> {:.1f} us ({:.2f}x)", 1e6 * floatLatency, 1e6 * int8Latency, floatLatency / int8Latency),
        ""}});

  if (a.common.jsonPath.empty()) return;
  repro::writeJson(a.common.jsonPath, {{"program", "int8_lenet300"},
                                       {"seed", a.common.seed},
                                       {"epochs", a.epochs},
                                       {"qat_epochs", a.qatEpochs},
                                       {"batch_size", kBatchSize},
                                       {"float_test_accuracy", floatAccuracy},
                                       {"qat_test_accuracy", qatAccuracy},
                                       {"int8_test_accuracy", int8Accuracy},
                                       {"int8_fake_quant_agreement", agreement},
                                       {"float_file_bytes", floatBytes},
                                       {"int8_file_bytes", int8Bytes},
                                       {"file_bytes_ratio", ratio},
                                       {"float_latency_seconds", floatLatency},
                                       {"int8_latency_seconds", int8Latency},
                                       {"latency_runs", a.latencyRuns}});
  fmt::print("results written to {}\n", a.common.jsonPath);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"LeNet-300-100 on MNIST: float, quantization-aware and int8 integer inference", "int8_lenet300"};
  Args args;
  repro::addCommonOptions(app, args.common, "Directory of the MNIST IDX files (default: $SHRINK_MNIST_DIR)");
  app.add_option("--epochs", args.epochs, "Float training epochs")->check(CLI::PositiveNumber)->capture_default_str();
  app.add_option("--qat-epochs", args.qatEpochs, "Quantization-aware fine-tuning epochs")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_option("--latency-runs", args.latencyRuns, "Single-image runs timed per model")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_option("--qat-out", args.qatOut, "Save the quantization-aware model to FILE (shrink evaluate FILE --int8)");
  app.add_option("--int8-out", args.int8Out, "Save the int8 model to FILE");
  return repro::run(app, argc, argv, args.common, [&] { reproduce(args); });
}
