// Structured pruning with physical removal on seed-cnn: train, prune 50% of the filters of each
// Conv2D (by the L1 norm of each filter, Li et al. 2017) and 50% of the hidden Dense units (by the
// L2 norm of each unit's weights) in one shot, fine-tune with the pruned units held at zero, then
// shrinkStructured() deletes them. Prints test accuracy at each stage, the parameter counts and the
// batch-1 inference latency of the fine-tuned model before and after removal, timed in alternating
// rounds in the same run.
//
// Usage: structured_seed_cnn [--dataset fashion-mnist|mnist] [--data-dir DIR] [--epochs 3]
//                            [--fine-tune-epochs 1] [--fraction 0.5] [--threads 1] [--json FILE]
#include <algorithm>
#include <cstdio>
#include <fstream>

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "apps/cli/Common.h"
#include "compress/compress.h"
#include "core/Random.h"
#include "core/Threads.h"
#include "optim/optim.h"

using namespace shrink;

namespace {

double accuracy(Module& model, const cli::LoadedData& data) {
  return evaluate(model, data.objective, data.test).at("accuracy");
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Structured pruning and physical removal of seed-cnn"};
  cli::DataArgs dataArgs;
  int epochs = 3, fineTuneEpochs = 1, threads = 1, rounds = 30, calls = 20;
  double fraction = 0.5;
  std::string jsonPath;
  cli::addDataOptions(app, dataArgs);
  app.add_option("--epochs", epochs, "Training epochs before pruning")->check(CLI::PositiveNumber);
  app.add_option("--fine-tune-epochs", fineTuneEpochs, "Epochs of fine-tuning after pruning")
      ->check(CLI::NonNegativeNumber);
  app.add_option("--fraction", fraction, "Fraction of filters and hidden units pruned")->check(CLI::Range(0.0, 0.99));
  app.add_option("--threads", threads, "Threads for training; latency is timed with one")->check(CLI::PositiveNumber);
  app.add_option("--rounds", rounds, "Alternating latency rounds")->check(CLI::PositiveNumber);
  app.add_option("--calls", calls, "Timed calls per model and round")->check(CLI::PositiveNumber);
  app.add_option("--json", jsonPath, "Write the results as JSON to this file");
  CLI11_PARSE(app, argc, argv);

  try {
    setNumThreads(threads);
    const cli::LoadedData data = cli::loadData(dataArgs);
    auto model = cli::buildModel("seed-cnn", dataArgs.seed);
    auto& net = dynamic_cast<Sequential&>(*model);
    const FitOptions fitOptions{.epochs = epochs, .batchSize = 128, .seed = dataArgs.seed};

    fmt::print("== training seed-cnn on {} for {} epochs\n", data.description, epochs);
    Adam adam(net.trainableParameters());
    fit(net, adam, data.objective, data.train, fitOptions);
    const double dense = accuracy(net, data);

    StructuredPruner pruner(net);  // Conv2D by L1, Dense by L2; every layer but the output
    pruner.prune(fraction);
    const double oneShot = accuracy(net, data);
    fmt::print("== fine-tuning {} epochs with {:.0f}% of the filters and hidden units pruned\n", fineTuneEpochs,
               100 * fraction);
    Adam fineTune(net.trainableParameters());
    if (fineTuneEpochs > 0)
      fit(net, fineTune, data.objective, data.train, {.epochs = fineTuneEpochs, .batchSize = 128, .seed = dataArgs.seed + 1},
          {&pruner});
    pruner.removeMasks();
    const double fineTuned = accuracy(net, data);

    auto before = cloneModel(net);
    const ShrinkResult removed = shrinkStructured(net);
    const double afterRemoval = accuracy(net, data);
    const Tensor probe = Generator(7).uniformTensor(Shape{64, 1, 28, 28}, 0.0f, 1.0f);
    const Tensor yBefore = predict(*before, data::TensorDataset(probe, Tensor(Shape{64})));
    const Tensor yAfter = predict(net, data::TensorDataset(probe, Tensor(Shape{64})));
    float maxDiff = 0;
    for (int64_t i = 0; i < yBefore.numel(); ++i) maxDiff = std::max(maxDiff, std::abs(yBefore[i] - yAfter[i]));

    setNumThreads(1);
    const Tensor image = Generator(11).uniformTensor(Shape{1, 1, 28, 28}, 0.0f, 1.0f);
    const LatencyComparison latency = compareLatency(*before, net, image, rounds, calls);

    cli::printTable("seed-cnn structured pruning (" + data.description + ")",
                    {{"test accuracy, dense", fmt::format("{:.4f}", dense)},
                     {"  after one-shot pruning", fmt::format("{:.4f}", oneShot)},
                     {"  after fine-tuning", fmt::format("{:.4f}", fineTuned)},
                     {"  after physical removal", fmt::format("{:.4f}", afterRemoval)},
                     {"max |logit diff| removal", fmt::format("{:.3g}", maxDiff)},
                     {"parameters", fmt::format("{} -> {}", removed.paramsBefore, removed.paramsAfter)},
                     {"units removed", fmt::format("{}", removed.unitsRemoved())},
                     {"batch-1 latency before", fmt::format("{:.1f} us (median)", 1e6 * latency.firstMedian)},
                     {"batch-1 latency after", fmt::format("{:.1f} us (median)", 1e6 * latency.secondMedian)},
                     {"speedup (target >= 1.6x)", fmt::format("{:.2f}x ({})", latency.speedup, latency.speedup >= 1.6 ? "met" : "missed")}});

    if (!jsonPath.empty()) {
      nlohmann::json layers = nlohmann::json::array();
      for (const LayerShrink& l : removed.layers)
        layers.push_back({{"name", l.name}, {"type", l.type}, {"units_before", l.unitsBefore},
                          {"units_after", l.unitsAfter}, {"params_before", l.paramsBefore},
                          {"params_after", l.paramsAfter}});
      const nlohmann::json j = {
          {"dataset", data.description}, {"epochs", epochs}, {"fine_tune_epochs", fineTuneEpochs},
          {"fraction", fraction}, {"seed", dataArgs.seed},
          {"accuracy", {{"dense", dense}, {"one_shot", oneShot}, {"fine_tuned", fineTuned}, {"removed", afterRemoval}}},
          {"max_abs_logit_diff", maxDiff}, {"params_before", removed.paramsBefore},
          {"params_after", removed.paramsAfter}, {"layers", layers},
          {"latency_batch1_seconds", {{"before_median", latency.firstMedian}, {"after_median", latency.secondMedian},
                                      {"rounds", rounds}, {"calls_per_round", calls}, {"threads", 1}}},
          {"speedup", latency.speedup}, {"target_speedup", 1.6}};
      std::ofstream(jsonPath) << j.dump(2) << "\n";
    }
    return 0;
  } catch (const std::exception& e) {
    fmt::print(stderr, "structured_seed_cnn: {}\n", e.what());
    return 2;
  }
}
