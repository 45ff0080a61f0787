#include <gtest/gtest.h>

#include "LayerTestUtils.h"
#include "TestUtils.h"
#include "layers/layers.h"

using namespace shrink;
using namespace shrink::test;

namespace {

std::vector<std::string> namesOf(const Sequential& s) {
  std::vector<std::string> out;
  for (size_t i = 0; i < s.size(); ++i) out.push_back(s.name(i));
  return out;
}

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

}  // namespace

TEST(SequentialTest, DefaultNamesAreKerasLike) {
  Sequential s;
  s.add<Conv2D>({.in = 1, .out = 2, .kernel = {3, 3}, .seed = 1});
  s.add<BatchNorm>({.features = 2});
  s.add<MaxPool2D>({});
  s.add<Conv2D>({.in = 2, .out = 2, .kernel = {1, 1}, .seed = 1});
  s.add<AvgPool2D>({});
  s.add<Flatten>({});
  s.add<Dense>({.in = 2, .out = 3, .seed = 1});
  s.add<Dropout>({.rate = 0.1f, .seed = 1});
  s.add<Dense>({.in = 3, .out = 3, .seed = 1});
  s.add<ReLU>({});
  s.add<LeakyReLU>({});
  s.add<Dense>({.in = 3, .out = 2, .seed = 1}, "logits");
  s.add<Softmax>({});
  const std::vector<std::string> expected = {"conv2d",  "batch_normalization", "max_pooling2d", "conv2d_1",
                                             "average_pooling2d", "flatten", "dense", "dropout", "dense_1",
                                             "re_lu", "leaky_re_lu", "logits", "softmax"};
  EXPECT_EQ(namesOf(s), expected);
  auto params = s.namedParameters();
  EXPECT_EQ(params[0].first, "conv2d.weight");
  EXPECT_EQ(params.back().first, "logits.bias");
  EXPECT_EQ(s.namedBuffers()[0].first, "batch_normalization.running_mean");
  EXPECT_EQ(s.indexOf("dense_1"), 8u);

  std::string msg = invalidArgumentMessage([&] { s.add<Flatten>({}, "dense"); });
  EXPECT_EQ(msg, "Sequential::add: a layer named 'dense' already exists");
  msg = invalidArgumentMessage([&] { s.indexOf("nope"); });
  EXPECT_TRUE(contains(msg, "no layer named 'nope'")) << msg;
  EXPECT_TRUE(contains(invalidArgumentMessage([&] { s.at(13); }), "index 13 out of range (size 13)"));
  EXPECT_EQ(Sequential::defaultBaseName("PruneLowMagnitude"), "prune_low_magnitude");
}

TEST(SequentialTest, AddReturnsTheStoredLayer) {
  Sequential s;
  Dense& d = s.add<Dense>({.in = 2, .out = 3, .seed = 1});
  EXPECT_EQ(&d, &s.at(0));
  Module& f = s.add(std::make_unique<Flatten>(), "flat");
  EXPECT_EQ(&f, &s.at(1));
  EXPECT_EQ(s.name(1), "flat");
  EXPECT_EQ(s.size(), 2u);
}

TEST(SequentialTest, ForwardChainsTheChildren) {
  Sequential s;
  Conv2D& conv = s.add<Conv2D>({.in = 2, .out = 3, .kernel = {2, 2}, .activation = Activation::ReLU, .seed = 3});
  MaxPool2D& pool = s.add<MaxPool2D>({});
  Flatten& flat = s.add<Flatten>({});
  Dense& dense = s.add<Dense>({.in = 12, .out = 4, .activation = Activation::Softmax, .seed = 4});
  const Variable x(pattern({2, 2, 5, 5}, 0.3, 0.7));
  const Tensor manual = dense.forward(flat.forward(pool.forward(conv.forward(x)))).value();
  const Tensor chained = s.forward(x).value();
  ASSERT_EQ(chained.shape(), Shape({2, 4}));
  EXPECT_TRUE(allClose(chained, manual, 0, 0));
  // An empty Sequential is the identity.
  Sequential empty;
  EXPECT_TRUE(allClose(empty.forward(x).value(), x.value(), 0, 0));
}

TEST(SequentialTest, GradientThroughAWholeModel) {
  Sequential s;
  s.add<Conv2D>({.in = 1, .out = 2, .kernel = {2, 2}, .activation = Activation::Tanh, .seed = 3});
  s.add<AvgPool2D>({});
  s.add<Flatten>({});
  s.add<Dense>({.in = 8, .out = 3, .activation = Activation::Sigmoid, .seed = 4});
  EXPECT_TRUE(gradCheckLayer(s, pattern({2, 1, 5, 5}, 0.45, 0.1)));
}

TEST(SequentialTest, ReplaceKeepsTheNameAndReturnsThePrevious) {
  Sequential s;
  s.add<Dense>({.in = 3, .out = 2, .seed = 1});
  s.add<ReLU>({});
  s.eval();
  auto old = s.replace(1, std::make_unique<Tanh>());
  EXPECT_EQ(old->typeName(), "ReLU");
  EXPECT_EQ(s.at(1).typeName(), "Tanh");
  EXPECT_EQ(s.name(1), "re_lu");
  EXPECT_FALSE(s.at(1).isTraining());  // the newcomer takes the container's mode
  const Variable x(pattern({2, 3}, 0.5, 0.5));
  const Tensor expected = tanh(s.at(0).forward(x)).value();
  EXPECT_TRUE(allClose(s.forward(x).value(), expected, 0, 0));
  EXPECT_TRUE(contains(invalidArgumentMessage([&] { s.replace(2, std::make_unique<Tanh>()); }), "out of range"));
  EXPECT_TRUE(contains(invalidArgumentMessage([&] { s.replace(0, nullptr); }), "null module"));
}

TEST(SequentialTest, InsertAndRemoveKeepTheRegistryInLayerOrder) {
  Sequential s;
  s.add<Dense>({.in = 3, .out = 4, .seed = 1});
  s.add<Dense>({.in = 4, .out = 2, .seed = 2});
  s.eval();
  Module& bn = s.insert(1, std::make_unique<BatchNorm>(BatchNorm::Options{.features = 4}));
  Module& first = s.insert(0, std::make_unique<ReLU>(), "input_relu");
  s.insert(s.size(), std::make_unique<Tanh>());
  EXPECT_EQ(namesOf(s), (std::vector<std::string>{"input_relu", "dense", "batch_normalization", "dense_1", "tanh"}));
  EXPECT_EQ(&s.at(2), &bn);
  EXPECT_EQ(&s.at(0), &first);
  EXPECT_FALSE(bn.isTraining());
  std::vector<std::string> params;
  for (const auto& [name, p] : s.namedParameters()) params.push_back(name);
  EXPECT_EQ(params, (std::vector<std::string>{"dense.weight", "dense.bias", "batch_normalization.gamma",
                                              "batch_normalization.beta", "dense_1.weight", "dense_1.bias"}));
  const Variable x(pattern({2, 3}, 0.5, 0.5));
  const Tensor expected = tanh(s.at(3).forward(s.at(2).forward(s.at(1).forward(relu(x))))).value();
  EXPECT_TRUE(allClose(s.forward(x).value(), expected, 0, 0));
  EXPECT_TRUE(contains(invalidArgumentMessage([&] { s.insert(6, std::make_unique<Tanh>()); }), "out of range"));
  EXPECT_TRUE(contains(invalidArgumentMessage([&] { s.insert(0, std::make_unique<Tanh>(), "dense"); }),
                       "'dense' already exists"));
  EXPECT_EQ(s.size(), 5u);

  std::unique_ptr<Module> removed = s.remove(2);
  EXPECT_EQ(removed.get(), &bn);
  EXPECT_EQ(namesOf(s), (std::vector<std::string>{"input_relu", "dense", "dense_1", "tanh"}));
  EXPECT_EQ(s.namedParameters()[2].first, "dense_1.weight");
  EXPECT_TRUE(allClose(s.forward(x).value(), tanh(s.at(2).forward(s.at(1).forward(relu(x)))).value(), 0, 0));
  EXPECT_TRUE(contains(invalidArgumentMessage([&] { s.remove(4); }), "out of range"));
}

TEST(SequentialTest, TrainAndEvalReachEveryChild) {
  Sequential s;
  s.add<Dense>({.in = 3, .out = 2, .seed = 1});
  s.add<Dropout>({.rate = 0.5f, .seed = 1});
  s.eval();
  EXPECT_FALSE(s.at(0).isTraining());
  EXPECT_FALSE(s.at(1).isTraining());
  s.train();
  EXPECT_TRUE(s.at(1).isTraining());
}

TEST(SequentialTest, ErrorsNameTheFailingLayer) {
  Sequential s;
  s.add<Flatten>({});
  s.add<Dense>({.in = 784, .out = 10, .seed = 1});
  const std::string msg = invalidArgumentMessage([&] { s.forward(Variable(Tensor::zeros({2, 1, 28, 27}))); });
  EXPECT_TRUE(contains(msg, "Sequential: layer 1 'dense' (Dense): Dense::forward: expected an input [N, 784]")) << msg;
  EXPECT_TRUE(contains(msg, "got [2, 756]")) << msg;
}

TEST(SequentialTest, SummaryOfLeNet300) {
  Sequential s;
  s.add<Flatten>({});
  s.add<Dense>({.in = 784, .out = 300, .activation = Activation::ReLU, .seed = 1});
  s.add<Dense>({.in = 300, .out = 100, .activation = Activation::ReLU, .seed = 2});
  s.add<Dense>({.in = 100, .out = 10, .seed = 3});
  const std::string table = s.summary(Shape{32, 1, 28, 28});
  // 784*300+300 = 235500, 300*100+100 = 30100, 100*10+10 = 1010; 266610 in all.
  const std::string expected =
      "________________________________________________________________\n"
      " Layer (type)                Output Shape             Param #\n"
      "================================================================\n"
      " flatten (Flatten)           (None, 784)              0\n"
      "________________________________________________________________\n"
      " dense (Dense)               (None, 300)              235500\n"
      "________________________________________________________________\n"
      " dense_1 (Dense)             (None, 100)              30100\n"
      "________________________________________________________________\n"
      " dense_2 (Dense)             (None, 10)               1010\n"
      "================================================================\n"
      "Total params: 266,610\n"
      "Trainable params: 266,610\n"
      "Non-trainable params: 0\n"
      "________________________________________________________________\n";
  EXPECT_EQ(table, expected);
}

TEST(SequentialTest, SummaryCountsBatchNormStatisticsAsNonTrainable) {
  Sequential s;
  s.add<Conv2D>({.in = 1, .out = 32, .kernel = {5, 5}, .padding = Padding::Same, .activation = Activation::ReLU,
                 .seed = 1});
  s.add<MaxPool2D>({});
  s.add<BatchNorm>({.features = 32});
  s.add<Dropout>({.rate = 0.4f, .seed = 2});
  s.add<Flatten>({});
  s.add<Dense>({.in = 32 * 14 * 14, .out = 10, .seed = 3});
  const std::string table = s.summary(Shape{1, 1, 28, 28});
  // Each row: the layer, its output shape with the batch as None, its parameter + buffer count.
  auto expectRow = [&](const std::string& layer, const std::string& shape, const std::string& count) {
    const size_t at = table.find("\n " + layer + " ");
    ASSERT_NE(at, std::string::npos) << layer << " missing in\n" << table;
    const std::string line = table.substr(at + 1, table.find('\n', at + 1) - at - 1);
    EXPECT_NE(line.find(" " + shape + " "), std::string::npos) << line;
    EXPECT_EQ(line.substr(line.size() - count.size() - 1), " " + count) << line;
  };
  expectRow("conv2d (Conv2D)", "(None, 32, 28, 28)", "832");  // 32*25 + 32
  expectRow("max_pooling2d (MaxPool2D)", "(None, 32, 14, 14)", "0");
  // gamma, beta (trainable) + running mean and variance (non-trainable): 4 * 32, as Keras shows.
  expectRow("batch_normalization (BatchNorm)", "(None, 32, 14, 14)", "128");
  expectRow("dropout (Dropout)", "(None, 32, 14, 14)", "0");
  expectRow("flatten (Flatten)", "(None, 6272)", "0");
  expectRow("dense (Dense)", "(None, 10)", "62730");
  // 832 + 128 + 62730 = 63690; non-trainable = the 64 running statistics.
  EXPECT_TRUE(contains(table, "Total params: 63,690\n")) << table;
  EXPECT_TRUE(contains(table, "Trainable params: 63,626\n")) << table;
  EXPECT_TRUE(contains(table, "Non-trainable params: 64\n")) << table;
}

TEST(SummaryTest, LeavesModesStatisticsAndRandomStateAlone) {
  Sequential s;
  s.add<Dense>({.in = 4, .out = 3, .seed = 1});
  BatchNorm& bn = s.add<BatchNorm>({.features = 3});
  Dropout& drop = s.add<Dropout>({.rate = 0.5f, .seed = 5});
  s.train();
  drop.eval();  // a mixed state must come back as it was
  {
    NoGradGuard g;
    bn.runningMean().fill(0.25f);
  }
  const Tensor mean = bn.runningMean(), var = bn.runningVar();
  const std::string dropState = drop.generator().state();
  const std::string table = s.summary(Shape{8, 4});
  EXPECT_TRUE(contains(table, "(None, 3)")) << table;
  EXPECT_TRUE(s.isTraining());
  EXPECT_TRUE(s.at(0).isTraining());
  EXPECT_TRUE(bn.isTraining());
  EXPECT_FALSE(drop.isTraining());
  EXPECT_TRUE(allClose(bn.runningMean(), mean, 0, 0));
  EXPECT_TRUE(allClose(bn.runningVar(), var, 0, 0));
  EXPECT_EQ(drop.generator().state(), dropState);
  EXPECT_TRUE(isGradEnabled());

  // A wrong input shape names the layer, and the modes are still restored.
  const std::string msg = invalidArgumentMessage([&] { s.summary(Shape{1, 5}); });
  EXPECT_TRUE(contains(msg, "layer 0 'dense' (Dense)")) << msg;
  EXPECT_TRUE(bn.isTraining());
  EXPECT_FALSE(drop.isTraining());
}

namespace {

/// A stand-in for a compression wrapper: owns its inner layer and doubles its output.
class Doubler : public Module {
 public:
  explicit Doubler(std::unique_ptr<Module> inner) : inner_(&registerModule("inner", std::move(inner))) {}
  Variable forward(const Variable& x) override { return mul(inner_->forward(x), 2.0f); }
  std::string typeName() const override { return "Doubler"; }
  std::unique_ptr<Module> release() { return replaceModule("inner", std::make_unique<Flatten>()); }

 private:
  Module* inner_;
};

}  // namespace

TEST(SequentialTest, WrapHandsTheChildToAWrapperAndBack) {
  Sequential s;
  Dense& dense = s.add<Dense>({.in = 3, .out = 2, .seed = 1});
  s.add<Tanh>({});
  const Variable x(pattern({2, 3}, 0.5, 0.5));
  const Tensor before = dense.forward(x).value();

  Module& w = s.wrap(0, [](std::unique_ptr<Module>& inner) { return std::make_unique<Doubler>(std::move(inner)); });
  EXPECT_EQ(&w, &s.at(0));
  EXPECT_EQ(s.name(0), "dense");
  EXPECT_EQ(s.namedParameters()[0].first, "dense.inner.weight");
  Tensor doubled = before;
  doubled *= 2.0f;
  EXPECT_TRUE(allClose(s.at(0).forward(x).value(), doubled, 0, 0));

  // Unwrapping puts the very same Dense back.
  s.wrap(0, [](std::unique_ptr<Module>& wrapper) { return static_cast<Doubler&>(*wrapper).release(); });
  EXPECT_EQ(&s.at(0), &dense);
  EXPECT_EQ(s.namedParameters()[0].first, "dense.weight");

  // A function that throws before taking the child leaves it in place.
  EXPECT_THROW(s.wrap(1, [](std::unique_ptr<Module>&) -> std::unique_ptr<Module> {
    throw std::invalid_argument("Doubler: cannot wrap a Tanh");
  }), std::invalid_argument);
  EXPECT_EQ(s.at(1).typeName(), "Tanh");
  EXPECT_TRUE(contains(invalidArgumentMessage([&] {
                         s.wrap(1, [](std::unique_ptr<Module>&) { return std::unique_ptr<Module>(); });
                       }),
                       "returned no module for layer 1 'tanh'"));
  EXPECT_EQ(s.at(1).typeName(), "Tanh");
  EXPECT_TRUE(allClose(s.forward(x).value(), tanh(Variable(before)).value(), 0, 0));
}
