#include "apps/models/Models.h"

#include "core/Check.h"
#include "layers/layers.h"

namespace shrink::models {

namespace {

void mlp(Sequential& m, const std::vector<int64_t>& widths, Generator& gen) {
  for (size_t i = 0; i + 1 < widths.size(); ++i) {
    const bool last = i + 2 == widths.size();
    m.add<Dense>({.in = widths[i], .out = widths[i + 1], .activation = last ? Activation::None : Activation::ReLU,
                  .generator = &gen});
  }
}

}  // namespace

std::vector<std::string> presetNames() { return {"lenet300", "lenet5", "seed-cnn", "mlp-deep", "friedman-mlp"}; }

Shape inputShape(const std::string& name) {
  if (name == "friedman-mlp") return Shape{10};
  return Shape{1, 28, 28};
}

std::unique_ptr<Sequential> build(const std::string& name, uint64_t seed) {
  Generator gen(seed);
  auto m = std::make_unique<Sequential>();
  if (name == "lenet300") {
    m->add<Flatten>({});
    mlp(*m, {784, 300, 100, 10}, gen);
  } else if (name == "mlp-deep") {
    m->add<Flatten>({});
    mlp(*m, {784, 512, 512, 256, 256, 128, 128, 64, 64, 32, 32, 10}, gen);
  } else if (name == "friedman-mlp") {
    mlp(*m, {10, 128, 1}, gen);
  } else if (name == "lenet5") {
    m->add<Conv2D>({.in = 1, .out = 20, .kernel = {5, 5}, .activation = Activation::ReLU, .generator = &gen});
    m->add<MaxPool2D>({});
    m->add<Conv2D>({.in = 20, .out = 50, .kernel = {5, 5}, .activation = Activation::ReLU, .generator = &gen});
    m->add<MaxPool2D>({});
    m->add<Flatten>({});
    m->add<Dense>({.in = 800, .out = 500, .activation = Activation::ReLU, .generator = &gen});
    m->add<Dense>({.in = 500, .out = 10, .generator = &gen});
  } else if (name == "seed-cnn") {
    m->add<Conv2D>({.in = 1, .out = 32, .kernel = {5, 5}, .padding = Padding::Same, .activation = Activation::ReLU,
                    .generator = &gen});
    m->add<MaxPool2D>({});
    m->add<BatchNorm>({.features = 32});
    m->add<Conv2D>({.in = 32, .out = 64, .kernel = {5, 5}, .padding = Padding::Same, .activation = Activation::ReLU,
                    .generator = &gen});
    m->add<MaxPool2D>({});
    m->add<Flatten>({});
    m->add<Dense>({.in = 3136, .out = 1024, .activation = Activation::ReLU, .generator = &gen});
    m->add<Dropout>({.rate = 0.4f, .seed = seed + 1});
    m->add<Dense>({.in = 1024, .out = 10, .generator = &gen});
  } else {
    throw std::invalid_argument(fmt::format("unknown model '{}' (presets: {})", name, fmt::join(presetNames(), ", ")));
  }
  return m;
}

}  // namespace shrink::models
