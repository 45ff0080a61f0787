#include <gtest/gtest.h>

#include "LayerTestUtils.h"
#include "TestUtils.h"
#include "core/Functions.h"
#include "layers/layers.h"

using namespace shrink;
using namespace shrink::test;
using nlohmann::json;

namespace {

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

/// Every layer type, a nested Sequential and non-default options everywhere.
std::unique_ptr<Sequential> everyLayer() {
  auto m = std::make_unique<Sequential>();
  m->add<Conv2D>({.in = 1, .out = 4, .kernel = {3, 3}, .stride = {1, 1}, .padding = Padding::Same,
                  .useBias = false, .activation = Activation::ReLU, .init = Initializer::HeUniform, .seed = 4});
  m->add<BatchNorm>({.features = 4, .momentum = 0.9f, .epsilon = 1e-5f});
  m->add<MaxPool2D>({.kernelH = 2, .kernelW = 2});
  m->add<AvgPool2D>({.kernelH = 3, .kernelW = 2, .strideH = 1, .strideW = 1, .padding = Padding::Same});
  m->add<LeakyReLU>({.alpha = 0.2f});
  m->add<Flatten>({});
  auto block = std::make_unique<Sequential>();
  block->add<Dense>({.in = 64, .out = 16, .activation = Activation::Tanh, .init = Initializer::HeNormal});
  block->add<Dropout>({.rate = 0.25f, .seed = 77});
  block->add<Sigmoid>({});
  m->add(std::move(block), "block");
  m->add<Dense>({.in = 16, .out = 8, .activation = Activation::LeakyReLU, .seed = 3});
  m->add<ReLU>({});
  m->add<Tanh>({});
  m->add<Dense>({.in = 8, .out = 5, .useBias = false}, "logits");
  m->add<Softmax>({});
  return m;
}

std::string buildError(const json& arch) {
  return invalidArgumentMessage([&] { buildModule(arch); });
}

/// A module only this test knows, to show that later code can extend the registry.
class Scale : public Module {
 public:
  explicit Scale(float factor) : factor_(factor) {}
  Variable forward(const Variable& x) override { return mul(x, factor_); }
  std::string typeName() const override { return "TestScale"; }
  json config() const override { return {{"factor", jsonFloat(factor_)}}; }

 private:
  float factor_;
};

}  // namespace

TEST(RegistryTest, RoundTripOfEveryLayerTypeReproducesTheModel) {
  auto model = everyLayer();
  const json arch = architectureOf(*model);
  auto rebuilt = buildModule(arch);
  ASSERT_NE(rebuilt, nullptr);
  EXPECT_EQ(architectureOf(*rebuilt), arch);
  // Through text as well, as model files store it.
  EXPECT_EQ(architectureOf(*buildModule(json::parse(arch.dump(2)))), arch);

  const auto params = model->namedParameters(), params2 = rebuilt->namedParameters();
  ASSERT_EQ(params.size(), params2.size());
  for (size_t i = 0; i < params.size(); ++i) {
    EXPECT_EQ(params[i].first, params2[i].first);
    EXPECT_EQ(params[i].second->shape(), params2[i].second->shape());
  }
  const auto buffers = model->namedBuffers(), buffers2 = rebuilt->namedBuffers();
  ASSERT_EQ(buffers.size(), 2u);
  ASSERT_EQ(buffers2.size(), 2u);
  EXPECT_EQ(buffers2[0].first, "batch_normalization.running_mean");

  // With the same weights, the rebuilt model computes the same function.
  {
    NoGradGuard g;
    for (size_t i = 0; i < params.size(); ++i) params2[i].second->leaf().mutableValue() = params[i].second->leaf().value();
    buffers[0].second->fill(0.1f);
    *buffers2[0].second = *buffers[0].second;
  }
  model->eval();
  rebuilt->eval();
  const Variable x(pattern({2, 1, 8, 8}, 0.3, 0.2));
  EXPECT_TRUE(allClose(rebuilt->forward(x).value(), model->forward(x).value(), 0, 0));
  EXPECT_EQ(rebuilt->forward(x).shape(), Shape({2, 5}));
}

TEST(RegistryTest, ArchitectureJsonHasTheDocumentedForm) {
  Sequential s;
  s.add<Flatten>({});
  s.add<Dense>({.in = 4, .out = 2, .activation = Activation::Softmax, .seed = 5});
  auto inner = std::make_unique<Sequential>();
  inner->add<Dropout>({.rate = 0.5f, .seed = 1});
  s.add(std::move(inner));
  const json expected = json::parse(R"({
    "type": "Sequential",
    "layers": [
      {"type": "Flatten", "name": "flatten", "config": {}},
      {"type": "Dense", "name": "dense", "config": {"in": 4, "out": 2, "use_bias": true, "activation": "softmax",
                                                      "kernel_initializer": "glorot_uniform", "seed": 5}},
      {"type": "Sequential", "name": "sequential", "layers": [
        {"type": "Dropout", "name": "dropout", "config": {"rate": 0.5, "seed": 1}}]}
    ]})");
  EXPECT_EQ(architectureOf(s), expected);
  EXPECT_EQ(architectureOf(Dense({.in = 1, .out = 1, .seed = 1})),
            json::parse(R"({"type": "Dense", "config": {"in": 1, "out": 1, "use_bias": true, "activation": "linear",
                            "kernel_initializer": "glorot_uniform", "seed": 1}})"));
}

TEST(RegistryTest, BuildsHandWrittenFilesWithDefaults) {
  const json doc = json::parse(R"({
    "type": "Sequential",
    "layers": [
      {"type": "Conv2D", "config": {"in": 1, "out": 3, "kernel_size": 3, "padding": "same", "activation": "relu"}},
      {"type": "MaxPool2D"},
      {"type": "Flatten"},
      {"type": "Dense", "name": "hidden", "config": {"in": 48, "out": 10}},
      {"type": "Dropout", "config": {"rate": 0.2}},
      {"type": "Dense", "config": {"in": 10, "out": 2.0}}
    ]})");
  auto m = buildModule(doc);
  auto* seq = dynamic_cast<Sequential*>(m.get());
  ASSERT_NE(seq, nullptr);
  ASSERT_EQ(seq->size(), 6u);
  EXPECT_EQ(seq->name(0), "conv2d");
  EXPECT_EQ(seq->name(3), "hidden");
  EXPECT_EQ(seq->name(5), "dense");
  const auto& conv = dynamic_cast<Conv2D&>(seq->at(0));
  EXPECT_EQ(conv.options().kernel.h, 3);
  EXPECT_EQ(conv.options().kernel.w, 3);
  EXPECT_EQ(conv.options().stride.h, 1);
  EXPECT_EQ(conv.options().padding, Padding::Same);
  EXPECT_EQ(conv.options().activation, Activation::ReLU);
  EXPECT_EQ(dynamic_cast<MaxPool2D&>(seq->at(1)).options().strideH, 2);
  EXPECT_FLOAT_EQ(dynamic_cast<Dropout&>(seq->at(4)).rate(), 0.2f);
  EXPECT_EQ(seq->forward(Variable(Tensor::zeros({3, 1, 8, 8}))).shape(), Shape({3, 2}));
  // A single layer is a valid architecture too.
  auto single = buildModule(json::parse(R"({"type": "BatchNorm", "config": {"features": 6}})"));
  EXPECT_EQ(single->typeName(), "BatchNorm");
  EXPECT_EQ(single->parameterCount(), 12);
}

TEST(RegistryTest, UnknownTypesAreErrorsListingTheKnownOnes) {
  const std::string msg = buildError(json::parse(R"({"type": "Sequential", "layers": [
      {"type": "Flatten"}, {"type": "Dense2", "name": "d"}]})"));
  EXPECT_TRUE(contains(msg, "buildModule: layer 1 ('d'): unknown layer type 'Dense2' (known: ")) << msg;
  EXPECT_TRUE(contains(msg, "Conv2D")) << msg;
  EXPECT_TRUE(contains(buildError(json::parse(R"({"type": "Transformer"})")), "unknown layer type 'Transformer'"));
}

TEST(RegistryTest, MissingAndIllTypedFieldsNameTheLayerAndField) {
  auto seqOf = [](const std::string& layer) {
    return json::parse(R"({"type": "Sequential", "layers": [{"type": "Flatten"}, )" + layer + "]}");
  };
  std::string msg = buildError(seqOf(R"({"type": "Dense", "name": "out", "config": {"in": 4}})"));
  EXPECT_EQ(msg, "buildModule: layer 1 ('out'): Dense config: missing required field 'out'");
  msg = buildError(seqOf(R"({"type": "Dense", "config": {"in": "four", "out": 2}})"));
  EXPECT_EQ(msg, "buildModule: layer 1: Dense config: field 'in' must be an integer, got \"four\"");
  msg = buildError(seqOf(R"({"type": "Dense", "config": {"in": 2.5, "out": 2}})"));
  EXPECT_TRUE(contains(msg, "field 'in' must be an integer, got 2.5")) << msg;
  msg = buildError(seqOf(R"({"type": "Dense", "config": {"in": 4, "units": 2}})"));
  EXPECT_TRUE(contains(msg, "missing required field 'out'")) << msg;
  msg = buildError(seqOf(R"({"type": "Dense", "config": {"in": 4, "out": 2, "units": 2}})"));
  EXPECT_TRUE(contains(msg, "layer 1: Dense config: unknown field 'units' (known: ")) << msg;
  msg = buildError(seqOf(R"({"type": "Dense", "config": {"in": 4, "out": 2, "activation": "rellu"}})"));
  EXPECT_TRUE(contains(msg, "Dense config: field 'activation': unknown activation 'rellu'")) << msg;
  msg = buildError(seqOf(R"({"type": "Conv2D", "config": {"in": 1, "out": 2, "kernel_size": [3]}})"));
  EXPECT_TRUE(contains(msg, "field 'kernel_size' must be a positive integer or a pair [h, w] of them, got [3]")) << msg;
  msg = buildError(seqOf(R"({"type": "Conv2D", "config": {"in": 1, "out": 2, "kernel_size": 3, "padding": "full"}})"));
  EXPECT_TRUE(contains(msg, "field 'padding': unknown padding 'full'")) << msg;
  msg = buildError(seqOf(R"({"type": "Dense", "config": {"in": 4, "out": 0}})"));
  EXPECT_TRUE(contains(msg, "layer 1: Dense: in and out must be positive")) << msg;  // the constructor's check
  msg = buildError(seqOf(R"({"type": "Dropout", "config": {"rate": true}})"));
  EXPECT_TRUE(contains(msg, "field 'rate' must be a number, got true")) << msg;
  msg = buildError(seqOf(R"({"type": "Dropout", "config": {"seed": -1}})"));
  EXPECT_TRUE(contains(msg, "field 'seed' must be a non-negative integer, got -1")) << msg;
  msg = buildError(seqOf(R"({"type": "Flatten", "config": {"start_dim": 1}})"));
  EXPECT_TRUE(contains(msg, "Flatten config: unknown field 'start_dim'")) << msg;
  msg = buildError(seqOf(R"({"type": "ReLU", "config": [1]})"));
  EXPECT_TRUE(contains(msg, "ReLU 'config' must be a JSON object, got [1]")) << msg;
}

TEST(RegistryTest, MalformedDocumentsAreErrors) {
  EXPECT_EQ(buildError(json::parse("[1, 2]")), "buildModule: expected a JSON object with a \"type\", got [1,2]");
  EXPECT_TRUE(contains(buildError(json::parse(R"({"layers": []})")), "missing field 'type'"));
  EXPECT_TRUE(contains(buildError(json::parse(R"({"type": 3})")), "field 'type' must be a string, got 3"));
  EXPECT_TRUE(contains(buildError(json::parse(R"({"type": "Sequential"})")), "needs a \"layers\" array"));
  EXPECT_TRUE(contains(buildError(json::parse(R"({"type": "Sequential", "layers": [{"type": "Flatten", "conf": {}}]})")),
                       "layer 0: unexpected field 'conf' in a Flatten entry"));
  EXPECT_TRUE(contains(buildError(json::parse(R"({"type": "Sequential", "layers": [{"type": "Flatten", "name": 4}]})")),
                       "layer 0: field 'name' must be a string, got 4"));
  EXPECT_TRUE(contains(buildError(json::parse(R"({"type": "Sequential", "layers": [
      {"type": "Flatten", "name": "a"}, {"type": "ReLU", "name": "a"}]})")),
                       "layer 1 ('a'): Sequential::add: a layer named 'a' already exists"));
  // Nested Sequentials give the path.
  const std::string msg = buildError(json::parse(R"({"type": "Sequential", "layers": [
      {"type": "Sequential", "name": "block", "layers": [{"type": "ReLU"}, {"type": "Dense", "config": {}}]}]})"));
  EXPECT_TRUE(contains(msg, "buildModule: layer 0 ('block') > layer 1: Dense config: missing required field 'in'"))
      << msg;
}

TEST(RegistryTest, LaterCodeCanRegisterTypes) {
  EXPECT_FALSE(isModuleTypeRegistered("TestScale"));
  registerModuleType("TestScale", [](const json& config) -> std::unique_ptr<Module> {
    ConfigReader c(config, "TestScale");
    const float factor = static_cast<float>(c.number("factor"));
    c.finish();
    return std::make_unique<Scale>(factor);
  });
  EXPECT_TRUE(isModuleTypeRegistered("TestScale"));
  EXPECT_TRUE(isModuleTypeRegistered("Sequential"));
  const auto types = registeredModuleTypes();
  EXPECT_NE(std::find(types.begin(), types.end(), "TestScale"), types.end());
  EXPECT_NE(std::find(types.begin(), types.end(), "Dense"), types.end());

  Sequential s;
  s.add<Dense>({.in = 2, .out = 2, .seed = 1});
  s.add(std::make_unique<Scale>(2.5f));
  const json arch = architectureOf(s);
  EXPECT_EQ(arch["layers"][1], json::parse(R"({"type": "TestScale", "name": "test_scale", "config": {"factor": 2.5}})"));
  auto rebuilt = buildModule(arch);
  EXPECT_EQ(architectureOf(*rebuilt), arch);
  EXPECT_TRUE(contains(invalidArgumentMessage([] { registerModuleType("Sequential", [](const json&) {
                         return std::unique_ptr<Module>(new Flatten());
                       }); }),
                       "'Sequential' is built in"));
}
