// Pruning schedules against tfmot's definitions at the boundaries of their step ranges, their
// validation, their JSON form, and a user-defined schedule driving the pruning wrapper.
#include <cmath>
#include <memory>

#include <gtest/gtest.h>

#include "compress/compress.h"
#include "layers/layers.h"
#include "tests/TestUtils.h"

namespace shrink {
namespace {

using test::messageOf;

// tfmot's PolynomialDecay value, written out independently of the implementation.
double polynomialValue(double s0, double s1, int64_t begin, int64_t end, double power, int64_t step) {
  double p = static_cast<double>(step - begin) / static_cast<double>(end - begin);
  p = p < 0 ? 0 : (p > 1 ? 1 : p);
  return s1 + (s0 - s1) * std::pow(1 - p, power);
}

TEST(ScheduleTest, PolynomialDecayAtTheBoundaries) {
  // begin 200, end 1000, frequency 100, power 3.
  const PolynomialDecay schedule({.initialSparsity = 0.5, .finalSparsity = 0.9, .beginStep = 200, .endStep = 1000});
  struct Case {
    int64_t step;
    bool update;
  };
  for (const Case c : {Case{0, false}, Case{1, false}, Case{199, false}, Case{200, true}, Case{201, false},
                       Case{300, true}, Case{999, false}, Case{1000, true}, Case{1001, false}, Case{1100, false}}) {
    const PruneDecision d = schedule.at(c.step);
    EXPECT_EQ(d.update, c.update) << "step " << c.step;
    EXPECT_DOUBLE_EQ(d.sparsity, polynomialValue(0.5, 0.9, 200, 1000, 3, c.step)) << "step " << c.step;
  }
  EXPECT_DOUBLE_EQ(schedule.at(0).sparsity, 0.5);
  EXPECT_DOUBLE_EQ(schedule.at(200).sparsity, 0.5);
  EXPECT_DOUBLE_EQ(schedule.at(300).sparsity, 0.9 - 0.4 * 0.875 * 0.875 * 0.875);  // p = 1/8
  EXPECT_DOUBLE_EQ(schedule.at(600).sparsity, 0.9 - 0.4 * 0.125);                  // p = 1/2
  EXPECT_DOUBLE_EQ(schedule.at(1000).sparsity, 0.9);
  EXPECT_DOUBLE_EQ(schedule.at(5000).sparsity, 0.9);
}

TEST(ScheduleTest, PolynomialDecayWithAnEndOffTheFrequencyGrid) {
  // end 844 is not on the grid begin + k * 100: the last update is at 800, below the final sparsity.
  const PolynomialDecay schedule(
      {.initialSparsity = 0.2, .finalSparsity = 0.8, .beginStep = 0, .endStep = 844, .power = 2});
  int64_t updates = 0, last = -1;
  for (int64_t step = 0; step <= 2000; ++step)
    if (schedule.at(step).update) ++updates, last = step;
  EXPECT_EQ(updates, 9);  // 0, 100, ..., 800
  EXPECT_EQ(last, 800);
  EXPECT_DOUBLE_EQ(schedule.at(800).sparsity, polynomialValue(0.2, 0.8, 0, 844, 2, 800));
  EXPECT_LT(schedule.at(last).sparsity, 0.8);
  EXPECT_DOUBLE_EQ(schedule.at(844).sparsity, 0.8);
  EXPECT_FALSE(schedule.at(844).update);
}

TEST(ScheduleTest, PolynomialDecayWithBeginEqualToEndJumpsOnce) {
  const PolynomialDecay schedule({.initialSparsity = 0.1, .finalSparsity = 0.6, .beginStep = 50, .endStep = 50});
  EXPECT_FALSE(schedule.at(49).update);
  EXPECT_DOUBLE_EQ(schedule.at(49).sparsity, 0.1);
  EXPECT_TRUE(schedule.at(50).update);
  EXPECT_DOUBLE_EQ(schedule.at(50).sparsity, 0.6);
  EXPECT_FALSE(schedule.at(150).update);
}

TEST(ScheduleTest, ConstantSparsityAtTheBoundaries) {
  const ConstantSparsity bounded({.sparsity = 0.75, .beginStep = 100, .endStep = 350, .frequency = 50});
  for (int64_t step : {0, 1, 99, 101, 149, 351, 400, 1000}) EXPECT_FALSE(bounded.at(step).update) << step;
  for (int64_t step : {100, 150, 200, 350}) EXPECT_TRUE(bounded.at(step).update) << step;
  for (int64_t step : {0, 100, 351}) EXPECT_DOUBLE_EQ(bounded.at(step).sparsity, 0.75);

  // end_step -1: forever on the grid from begin_step. With begin 0 the update at step 0 is the one
  // tfmot makes at train begin; our callback's first batch is step 1, so the first real one is 100.
  const ConstantSparsity forever({.sparsity = 0.5});
  EXPECT_TRUE(forever.at(0).update);
  EXPECT_FALSE(forever.at(1).update);
  EXPECT_TRUE(forever.at(100).update);
  EXPECT_TRUE(forever.at(1'000'000).update);
  EXPECT_FALSE(forever.at(1'000'001).update);
}

TEST(ScheduleTest, PredicateMatchesTfmot) {
  EXPECT_FALSE(pruningStepDue(-1, 0, -1, 1));
  EXPECT_TRUE(pruningStepDue(7, 0, -1, 1));
  EXPECT_TRUE(pruningStepDue(30, 10, 30, 10));
  EXPECT_FALSE(pruningStepDue(40, 10, 30, 10));
  EXPECT_FALSE(pruningStepDue(25, 10, 30, 10));
}

TEST(ScheduleTest, BadValuesAreRejectedWithTheirName) {
  using O = PolynomialDecay::Options;
  EXPECT_EQ(messageOf([] { PolynomialDecay(O{.initialSparsity = 0, .finalSparsity = 1, .endStep = 10}); }),
            "PolynomialDecay: final_sparsity must be in [0, 1), got 1");
  EXPECT_EQ(messageOf([] { PolynomialDecay(O{.initialSparsity = -0.1, .finalSparsity = 0.5, .endStep = 10}); }),
            "PolynomialDecay: initial_sparsity must be in [0, 1), got -0.1");
  EXPECT_EQ(messageOf([] { PolynomialDecay(O{.finalSparsity = 0.5, .beginStep = -1, .endStep = 10}); }),
            "PolynomialDecay: begin_step must be >= 0, got -1");
  EXPECT_EQ(messageOf([] { PolynomialDecay(O{.finalSparsity = 0.5, .beginStep = 20, .endStep = 10}); }),
            "PolynomialDecay: end_step must be >= begin_step (20), got 10");
  EXPECT_EQ(messageOf([] { PolynomialDecay(O{.finalSparsity = 0.5, .endStep = -1}); }),
            "PolynomialDecay: end_step must be >= begin_step (0), got -1");
  EXPECT_EQ(messageOf([] { PolynomialDecay(O{.finalSparsity = 0.5, .endStep = 10, .frequency = 0}); }),
            "PolynomialDecay: frequency must be > 0, got 0");
  EXPECT_EQ(messageOf([] { PolynomialDecay(O{.finalSparsity = 0.5, .endStep = 10, .power = 0}); }),
            "PolynomialDecay: power must be > 0, got 0");
  using C = ConstantSparsity::Options;
  EXPECT_EQ(messageOf([] { ConstantSparsity(C{.sparsity = 1.0}); }),
            "ConstantSparsity: sparsity must be in [0, 1), got 1");
  EXPECT_EQ(messageOf([] { ConstantSparsity(C{.sparsity = 0.5, .beginStep = 10, .endStep = 5}); }),
            "ConstantSparsity: end_step must be >= begin_step (10) or -1, got 5");
  EXPECT_EQ(messageOf([] { ConstantSparsity(C{.sparsity = 0.5, .frequency = -3}); }),
            "ConstantSparsity: frequency must be > 0, got -3");
}

TEST(ScheduleTest, JsonRoundTripKeepsEveryField) {
  const PolynomialDecay p(
      {.initialSparsity = 0.25, .finalSparsity = 0.875, .beginStep = 3, .endStep = 77, .power = 2, .frequency = 7});
  auto back = pruningScheduleFromJson(pruningScheduleToJson(p));
  ASSERT_EQ(back->typeName(), "PolynomialDecay");
  EXPECT_EQ(back->config(), p.config());
  for (int64_t step = 0; step < 100; ++step) {
    EXPECT_EQ(back->at(step).update, p.at(step).update);
    EXPECT_EQ(back->at(step).sparsity, p.at(step).sparsity);
  }
  const ConstantSparsity c({.sparsity = 0.5, .beginStep = 10, .endStep = -1, .frequency = 5});
  EXPECT_EQ(pruningScheduleFromJson(pruningScheduleToJson(c))->config(), c.config());

  EXPECT_EQ(messageOf([] { pruningScheduleFromJson({{"type", "Cubic"}}); }),
            "pruningScheduleFromJson: unknown schedule type 'Cubic' (known: ConstantSparsity, PolynomialDecay)");
  EXPECT_NE(messageOf([] { pruningScheduleFromJson({{"type", "ConstantSparsity"}, {"config", {{"sparsity", 0.5}, {"stride", 2}}}}); })
                .find("stride"),
            std::string::npos);
}

// A user's schedule: 30% at step 5, 60% at step 10, nothing else.
class TwoSteps : public PruningSchedule {
 public:
  PruneDecision at(int64_t step) const override {
    if (step == 5) return {true, 0.3};
    if (step == 10) return {true, 0.6};
    return {false, step < 10 ? 0.3 : 0.6};
  }
  std::string typeName() const override { return "TwoSteps"; }
  nlohmann::json config() const override { return nlohmann::json::object(); }
};

TEST(ScheduleTest, UserScheduleDrivesTheWrapperAndSurvivesJson) {
  registerPruningSchedule("TwoSteps", [](const nlohmann::json&) { return std::make_shared<const TwoSteps>(); });
  Sequential model;
  model.add<Dense>({.in = 10, .out = 10, .seed = 4});
  auto& w = pruneLowMagnitude(model, 0, {.schedule = std::make_shared<TwoSteps>()});
  const Tensor& mask = *w.prunedWeights()[0].mask;
  auto zeros = [&] {
    int64_t n = 0;
    for (float v : mask) n += v == 0.0f;
    return n;
  };
  UpdatePruningStep::start(model);
  for (int i = 0; i < 4; ++i) UpdatePruningStep::advance(model);
  EXPECT_EQ(zeros(), 0);
  UpdatePruningStep::advance(model);  // step 5
  EXPECT_EQ(zeros(), 30);
  for (int i = 0; i < 5; ++i) UpdatePruningStep::advance(model);  // step 10
  EXPECT_EQ(zeros(), 60);

  auto restored = buildModule(architectureOf(model));
  auto& again = dynamic_cast<PruneLowMagnitude&>(dynamic_cast<Sequential&>(*restored).at(0));
  EXPECT_EQ(again.options().schedule->typeName(), "TwoSteps");
}

}  // namespace
}  // namespace shrink
