// The README's quick start: define, train and evaluate a model on Fashion-MNIST.
#include <fmt/format.h>

#include "datasets/datasets.h"
#include "layers/layers.h"
#include "optim/optim.h"

int main() {
  using namespace shrink;
  const auto dir = data::defaultFashionMnistDir();
  auto train = data::loadMnist(dir, data::Split::Train, {.layout = data::ImageLayout::NCHW});
  auto test = data::loadMnist(dir, data::Split::Test, {.layout = data::ImageLayout::NCHW});

  Sequential model;
  model.add<Conv2D>({.in = 1, .out = 16, .kernel = {3, 3}, .padding = Padding::Same, .activation = Activation::ReLU});
  model.add<MaxPool2D>({});
  model.add<Flatten>({});
  model.add<Dense>({.in = 16 * 14 * 14, .out = 128, .activation = Activation::ReLU});
  model.add<Dense>({.in = 128, .out = 10});
  fmt::print("{}", model.summary(Shape{1, 1, 28, 28}));

  Adam adam(model.trainableParameters());
  fit(model, adam, Objective::classification(), train, {.epochs = 2, .batchSize = 128, .validationSplit = 0.1});
  fmt::print("test accuracy: {:.4f}\n", evaluate(model, Objective::classification(), test).at("accuracy"));
}
