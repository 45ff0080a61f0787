// Integer inference: the uint8 x int8 GEMM, fixed-point requantization, and int8 models converted
// from quantization-aware-trained models, compared with the fake-quant float model they came from.
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <limits>
#include <memory>
#include <vector>

#include <unistd.h>

#include <gtest/gtest.h>

#include "compress/Int8.h"
#include "compress/compress.h"
#include "core/Random.h"
#include "core/kernels/Int8Gemm.h"
#include "datasets/datasets.h"
#include "layers/layers.h"
#include "optim/optim.h"
#include "tests/TestUtils.h"
#include "tests/compress/QuantTestUtils.h"

namespace shrink {
namespace {

namespace fs = std::filesystem;
using kernels::QuantizedMultiplier;
using test::messageOf;
using test::friedmanClasses;

// ---- GEMM

/// sum_p (a - zp) * b in int64, the definition.
std::vector<int64_t> naiveGemm(int64_t m, int64_t n, int64_t k, const std::vector<uint8_t>& a, int64_t lda,
                               int32_t zp, const std::vector<int8_t>& b, int64_t ldb) {
  std::vector<int64_t> c(static_cast<size_t>(m * n), 0);
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < n; ++j)
      for (int64_t p = 0; p < k; ++p) c[i * n + j] += (int64_t{a[i * lda + p]} - zp) * int64_t{b[j * ldb + p]};
  return c;
}

TEST(Int8GemmTest, MatchesTheDefinitionOnEveryShapeAndZeroPoint) {
  Generator gen(7);
  for (int64_t m : {1, 3, 7})
    for (int64_t n : {1, 4, 5, 13})
      for (int64_t k : {1, 15, 16, 17, 100, 784})
        for (int32_t zp : {0, 3, 128, 255}) {
          const int64_t lda = k + 3, ldb = k + 5;  // strided rows
          std::vector<uint8_t> a(static_cast<size_t>(m * lda));
          std::vector<int8_t> b(static_cast<size_t>(n * ldb));
          for (auto& v : a) v = static_cast<uint8_t>(gen.uniform(0.0f, 256.0f));
          for (auto& v : b) v = static_cast<int8_t>(static_cast<int>(gen.uniform(0.0f, 255.0f)) - 127);
          a[0] = 255;  // extremes: the widened products must not saturate
          b[0] = -127;
          std::vector<int32_t> sums(static_cast<size_t>(n)), c(static_cast<size_t>(m * n), -1);
          kernels::int8RowSums(n, k, b.data(), ldb, sums.data());
          kernels::gemmU8S8(m, n, k, a.data(), lda, zp, b.data(), ldb, sums.data(), c.data(), n);
          const std::vector<int64_t> want = naiveGemm(m, n, k, a, lda, zp, b, ldb);
          for (size_t i = 0; i < c.size(); ++i)
            ASSERT_EQ(c[i], want[i]) << "m=" << m << " n=" << n << " k=" << k << " zp=" << zp << " at " << i;
        }
}

TEST(Int8GemmTest, RejectsADepthThatCouldOverflowInt32) {
  const std::vector<uint8_t> a(1);
  const std::vector<int8_t> b(1);
  std::vector<int32_t> sums(1), c(1);
  EXPECT_NE(messageOf([&] {
              kernels::gemmU8S8(1, 1, 100000, a.data(), 100000, 0, b.data(), 100000, sums.data(), c.data(), 1);
            }).find("depth 100000"),
            std::string::npos);
}

// ---- Requantization (values worked out by hand from the definitions in Int8Gemm.h)

TEST(RequantizeTest, QuantizeMultiplierHandValues) {
  auto is = [](QuantizedMultiplier q, int32_t multiplier, int shift) {
    return q.multiplier == multiplier && q.shift == shift;
  };
  EXPECT_TRUE(is(kernels::quantizeMultiplier(0.5), 1 << 30, 0));           // 0.5 * 2^0
  EXPECT_TRUE(is(kernels::quantizeMultiplier(0.75), 1610612736, 0));      // 0.75 * 2^31
  EXPECT_TRUE(is(kernels::quantizeMultiplier(1.0), 1 << 30, 1));          // 0.5 * 2^1
  EXPECT_TRUE(is(kernels::quantizeMultiplier(3.0), 1610612736, 2));       // 0.75 * 2^2
  EXPECT_TRUE(is(kernels::quantizeMultiplier(0.1), 1717986918, -3));      // 0.8 * 2^-3, 0.8 * 2^31 = ...918.4
  EXPECT_TRUE(is(kernels::quantizeMultiplier(1.0 - 0x1p-40), 1 << 30, 1));  // q rounds up to 1: 2^30, shift + 1
  EXPECT_TRUE(is(kernels::quantizeMultiplier(0.0), 0, 0));
  EXPECT_TRUE(is(kernels::quantizeMultiplier(0x1p-33), 0, 0));  // below 2^-32: 0
  EXPECT_NE(messageOf([] { kernels::quantizeMultiplier(-0.5); }).find("-0.5"), std::string::npos);
}

TEST(RequantizeTest, FixedPointPrimitivesHandValues) {
  // a b / 2^31 with b = 2^30 (one half): ties go up, 1.5 -> 2 and -1.5 -> -1.
  EXPECT_EQ(kernels::saturatingRoundingDoublingHighMul(3, 1 << 30), 2);
  EXPECT_EQ(kernels::saturatingRoundingDoublingHighMul(-3, 1 << 30), -1);
  EXPECT_EQ(kernels::saturatingRoundingDoublingHighMul(-7, 1 << 30), -3);  // -3.5
  EXPECT_EQ(kernels::saturatingRoundingDoublingHighMul(-8, 1 << 30), -4);
  constexpr int32_t kMin = std::numeric_limits<int32_t>::min();
  EXPECT_EQ(kernels::saturatingRoundingDoublingHighMul(kMin, kMin), std::numeric_limits<int32_t>::max());
  // x / 2^e: ties away from zero.
  EXPECT_EQ(kernels::roundingDivideByPOT(3, 1), 2);
  EXPECT_EQ(kernels::roundingDivideByPOT(-3, 1), -2);
  EXPECT_EQ(kernels::roundingDivideByPOT(5, 2), 1);    // 1.25
  EXPECT_EQ(kernels::roundingDivideByPOT(-5, 2), -1);  // -1.25
  EXPECT_EQ(kernels::roundingDivideByPOT(-6, 2), -2);  // -1.5
  EXPECT_EQ(kernels::roundingDivideByPOT(7, 0), 7);
}

TEST(RequantizeTest, MultiplyByQuantizedMultiplierHandValues) {
  const QuantizedMultiplier half = kernels::quantizeMultiplier(0.5);
  const QuantizedMultiplier quarter = kernels::quantizeMultiplier(0.25);  // 2^30, shift -1
  EXPECT_EQ(kernels::multiplyByQuantizedMultiplier(3, half), 2);     // 1.5
  EXPECT_EQ(kernels::multiplyByQuantizedMultiplier(-3, half), -1);   // -1.5: the high-mul tie goes up
  EXPECT_EQ(kernels::multiplyByQuantizedMultiplier(6, quarter), 2);  // 1.5: 3 exactly, then 3/2 -> 2
  EXPECT_EQ(kernels::multiplyByQuantizedMultiplier(-6, quarter), -2);  // -1.5: -3, then -3/2 -> -2
  EXPECT_EQ(kernels::multiplyByQuantizedMultiplier(-7, quarter), -2);  // -1.75: -3.5 -> -3, then -2
  EXPECT_EQ(kernels::multiplyByQuantizedMultiplier(4, quarter), 1);
  // 1.25 rounds twice (2.5 -> 3, 1.5 -> 2): TFLite's reference rounding gives 2 here.
  EXPECT_EQ(kernels::multiplyByQuantizedMultiplier(5, quarter), 2);
  EXPECT_EQ(kernels::multiplyByQuantizedMultiplier(1000000, kernels::quantizeMultiplier(0.1)), 100000);
  EXPECT_EQ(kernels::multiplyByQuantizedMultiplier(-1000000, kernels::quantizeMultiplier(0.1)), -100000);
  EXPECT_EQ(kernels::multiplyByQuantizedMultiplier(5, kernels::quantizeMultiplier(3.0)), 15);   // left shift 2
  EXPECT_EQ(kernels::multiplyByQuantizedMultiplier(-5, kernels::quantizeMultiplier(3.0)), -15);
  EXPECT_EQ(kernels::multiplyByQuantizedMultiplier(123, QuantizedMultiplier{}), 0);
}

// ---- Converted models

/// 8x8 one-channel images of four classes: a bright half (top, bottom, left or right) under noise.
data::TensorDataset halves(int64_t n, uint64_t seed) {
  Generator gen(seed);
  Tensor x(Shape{n, 1, 8, 8}), y(Shape{n});
  for (int64_t e = 0; e < n; ++e) {
    const int c = static_cast<int>(e % 4);
    y[e] = static_cast<float>(c);
    for (int i = 0; i < 8; ++i)
      for (int j = 0; j < 8; ++j) {
        const bool on = c == 0 ? i < 4 : c == 1 ? i >= 4 : c == 2 ? j < 4 : j >= 4;
        x[(e * 8 + i) * 8 + j] = (on ? 0.6f : 0.0f) + 0.5f * gen.normal();
      }
  }
  return data::TensorDataset(std::move(x), std::move(y));
}

/// Fraction of rows with the same argmax.
double agreement(const Tensor& a, const Tensor& b) {
  const std::vector<int64_t> classA = argmaxRows(a), classB = argmaxRows(b);
  int64_t same = 0;
  for (size_t i = 0; i < classA.size(); ++i) same += classA[i] == classB[i];
  return static_cast<double>(same) / static_cast<double>(a.dim(0));
}

/// Float training, then quantization-aware fine-tuning of `model` on `train`.
void trainQat(Sequential& model, const data::TensorDataset& train, int floatEpochs, int qatEpochs,
              const QuantizeScheme& scheme) {
  const Objective objective = Objective::classification();
  Adam adam(model.trainableParameters(), {.lr = 1e-2f});
  fit(model, adam, objective, train, {.epochs = floatEpochs, .batchSize = 32, .verbose = 0});
  quantizeModel(model, scheme);
  Adam fineTune(model.trainableParameters(), {.lr = 1e-3f});
  fit(model, fineTune, objective, train, {.epochs = qatEpochs, .batchSize = 32, .verbose = 0});
  model.eval();
}

/// Fraction of the entries of `a` and `b` at most `steps` quantization steps apart.
double withinSteps(const Tensor& a, const Tensor& b, float step, float steps) {
  return ((a.array() - b.array()).abs() <= steps * step * 1.0001f).cast<double>().mean();
}

/// The int8 model against the fake-quant model on `test`. The integer path rounds twice where the
/// float one rounds once (the bias to the accumulator scale, the fixed-point multiply), so now and
/// then a value lands one step off, and a hidden value one step off moves the outputs by that step
/// times its outgoing weights. Required:
/// - the first quantized layer (input quantizer and first wrapper, ops 0 and 1) equal on >= 99% of
///   its outputs and never more than one step off;
/// - predicted classes equal on >= 99% of the examples;
/// - >= 97% of the dequantized outputs within two output steps, the mean gap below a quarter step.
void expectAgreement(Sequential& model, const Int8Model& int8, const data::TensorDataset& test) {
  {
    NoGradGuard noGrad;
    model.eval();
    const Tensor fakeQuant = model.at(1).forward(model.at(0).forward(Variable(test.inputs()))).value();
    const Int8Model firstLayer(std::vector<Int8Op>(int8.ops().begin(), int8.ops().begin() + 2));
    const Tensor integer = firstLayer.predict(test.inputs());
    const float step = int8.ops()[1].out.scale;
    EXPECT_GE(withinSteps(integer, fakeQuant, step, 0.0f), 0.99);
    EXPECT_EQ(withinSteps(integer, fakeQuant, step, 1.0f), 1.0);
  }
  const Tensor fakeQuant = predict(model, test);
  const Tensor integer = int8.predict(test.inputs(), 64);
  ASSERT_EQ(integer.shape(), fakeQuant.shape());
  const float step = int8.ops().back().out.scale;
  EXPECT_GE(agreement(integer, fakeQuant), 0.99);
  EXPECT_GE(withinSteps(integer, fakeQuant, step, 2.0f), 0.97);
  EXPECT_LT((integer.array() - fakeQuant.array()).abs().mean(), 0.25f * step);
  // The models learned the task.
  EXPECT_GT(evaluate(model, Objective::classification(), test).at("accuracy"), 0.7);
}

TEST(Int8ModelTest, QatDenseMlpAgreesWithTheFakeQuantModel) {
  const data::TensorDataset train = friedmanClasses(2000, 1), test = friedmanClasses(1000, 2);
  Sequential model;
  model.add<Dense>({.in = 10, .out = 32, .activation = Activation::ReLU, .seed = 1});
  model.add<Dense>({.in = 32, .out = 16, .activation = Activation::ReLU, .seed = 2});
  model.add<Dropout>({.rate = 0.1f, .seed = 3});
  model.add<Dense>({.in = 16, .out = 3, .seed = 4});
  trainQat(model, train, 10, 2, {});

  const Int8Model int8 = convertToInt8(model);
  ASSERT_EQ(int8.ops().size(), 4u);  // quantize, three dense (dropout is the identity)
  EXPECT_EQ(int8.ops()[1].type, Int8OpType::Dense);
  EXPECT_EQ(int8.ops()[1].clampMin, int8.ops()[1].out.zeroPoint);  // fused ReLU
  EXPECT_EQ(int8.ops()[3].clampMin, 0);
  expectAgreement(model, int8, test);
}

/// Conv2D (no activation) + BatchNorm folded, ReLU layer, MaxPool, BatchNorm on quantized values,
/// Conv2D + ReLU, AvgPool, Flatten, Dense; ranges tracked PyTorch-style.
std::unique_ptr<Sequential> smallConvNet() {
  auto m = std::make_unique<Sequential>();
  m->add<Conv2D>({.in = 1, .out = 4, .kernel = {3, 3}, .padding = Padding::Same, .seed = 1});
  m->add<BatchNorm>({.features = 4});
  m->add<ReLU>({});
  m->add<MaxPool2D>({});
  m->add<BatchNorm>({.features = 4});
  m->add<Conv2D>({.in = 4, .out = 8, .kernel = {3, 3}, .activation = Activation::ReLU, .seed = 2});
  m->add<AvgPool2D>({});
  m->add<Flatten>({});
  m->add<Dense>({.in = 8, .out = 4, .seed = 3});
  return m;
}

QuantizeScheme convScheme() {
  QuantizeScheme scheme;
  scheme.foldBatchNorm = true;
  scheme.defaults.outputTracking = RangeTracking::FirstBatchMovingAverage;
  return scheme;
}

TEST(Int8ModelTest, QatConvNetWithPoolingAgreesAndSurvivesSaveLoad) {
  const data::TensorDataset train = halves(800, 1), test = halves(1000, 2);
  std::unique_ptr<Sequential> model = smallConvNet();
  trainQat(*model, train, 4, 2, convScheme());

  const Int8Model int8 = convertToInt8(*model);
  std::vector<Int8OpType> types;
  for (const Int8Op& op : int8.ops()) types.push_back(op.type);
  EXPECT_EQ(types, (std::vector<Int8OpType>{Int8OpType::Quantize, Int8OpType::Conv2D, Int8OpType::Clamp,
                                            Int8OpType::MaxPool, Int8OpType::ChannelAffine, Int8OpType::Conv2D,
                                            Int8OpType::AvgPool, Int8OpType::Flatten, Int8OpType::Dense}));
  EXPECT_EQ(int8.ops()[1].weightScale.size(), 4u);  // per output channel
  EXPECT_NE(int8.ops()[1].weightScale[0], int8.ops()[1].weightScale[1]);
  expectAgreement(*model, int8, test);

  const fs::path path = fs::temp_directory_path() / ("shrink_int8_test." + std::to_string(::getpid()) + ".shrink");
  int8.save(path.string());
  const Int8Model loaded = Int8Model::load(path.string());
  EXPECT_EQ(static_cast<int64_t>(fs::file_size(path)), int8.fileBytes());
  const Tensor before = int8.predict(test.inputs()), after = loaded.predict(test.inputs(), 7);
  EXPECT_TRUE(std::equal(before.begin(), before.end(), after.begin(), after.end()));
  EXPECT_EQ(loaded.ops().size(), int8.ops().size());
  EXPECT_EQ(loaded.ops()[5].weight, int8.ops()[5].weight);
  fs::remove(path);
}

TEST(Int8ModelTest, IntegerWeightsAreTheFakeQuantGridIndices) {
  const data::TensorDataset train = friedmanClasses(300, 3);
  Sequential model;
  model.add<Dense>({.in = 10, .out = 8, .activation = Activation::ReLU, .seed = 1});
  model.add<Dense>({.in = 8, .out = 3, .seed = 2});
  trainQat(model, train, 2, 1, {});
  const Int8Model int8 = convertToInt8(model);
  const Int8Op& dense = int8.ops()[1];
  const Tensor fq = static_cast<QuantizeWrapper&>(model.at(1)).quantizedWeights()[0].parameter->value().value();
  for (int64_t i = 0; i < fq.numel(); ++i) {
    ASSERT_EQ(fq[i], static_cast<float>(dense.weight[i]) * dense.weightScale[0]) << i;
    ASSERT_LE(std::abs(int{dense.weight[i]}), 127);
  }
  // The largest |w| sits at the end of the symmetric grid.
  int maxAbs = 0;
  for (int8_t w : dense.weight) maxAbs = std::max(maxAbs, std::abs(int{w}));
  EXPECT_EQ(maxAbs, 127);
}

TEST(Int8ModelTest, PostTrainingCalibrationOfAFloatModel) {
  const data::TensorDataset train = friedmanClasses(2000, 1), test = friedmanClasses(1000, 2);
  Sequential model;
  model.add<Dense>({.in = 10, .out = 32, .activation = Activation::ReLU, .seed = 1});
  model.add<Dropout>({.rate = 0.5f, .seed = 2});
  model.add<Dense>({.in = 32, .out = 3, .seed = 3});
  Adam adam(model.trainableParameters(), {.lr = 1e-2f});
  fit(model, adam, Objective::classification(), train, {.epochs = 10, .batchSize = 32, .verbose = 0});
  const double floatAccuracy = evaluate(model, Objective::classification(), test).at("accuracy");

  QuantizeScheme scheme;
  scheme.defaults.outputTracking = RangeTracking::FirstBatchMovingAverage;
  quantizeModel(model, scheme);
  const Tensor weightsBefore = model.parameters()[0]->leaf().value();
  model.eval();
  calibrate(model, train, {.batches = 4, .batchSize = 128});
  EXPECT_FALSE(model.isTraining());
  for (const auto& [name, q] : modulesOfType<ActivationQuantizer>(model)) {
    EXPECT_EQ(q->steps(), 4) << name;
    EXPECT_LT(q->max(), 5.9f) << name;  // moved from the initial [-6, 6] to the data's range
  }
  EXPECT_TRUE(std::equal(weightsBefore.begin(), weightsBefore.end(), model.parameters()[0]->leaf().value().begin()));

  const Int8Model int8 = convertToInt8(model);
  const Tensor integer = int8.predict(test.inputs());
  EXPECT_GE(agreement(integer, predict(model, test)), 0.99);
  const double int8Accuracy = Objective::classification().metricSum(Metric::Accuracy, integer, test.targets()) /
                              static_cast<double>(test.size());
  EXPECT_GT(int8Accuracy, floatAccuracy - 0.03) << "float " << floatAccuracy;
}

TEST(Int8ModelTest, RefusesAModelThatWasNeverCalibrated) {
  Sequential model;
  model.add<Dense>({.in = 10, .out = 4, .activation = Activation::ReLU, .seed = 1});
  model.add<Dense>({.in = 4, .out = 3, .seed = 2});
  const std::string plain = messageOf([&] { convertToInt8(model); });
  EXPECT_NE(plain.find("no quantize wrappers"), std::string::npos) << plain;

  quantizeModel(model);
  const std::string never = messageOf([&] { convertToInt8(model); });
  EXPECT_NE(never.find("int8 conversion of a model that was never calibrated"), std::string::npos) << never;
  EXPECT_NE(never.find("input_quantizer"), std::string::npos) << never;
}

TEST(Int8ModelTest, RefusesALayerItCannotRunNamingIt) {
  Sequential model;
  model.add<Dense>({.in = 10, .out = 4, .seed = 1});
  model.add<Sigmoid>({});
  model.add<Dense>({.in = 4, .out = 3, .seed = 2});
  quantizeModel(model);
  model.train();
  model.forward(Variable(friedmanClasses(16, 1).inputs()));  // one calibration batch
  const std::string message = messageOf([&] { convertToInt8(model); });
  EXPECT_NE(message.find("'sigmoid'"), std::string::npos) << message;
  EXPECT_NE(message.find("Sigmoid"), std::string::npos) << message;

  Sequential fused;
  fused.add<Dense>({.in = 10, .out = 3, .activation = Activation::Tanh, .seed = 1});
  quantizeModel(fused);
  fused.train();
  fused.forward(Variable(friedmanClasses(16, 1).inputs()));
  const std::string tanh = messageOf([&] { convertToInt8(fused); });
  EXPECT_NE(tanh.find("fused activation 'tanh'"), std::string::npos) << tanh;

  // tfmot's layout without folding: the BatchNorm runs in float on the Dense layer's raw output.
  Sequential unfolded;
  unfolded.add<Dense>({.in = 10, .out = 4, .seed = 1});
  unfolded.add<BatchNorm>({.features = 4});
  unfolded.add<Dense>({.in = 4, .out = 3, .seed = 2});
  quantizeModel(unfolded);
  unfolded.train();
  unfolded.forward(Variable(friedmanClasses(16, 1).inputs()));
  const std::string bn = messageOf([&] { convertToInt8(unfolded); });
  EXPECT_NE(bn.find("'dense' has no output quantizer"), std::string::npos) << bn;
}

TEST(Int8ModelTest, LoadRejectsForeignAndFloatModelFiles) {
  const fs::path dir = fs::temp_directory_path();
  const fs::path foreign = dir / ("shrink_int8_foreign." + std::to_string(::getpid()) + ".bin");
  std::ofstream(foreign) << "this is not a model";
  try {
    Int8Model::load(foreign.string());
    ADD_FAILURE() << "no error for a foreign file";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find(foreign.string()), std::string::npos) << e.what();
  }

  Sequential model;
  model.add<Dense>({.in = 10, .out = 3, .seed = 1});
  const fs::path floatFile = dir / ("shrink_int8_float." + std::to_string(::getpid()) + ".shrink");
  saveModel(model, floatFile.string());
  try {
    Int8Model::load(floatFile.string());
    ADD_FAILURE() << "no error for a float model file";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("is not an int8 model file"), std::string::npos) << e.what();
  }

  // An int8 file whose dense op lost its weight entries.
  Archive broken;
  const nlohmann::json grid = {{"scale", 0.1}, {"zero_point", 0}, {"qmax", 255}};
  broken.meta() = {{"format", "shrink-int8"},
                   {"version", 1},
                   {"ops", {{{"type", "quantize"}, {"name", "q"}, {"in", grid}, {"out", grid}, {"rounding", "half_up"}},
                            {{"type", "dense"}, {"name", "d"}, {"in", grid}, {"out", grid}, {"clamp", {0, 255}}}}}};
  const fs::path brokenFile = dir / ("shrink_int8_broken." + std::to_string(::getpid()) + ".shrink");
  broken.save(brokenFile.string());
  try {
    Int8Model::load(brokenFile.string());
    ADD_FAILURE() << "no error for an int8 file without weights";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("corrupt int8 model"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("ops.1.weight"), std::string::npos) << e.what();
  }
  fs::remove(foreign);
  fs::remove(floatFile);
  fs::remove(brokenFile);
}

}  // namespace
}  // namespace shrink
