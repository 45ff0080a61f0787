// The helpers the reproduction programs share (apps/repro/Repro.h).
#include "apps/repro/Repro.h"

#include <gtest/gtest.h>

#include "layers/layers.h"

namespace {

using namespace shrink;

TEST(ReproTest, PerModelRepeatsOneValueOrTakesOnePerModel) {
  const std::vector<std::string> models{"lenet300", "mlp-deep", "seed-cnn"};
  EXPECT_EQ(repro::perModel<int>({10}, models, "--epochs"), (std::vector<int>{10, 10, 10}));
  EXPECT_EQ(repro::perModel<int>({10, 3, 2}, models, "--epochs"), (std::vector<int>{10, 3, 2}));
  try {
    repro::perModel<int>({10, 3}, models, "--epochs");
    FAIL() << "two values for three models were accepted";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("--epochs"), std::string::npos) << e.what();
  }
}

TEST(ReproTest, PrintTableRejectsARowOfTheWrongWidth) {
  EXPECT_THROW(repro::printTable({"method", "8 bits"}, {{"QAT", "98.00%", "extra"}}), std::invalid_argument);
  testing::internal::CaptureStdout();
  repro::printTable({"method", "8 bits"}, {{"QAT p=1", "98.00%"}});
  EXPECT_EQ(testing::internal::GetCapturedStdout(),
            "+---------+--------+\n| method  | 8 bits |\n+---------+--------+\n| QAT p=1 | 98.00% |\n"
            "+---------+--------+\n");
}

TEST(ReproTest, TrainClassifierLearnsASeparableProblem) {
  // Two classes: the sign of the first of two features.
  Generator gen(7);
  const int64_t n = 512;
  Tensor x(Shape{n, 2}), y(Shape{n});
  for (int64_t i = 0; i < n; ++i) {
    x[2 * i] = gen.uniform(-1.0f, 1.0f);
    x[2 * i + 1] = gen.uniform(-1.0f, 1.0f);
    y[i] = x[2 * i] > 0 ? 1.0f : 0.0f;
  }
  const data::TensorDataset train(x, y);
  Sequential model;
  model.add<Dense>({.in = 2, .out = 2, .seed = 3});
  const double before = repro::testAccuracy(model, train);
  const double seconds = repro::trainClassifier(model, train, 20, 1, false, 0.05f);
  EXPECT_GE(seconds, 0);
  EXPECT_GT(repro::testAccuracy(model, train), 0.95) << "before training: " << before;
}

}  // namespace
