#include <cmath>

#include <gtest/gtest.h>

#include "LayerTestUtils.h"
#include "TestUtils.h"
#include "layers/Activations.h"

using namespace shrink;
using namespace shrink::test;

namespace {

/// Values away from the kinks at 0 (|x| >= 0.05), so central differences with eps 1e-2 are exact.
Tensor awayFromZero(const Shape& shape) {
  Tensor t = pattern(shape, 0.9, 0.2);
  for (float& v : t) v = v >= 0 ? v + 0.05f : v - 0.05f;
  return t;
}

/// The expected elementwise values, from the definitions in double precision.
template <class F>
Tensor map(const Tensor& x, F f) {
  Tensor y(x.shape());
  for (int64_t i = 0; i < x.numel(); ++i) y[i] = static_cast<float>(f(double(x[i])));
  return y;
}

}  // namespace

TEST(ActivationsTest, NamesRoundTripAndUnknownNamesFail) {
  for (Activation a : {Activation::None, Activation::ReLU, Activation::LeakyReLU, Activation::Sigmoid,
                       Activation::Tanh, Activation::Softmax})
    EXPECT_EQ(parseActivation(activationName(a)), a);
  EXPECT_EQ(activationName(Activation::None), "linear");
  EXPECT_EQ(parseActivation("none"), Activation::None);
  EXPECT_EQ(parseActivation(""), Activation::None);
  EXPECT_EQ(parseActivation("leaky_relu"), Activation::LeakyReLU);
  const std::string msg = invalidArgumentMessage([] { parseActivation("Relu"); });
  EXPECT_NE(msg.find("unknown activation 'Relu'"), std::string::npos) << msg;
  EXPECT_NE(msg.find("relu"), std::string::npos) << msg;
}

TEST(ActivationsTest, ElementwiseLayersMatchTheirDefinitions) {
  const Tensor x = awayFromZero({3, 5});
  ReLU relu;
  LeakyReLU leaky({.alpha = 0.2f});
  LeakyReLU leakyDefault;
  Sigmoid sig;
  Tanh th;
  EXPECT_TRUE(allClose(relu.forward(Variable(x)).value(), map(x, [](double v) { return v > 0 ? v : 0.0; })));
  EXPECT_TRUE(allClose(leaky.forward(Variable(x)).value(), map(x, [](double v) { return v > 0 ? v : 0.2 * v; })));
  EXPECT_TRUE(
      allClose(leakyDefault.forward(Variable(x)).value(), map(x, [](double v) { return v > 0 ? v : 0.3 * v; })));
  EXPECT_TRUE(allClose(sig.forward(Variable(x)).value(), map(x, [](double v) { return 1.0 / (1.0 + std::exp(-v)); })));
  EXPECT_TRUE(allClose(th.forward(Variable(x)).value(), map(x, [](double v) { return std::tanh(v); })));
  // The fused activation applies the same functions.
  EXPECT_TRUE(allClose(applyActivation(Activation::LeakyReLU, Variable(x)).value(),
                       leakyDefault.forward(Variable(x)).value(), 0, 0));
  EXPECT_TRUE(allClose(applyActivation(Activation::None, Variable(x)).value(), x, 0, 0));
}

TEST(ActivationsTest, SoftmaxNormalisesTheLastAxis) {
  const Tensor x = pattern({2, 4}, 1.3, 0.4);
  Softmax sm;
  const Tensor y = sm.forward(Variable(x)).value();
  for (int r = 0; r < 2; ++r) {
    double z = 0;
    for (int c = 0; c < 4; ++c) z += std::exp(double(x.at({r, c})));
    for (int c = 0; c < 4; ++c) EXPECT_NEAR(y.at({r, c}), std::exp(double(x.at({r, c}))) / z, 1e-6);
  }
}

TEST(ActivationsTest, Gradients) {
  const Tensor x = awayFromZero({3, 4});
  ReLU relu;
  LeakyReLU leaky({.alpha = 0.1f});
  Sigmoid sig;
  Tanh th;
  Softmax sm;
  for (Module* m : std::vector<Module*>{&relu, &leaky, &sig, &th, &sm}) {
    SCOPED_TRACE(m->typeName());
    EXPECT_TRUE(gradCheckLayer(*m, x));
  }
}

TEST(ActivationsTest, ConfigsAndErrors) {
  EXPECT_EQ(LeakyReLU({.alpha = 0.2f}).config(), nlohmann::json({{"alpha", 0.2}}));
  EXPECT_EQ(ReLU().config(), nlohmann::json::object());
  EXPECT_NE(invalidArgumentMessage([] { LeakyReLU({.alpha = -1.0f}); }).find("LeakyReLU: alpha must be"),
            std::string::npos);
}
