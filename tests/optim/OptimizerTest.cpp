#include <cmath>
#include <memory>
#include <stdexcept>

#include <gtest/gtest.h>

#include "TestUtils.h"
#include "optim/Adam.h"
#include "optim/Clip.h"
#include "optim/LrSchedule.h"
#include "optim/SGD.h"

namespace shrink {
namespace {

using test::allClose;

void setGrad(Parameter& p, const Tensor& g) {
  p.leaf().zeroGrad();
  p.leaf().addGrad(g);
}

Tensor vec(std::vector<float> v) { return Tensor::fromVector(v); }

// Expected values: PyTorch 2.15 in float64, torch.optim.Adam / AdamW with betas (0.9, 0.999) on
// w0 = {0.5, -1, 2} with the gradients below, setting param_groups[0]['eps'] = epsilon /
// sqrt(1 - 0.999^t) before step t. That turns torch's  w -= lr * m_hat / (sqrt(v_hat) + eps)  into
// Keras'  w -= lr * sqrt(1 - b2^t) / (1 - b1^t) * m / (sqrt(v) + epsilon), the formula implemented;
// a hand loop of the Keras formula in float64 agrees to 1e-16.
const std::vector<std::vector<float>> kGrads = {{0.1f, -0.2f, 0.3f}, {0.4f, 0.05f, -0.5f}, {-0.3f, 0.25f, 1e-3f}};

std::vector<Tensor> runThreeSteps(Optimizer& opt, Parameter& p) {
  std::vector<Tensor> out;
  for (const auto& g : kGrads) {
    setGrad(p, vec(g));
    opt.step();
    out.push_back(p.leaf().value());
  }
  return out;
}

void expectSteps(const std::vector<Tensor>& got, const std::vector<std::vector<float>>& want) {
  ASSERT_EQ(got.size(), want.size());
  for (size_t t = 0; t < want.size(); ++t) EXPECT_TRUE(allClose(got[t], vec(want[t]), 1e-6f, 1e-6f)) << "step " << t + 1;
}

TEST(AdamTest, FirstThreeStepsMatchKerasFormula) {
  Parameter p(vec({0.5f, -1.0f, 2.0f}));
  Adam adam({&p}, {.lr = 0.1f});  // epsilon 1e-7 (Keras default)
  expectSteps(runThreeSteps(adam, p), {{0.400003162f, -0.900001581f, 1.90000105f},
                                       {0.311566191f, -0.853055484f, 1.92935702f},
                                       {0.29389547f, -0.879285437f, 1.9519396f}});
  EXPECT_EQ(adam.iterations(), 3);
}

TEST(AdamTest, EpsilonSitsOutsideTheBiasCorrection) {
  // A large epsilon separates the two placements; same reference procedure as above.
  Parameter p(vec({0.5f, -1.0f, 2.0f}));
  Adam adam({&p}, {.lr = 0.1f, .epsilon = 0.1f});
  const std::vector<Tensor> got = runThreeSteps(adam, p);
  expectSteps(got, {{0.496934657f, -0.994051651f, 1.99133518f},
                    {0.48673409f, -0.991179676f, 1.99590496f},
                    {0.484281131f, -0.993616785f, 1.99941885f}});
  // Plain torch.optim.Adam(eps=0.1) after step 1 gives {0.45, -0.93333, 1.925}: not what we do.
  EXPECT_FALSE(allClose(got[0], vec({0.45f, -0.933333333f, 1.925f}), 1e-3f, 0));
}

TEST(AdamTest, AdamWDecaysDecoupled) {
  // torch.optim.AdamW(lr=0.1, weight_decay=0.5) with the per-step eps above: w *= 1 - lr * wd,
  // then the Adam step with m and v from the raw gradient.
  Parameter p(vec({0.5f, -1.0f, 2.0f}));
  AdamW adamw({&p}, {.lr = 0.1f, .weightDecay = 0.5f});
  expectSteps(runThreeSteps(adamw, p), {{0.375003162f, -0.850001581f, 1.80000105f},
                                        {0.267816033f, -0.760555405f, 1.73935696f},
                                        {0.23675451f, -0.748757588f, 1.6749717f}});
  // A fresh optimizer and a zero gradient keep m = v = 0, so only the decay acts.
  Parameter q(vec({2.0f}));
  AdamW decayOnly({&q}, {.lr = 0.1f, .weightDecay = 0.5f});
  setGrad(q, vec({0.0f}));
  decayOnly.step();
  EXPECT_FLOAT_EQ(q.leaf().value()[0], 2.0f * (1 - 0.1f * 0.5f));
}

// SGD on f(w) = w^2 / 2 (gradient w) from w = 1 with lr 0.1, by hand (torch.optim.SGD agrees):
//   momentum 0.9:  b = 1, 1.8, 2.34              -> w = 0.9, 0.72, 0.486
//   nesterov:      b = 1, 1.71, 2.1141; w -= 0.1 * (g + 0.9 b) -> w = 0.81, 0.5751, 0.327321
//   momentum 0.9, weightDecay 0.1: g = 1.1 w     -> w = 0.89, 0.6931, 0.439649
std::vector<float> sgdOnQuadratic(SGDOptions o) {
  Parameter p(vec({1.0f}));
  SGD sgd({&p}, o);
  std::vector<float> out;
  for (int i = 0; i < 3; ++i) {
    setGrad(p, p.leaf().value());
    sgd.step();
    out.push_back(p.leaf().value()[0]);
  }
  return out;
}

TEST(SGDTest, MomentumNesterovAndWeightDecayOnQuadratic) {
  auto expectNear = [](const std::vector<float>& got, const std::vector<float>& want) {
    for (size_t i = 0; i < want.size(); ++i) EXPECT_NEAR(got[i], want[i], 1e-6f) << "step " << i + 1;
  };
  expectNear(sgdOnQuadratic({.lr = 0.1f}), {0.9f, 0.81f, 0.729f});
  expectNear(sgdOnQuadratic({.lr = 0.1f, .momentum = 0.9f}), {0.9f, 0.72f, 0.486f});
  expectNear(sgdOnQuadratic({.lr = 0.1f, .momentum = 0.9f, .nesterov = true}), {0.81f, 0.5751f, 0.327321f});
  expectNear(sgdOnQuadratic({.lr = 0.1f, .momentum = 0.9f, .weightDecay = 0.1f}), {0.89f, 0.6931f, 0.439649f});
  // No momentum, weight decay only: w = 2 - 0.1 * (0.5 + 0.1 * 2) = 1.93.
  Parameter p(vec({2.0f}));
  SGD sgd({&p}, {.lr = 0.1f, .weightDecay = 0.1f});
  setGrad(p, vec({0.5f}));
  sgd.step();
  EXPECT_NEAR(p.leaf().value()[0], 1.93f, 1e-6f);
}

TEST(OptimizerTest, RejectsBadOptions) {
  Parameter p(vec({1.0f}));
  EXPECT_THROW(SGD({&p}, {.lr = -1}), std::invalid_argument);
  EXPECT_THROW(SGD({&p}, {.nesterov = true}), std::invalid_argument);
  EXPECT_THROW(Adam({&p}, {.beta1 = 1.0f}), std::invalid_argument);
  EXPECT_THROW(Adam({&p}, {.epsilon = 0}), std::invalid_argument);
  EXPECT_THROW(AdamW({&p}, {.weightDecay = -0.1f}), std::invalid_argument);
  EXPECT_THROW(Adam({&p, &p}), std::invalid_argument);
  Adam adam({&p});
  EXPECT_THROW(adam.setLr(-1e-3f), std::invalid_argument);
  adam.setLr(0.5f);
  EXPECT_EQ(adam.lr(), 0.5f);
}

TEST(ClipTest, ReturnsGlobalNormAndScalesGrads) {
  Parameter a(vec({0, 0})), b(vec({0}));
  setGrad(a, vec({3, 4}));
  setGrad(b, vec({12}));
  EXPECT_FLOAT_EQ(clipGradNorm({&a, &b}, 20.0f), 13.0f);  // below the limit: untouched
  EXPECT_TRUE(allClose(a.leaf().grad(), vec({3, 4}), 0, 0));
  EXPECT_FLOAT_EQ(clipGradNorm({&a, &b}, 6.5f), 13.0f);
  EXPECT_TRUE(allClose(a.leaf().grad(), vec({1.5f, 2}), 1e-6f));
  EXPECT_TRUE(allClose(b.leaf().grad(), vec({6}), 1e-6f));
  EXPECT_THROW(clipGradNorm({&a}, 0), std::invalid_argument);

  // Inside step(): plain SGD with lr 1 moves by the clipped gradient.
  Parameter w(vec({0, 0}));
  SGD sgd({&w}, {.lr = 1, .clipNorm = 1});
  setGrad(w, vec({3, 4}));
  sgd.step();
  EXPECT_TRUE(allClose(w.leaf().value(), vec({-0.6f, -0.8f}), 1e-6f));
}

TEST(OptimizerTest, SkipsFrozenParametersAndThoseWithoutGrad) {
  Parameter live(vec({1, 1})), frozen(vec({1, 1}), false), idle(vec({1, 1}));
  Adam adam({&live, &frozen, &idle}, {.lr = 0.1f});
  setGrad(live, vec({1, -1}));
  frozen.leaf().gradBuffer().fill(1.0f);  // a stale gradient must not move a frozen weight
  adam.step();
  EXPECT_FALSE(allClose(live.leaf().value(), vec({1, 1})));
  EXPECT_TRUE(allClose(frozen.leaf().value(), vec({1, 1}), 0, 0));
  EXPECT_TRUE(allClose(idle.leaf().value(), vec({1, 1}), 0, 0));
  const OptimizerState s = adam.exportState();
  EXPECT_EQ(s.tensors[2].first, "m/1");
  EXPECT_TRUE(allClose(s.tensors[2].second, vec({0, 0}), 0, 0));  // state untouched too
  adam.zeroGrad();
  EXPECT_FALSE(live.leaf().hasGrad());
  EXPECT_FALSE(frozen.leaf().hasGrad());
}

// Two parameters, a deterministic gradient per step.
struct Net {
  Parameter a{Tensor({2, 3}, {0.1f, -0.2f, 0.3f, 0.4f, -0.5f, 0.6f})};
  Parameter b{vec({1.0f, -2.0f})};
  std::vector<Parameter*> params() { return {&a, &b}; }
  void setGrads(int step) {
    for (Parameter* p : params()) {
      Tensor g(p->shape());
      for (int64_t i = 0; i < g.numel(); ++i) g[i] = std::sin(0.7f * float(step) + 1.3f * float(i) + p->leaf().value()[i]);
      setGrad(*p, g);
    }
  }
};

template <class Opt, class Options>
void expectExactResume(Options trained, Options fresh) {
  Net n1, n2;
  Opt o1(n1.params(), trained);
  for (int s = 0; s < 3; ++s) {
    n1.setGrads(s);
    o1.step();
  }
  n2.a.leaf().mutableValue() = n1.a.leaf().value();
  n2.b.leaf().mutableValue() = n1.b.leaf().value();
  OptimizerState st = o1.exportState();
  st.scalars = nlohmann::json::parse(st.scalars.dump());  // as a saved file holds them
  Opt o2(n2.params(), fresh);
  o2.importState(st);
  EXPECT_EQ(o2.iterations(), 3);
  EXPECT_EQ(o2.lr(), o1.lr());
  for (int s = 3; s < 8; ++s) {
    n1.setGrads(s);
    n2.setGrads(s);
    o1.step();
    o2.step();
    for (int k = 0; k < 2; ++k) {
      const Tensor& x = n1.params()[k]->leaf().value();
      const Tensor& y = n2.params()[k]->leaf().value();
      for (int64_t i = 0; i < x.numel(); ++i) ASSERT_EQ(x[i], y[i]) << "step " << s << " param " << k << " elem " << i;
    }
  }
}

TEST(OptimizerStateTest, ExportImportResumesBitIdentically) {
  expectExactResume<Adam>(AdamOptions{.lr = 0.05f, .beta1 = 0.8f, .clipNorm = 1.0f}, AdamOptions{});
  expectExactResume<AdamW>(AdamWOptions{.lr = 0.05f, .weightDecay = 0.1f, .clipNorm = 0.5f}, AdamWOptions{});
  expectExactResume<SGD>(SGDOptions{.lr = 0.05f, .momentum = 0.9f, .nesterov = true, .weightDecay = 0.01f},
                         SGDOptions{});
  expectExactResume<SGD>(SGDOptions{.lr = 0.05f}, SGDOptions{.momentum = 0.5f});
}

TEST(OptimizerStateTest, ImportRejectsMismatchesAndChangesNothing) {
  Net n;
  Adam adam(n.params());
  SGD sgd(n.params(), {.momentum = 0.9f});
  AdamW adamw(n.params());
  EXPECT_THROW(adam.importState(sgd.exportState()), std::invalid_argument);
  EXPECT_THROW(adam.importState(adamw.exportState()), std::invalid_argument);
  EXPECT_THROW(adamw.importState(adam.exportState()), std::invalid_argument);

  Parameter p3(vec({1, 2, 3})), p4(vec({1, 2, 3, 4}));
  Adam a3({&p3}), a4({&p4});
  setGrad(p4, vec({1, 1, 1, 1}));
  a4.step();
  try {
    a4.importState(a3.exportState());
    FAIL() << "expected std::invalid_argument";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("shape"), std::string::npos) << e.what();
  }
  EXPECT_EQ(a4.iterations(), 1);                                            // unchanged
  EXPECT_THROW(adam.importState(a3.exportState()), std::invalid_argument);  // parameter count

  OptimizerState st = adam.exportState();
  st.scalars.erase("beta1");
  EXPECT_THROW(adam.importState(st), std::invalid_argument);
  st = adam.exportState();
  st.scalars["beta2"] = 1.5;
  EXPECT_THROW(adam.importState(st), std::invalid_argument);
}

struct ScheduleCase {
  const char* name;
  std::shared_ptr<LrSchedule> schedule;
  int64_t step;
  double want;
};

class ScheduleTest : public ::testing::TestWithParam<ScheduleCase> {};

TEST_P(ScheduleTest, MatchesHandValue) {
  const ScheduleCase& c = GetParam();
  EXPECT_NEAR(c.schedule->at(c.step), c.want, 1e-7 * std::max(1.0, c.want)) << c.name << " at " << c.step;
}

// Hand values: 0.1 * 0.5^floor(s/10); 0.1 * 0.96^(s/100) (floored when staircase);
// 0.9 * 0.5 * (1 + cos(pi * min(s, 100) / 100)) + 0.1.
const auto kStep = std::make_shared<StepDecay>(0.1f, 10, 0.5f);
const auto kExp = std::make_shared<ExponentialDecay>(0.1f, 100, 0.96f);
const auto kExpStair = std::make_shared<ExponentialDecay>(0.1f, 100, 0.96f, true);
const auto kCos = std::make_shared<CosineDecay>(1.0f, 100, 0.1f);

INSTANTIATE_TEST_SUITE_P(
    Schedules, ScheduleTest,
    ::testing::Values(ScheduleCase{"step", kStep, 0, 0.1}, ScheduleCase{"step", kStep, 9, 0.1},
                      ScheduleCase{"step", kStep, 10, 0.05}, ScheduleCase{"step", kStep, 25, 0.025},
                      ScheduleCase{"exp", kExp, 0, 0.1}, ScheduleCase{"exp", kExp, 50, 0.09797958971132713},
                      ScheduleCase{"exp", kExp, 100, 0.096}, ScheduleCase{"exp", kExp, 250, 0.09029798987795908},
                      ScheduleCase{"stair", kExpStair, 99, 0.1}, ScheduleCase{"stair", kExpStair, 250, 0.09216},
                      ScheduleCase{"cos", kCos, 0, 1.0}, ScheduleCase{"cos", kCos, 25, 0.8681980515339464},
                      ScheduleCase{"cos", kCos, 50, 0.55}, ScheduleCase{"cos", kCos, 75, 0.23180194846605365},
                      ScheduleCase{"cos", kCos, 100, 0.1}, ScheduleCase{"cos", kCos, 1000, 0.1}));

TEST(ScheduleArgsTest, BadArgumentsThrow) {
  EXPECT_THROW(StepDecay(0.1f, 0, 0.5f), std::invalid_argument);
  EXPECT_THROW(StepDecay(0.1f, 10, 0), std::invalid_argument);
  EXPECT_THROW(StepDecay(-0.1f, 10, 0.5f), std::invalid_argument);
  EXPECT_THROW(ExponentialDecay(0.1f, 0, 0.9f), std::invalid_argument);
  EXPECT_THROW(ExponentialDecay(0.1f, 10, -0.9f), std::invalid_argument);
  EXPECT_THROW(CosineDecay(0.1f, 0), std::invalid_argument);
  EXPECT_THROW(CosineDecay(0.1f, 10, 1.5f), std::invalid_argument);
  EXPECT_THROW(kStep->at(-1), std::invalid_argument);
  EXPECT_THROW(kCos->at(-1), std::invalid_argument);
}

}  // namespace
}  // namespace shrink
