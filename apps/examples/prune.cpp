// The README's pruning example: train LeNet-300-100 on Fashion-MNIST, prune it to 90% while
// fine-tuning, strip the wrappers and report what was gained.
#include <fmt/format.h>

#include "compress/compress.h"
#include "datasets/datasets.h"
#include "layers/layers.h"
#include "optim/optim.h"

int main() {
  using namespace shrink;
  const auto dir = data::defaultFashionMnistDir();
  auto train = data::loadMnist(dir, data::Split::Train, {});
  auto test = data::loadMnist(dir, data::Split::Test, {});
  const Objective objective = Objective::classification();

  Sequential model;
  model.add<Dense>({.in = 784, .out = 300, .activation = Activation::ReLU});
  model.add<Dense>({.in = 300, .out = 100, .activation = Activation::ReLU});
  model.add<Dense>({.in = 100, .out = 10});
  Adam adam(model.trainableParameters());
  fit(model, adam, objective, train, {.epochs = 2, .batchSize = 128});

  // Wrap every Dense kernel; sparsity grows from 50% to 90% over the first 800 steps.
  auto schedule = std::make_shared<PolynomialDecay>(
      PolynomialDecay::Options{.initialSparsity = 0.5, .finalSparsity = 0.9, .beginStep = 0, .endStep = 800});
  pruneLowMagnitude(model, {.schedule = schedule});
  Adam fineTune(model.trainableParameters());  // wrap first, then build the optimizer
  UpdatePruningStep step;
  fit(model, fineTune, objective, train, {.epochs = 2, .batchSize = 128}, {&step});

  std::unique_ptr<Sequential> stripped = stripPruning(model);
  fmt::print("{}", formatReport(report(*stripped)));
  fmt::print("test accuracy at 90% sparsity: {:.4f}\n", evaluate(*stripped, objective, test).at("accuracy"));
  saveModel(*stripped, "lenet300-pruned.shrink");
}
