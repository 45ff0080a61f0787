// Quantization-aware training: train LeNet-300-100 on Fashion-MNIST in float, fine-tune it with
// 8-bit fake quantization of its weights and activations (tfmot's default scheme), strip the
// wrappers, and check that the float model holding the quantized weights predicts exactly as the
// quantization-aware one.
#include <algorithm>

#include <fmt/format.h>

#include "apps/models/Models.h"
#include "compress/compress.h"
#include "datasets/datasets.h"
#include "layers/layers.h"
#include "optim/optim.h"

int main() {
  using namespace shrink;
  const data::MnistOptions images{.layout = data::ImageLayout::NCHW};
  const auto train = data::loadMnist(data::defaultFashionMnistDir(), data::Split::Train, images);
  const auto test = data::loadMnist(data::defaultFashionMnistDir(), data::Split::Test, images);
  const Objective objective = Objective::classification();

  std::unique_ptr<Sequential> preset = models::build("lenet300");
  Sequential& model = *preset;
  Adam adam(model.trainableParameters());
  fit(model, adam, objective, train, {.epochs = 2, .batchSize = 128});
  const double floatAccuracy = evaluate(model, objective, test).at("accuracy");

  // Wrap every Dense layer (weights and outputs fake-quantized to 8 bits) and quantize the input.
  quantizeModel(model);
  Adam fineTune(model.trainableParameters(), {.lr = 1e-4f});  // wrap first, then build the optimizer
  fit(model, fineTune, objective, train, {.epochs = 1, .batchSize = 128});
  const Tensor predictions = predict(model, test);

  std::unique_ptr<Sequential> stripped = stripQuantization(model);
  const Tensor strippedPredictions = predict(*stripped, test);
  const bool same = std::equal(predictions.begin(), predictions.end(), strippedPredictions.begin());
  fmt::print("test accuracy: float {:.4f}, quantization-aware {:.4f}, stripped {:.4f} ({} predictions)\n",
             floatAccuracy, evaluate(model, objective, test).at("accuracy"),
             evaluate(*stripped, objective, test).at("accuracy"), same ? "identical" : "DIFFERENT");
  saveModel(*stripped, "lenet300-qat.shrink");
  return same ? 0 : 1;
}
