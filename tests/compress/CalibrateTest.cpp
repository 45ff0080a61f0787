// Post-training quantization: calibration ranges (min/max, percentile, MSE) on tensors whose ranges
// are known, the steps that mark a calibrated model, dynamic per-example input ranges, bad inputs,
// and PTQ of a small trained MLP against its float accuracy.
#include <cmath>
#include <memory>

#include <gtest/gtest.h>

#include "compress/Calibrate.h"
#include "compress/compress.h"
#include "datasets/datasets.h"
#include "layers/layers.h"
#include "optim/optim.h"
#include "tests/TestUtils.h"

namespace shrink {
namespace {

using test::allClose;
using test::messageOf;

/// A data set of scalar examples [n, 1] holding `values`, targets 0.
data::TensorDataset scalars(const std::vector<float>& values) {
  const int64_t n = static_cast<int64_t>(values.size());
  Tensor x(Shape{n, 1});
  std::copy(values.begin(), values.end(), x.begin());
  return data::TensorDataset(std::move(x), Tensor(Shape{n}));
}

/// `n` values uniform in [-1, 1] followed by one outlier.
std::vector<float> uniformWithOutlier(int64_t n, float outlier, uint64_t seed) {
  Generator gen(seed);
  std::vector<float> v(static_cast<size_t>(n));
  for (float& x : v) x = static_cast<float>(gen.uniform01() * 2.0 - 1.0);
  v.push_back(outlier);
  return v;
}

/// A model that is one activation quantizer of `bits`: its output is its input fake-quantized.
std::unique_ptr<Sequential> quantizerOnly(int bits = 8) {
  auto m = std::make_unique<Sequential>();
  m->add<ActivationQuantizer>({.bits = bits});
  return m;
}

ActivationQuantizer& quantizerOf(Sequential& m) { return static_cast<ActivationQuantizer&>(m.at(0)); }

/// The whole data set in one batch.
CalibrationOptions oneBatch(const data::TensorDataset& d, CalibrationMethod method) {
  return {.method = method, .batches = 1, .batchSize = d.size()};
}

/// Mean squared difference between the data and the model's (fake-quantized) output.
double quantizationError(Sequential& m, const data::TensorDataset& d) {
  const Tensor y = predict(m, d);
  double sum = 0;
  for (int64_t i = 0; i < y.numel(); ++i) sum += std::pow(double(y[i]) - d.inputs()[i], 2);
  return sum / double(y.numel());
}

TEST(CalibrateTest, MethodNamesRoundTrip) {
  for (CalibrationMethod m : {CalibrationMethod::MinMax, CalibrationMethod::Percentile, CalibrationMethod::Mse})
    EXPECT_EQ(parseCalibrationMethod(calibrationMethodName(m)), m);
  EXPECT_NE(messageOf([] { parseCalibrationMethod("kl"); }).find("'kl'"), std::string::npos);
  EXPECT_EQ(parseRangeTracking("dynamic"), RangeTracking::Dynamic);
  EXPECT_EQ(rangeTrackingName(RangeTracking::Dynamic), "dynamic");
}

TEST(CalibrateTest, HistogramQuantilesInterpolateInsideBins) {
  Histogram h(0.0f, 2048.0f);  // one unit per bin
  std::vector<float> v;
  for (int i = 0; i < 2048; ++i) v.push_back(static_cast<float>(i) + 0.5f);
  h.add(v);
  h.add(std::vector<float>{-5.0f, 5000.0f});  // outside: counted in the end bins
  EXPECT_DOUBLE_EQ(h.total(), 2050.0);
  EXPECT_FLOAT_EQ(histogramQuantile(h, 0.0), 0.0f);
  EXPECT_FLOAT_EQ(histogramQuantile(h, 1.0), 2048.0f);
  // Half the mass, 1025 values: all of the first 1024 bins (1025 values with the -5) -> edge 1024.
  EXPECT_NEAR(histogramQuantile(h, 0.5), 1024.0f, 1e-3);
  EXPECT_NEAR(histogramQuantile(h, 0.25), 512.0f - 0.5f, 1e-3);
}

TEST(CalibrateTest, MinMaxKeepsTheOutlierPercentileClipsIt) {
  const data::TensorDataset d = scalars(uniformWithOutlier(10000, 50.0f, 1));
  const float lowest = d.inputs().array().minCoeff();

  auto minmax = quantizerOnly();
  calibrate(*minmax, d, oneBatch(d, CalibrationMethod::MinMax));
  EXPECT_EQ(quantizerOf(*minmax).min(), lowest);
  EXPECT_EQ(quantizerOf(*minmax).max(), 50.0f);

  auto percentile = quantizerOnly();
  CalibrationOptions o = oneBatch(d, CalibrationMethod::Percentile);
  o.percentile = 99.9;
  calibrate(*percentile, d, o);
  // The 0.1% and 99.9% points of U(-1, 1) are -/+0.998; one bin is 51 / 2048 wide.
  EXPECT_NEAR(quantizerOf(*percentile).max(), 0.998f, 0.03f);
  EXPECT_NEAR(quantizerOf(*percentile).min(), -0.998f, 0.03f);
  // The 10000 other values are quantized far more finely (the outlier alone pays for it).
  std::vector<float> values = uniformWithOutlier(10000, 50.0f, 1);
  values.pop_back();
  const data::TensorDataset inliers = scalars(values);
  EXPECT_LT(quantizationError(*percentile, inliers), 0.01 * quantizationError(*minmax, inliers));

  // p = 100 is min/max.
  auto all = quantizerOnly();
  o.percentile = 100.0;
  calibrate(*all, d, o);
  EXPECT_FLOAT_EQ(quantizerOf(*all).min(), lowest);
  EXPECT_FLOAT_EQ(quantizerOf(*all).max(), 50.0f);
}

// At 4 bits the rounding error of a range stretched to an outlier at 3 costs 20000 values more than
// clipping the one outlier (4/15 vs 2/15 steps): MSE clips it, min/max keeps it.
TEST(CalibrateTest, MseClipsAnOutlierWhenClippingCostsLessThanRounding) {
  const data::TensorDataset d = scalars(uniformWithOutlier(20000, 3.0f, 2));
  auto minmax = quantizerOnly(4), mse = quantizerOnly(4);
  calibrate(*minmax, d, oneBatch(d, CalibrationMethod::MinMax));
  calibrate(*mse, d, oneBatch(d, CalibrationMethod::Mse));
  EXPECT_EQ(quantizerOf(*minmax).max(), 3.0f);
  EXPECT_LT(quantizerOf(*mse).max(), 1.3f);
  EXPECT_GT(quantizerOf(*mse).max(), 0.8f);
  EXPECT_LT(quantizerOf(*mse).min(), -0.8f);
  EXPECT_LT(quantizationError(*mse, d), 0.5 * quantizationError(*minmax, d));
}

// At 8 bits an outlier at 50 among 10000 values costs (50 - hi)^2 when clipped, more than the
// rounding error it saves: MSE keeps (most of) it. Its error is the histogram's estimate, so it may
// exceed min/max's on the values themselves by a little.
TEST(CalibrateTest, MseKeepsAFarOutlierAtEightBits) {
  const data::TensorDataset d = scalars(uniformWithOutlier(10000, 50.0f, 3));
  auto minmax = quantizerOnly(), mse = quantizerOnly();
  calibrate(*minmax, d, oneBatch(d, CalibrationMethod::MinMax));
  calibrate(*mse, d, oneBatch(d, CalibrationMethod::Mse));
  EXPECT_GT(quantizerOf(*mse).max(), 44.0f);
  EXPECT_LE(quantizerOf(*mse).max(), 50.0f);
  EXPECT_LE(quantizationError(*mse, d), quantizationError(*minmax, d) * 1.02);
}

// Laplace(1) samples at 4 bits: the MSE-optimal clip is near 5 (Banner et al.'s ACIQ: 5.03 b) while
// the extremes of 20000 samples lie near +/-9.
TEST(CalibrateTest, MseClipsHeavyTails) {
  Generator gen(4);
  std::vector<float> v(20000);
  for (float& x : v) {
    const double u = gen.uniform01() - 0.5;
    x = static_cast<float>((u < 0 ? 1.0 : -1.0) * std::log(1.0 - 2.0 * std::fabs(u)));
  }
  const data::TensorDataset d = scalars(v);
  auto minmax = quantizerOnly(4), mse = quantizerOnly(4);
  calibrate(*minmax, d, oneBatch(d, CalibrationMethod::MinMax));
  calibrate(*mse, d, oneBatch(d, CalibrationMethod::Mse));
  EXPECT_GT(quantizerOf(*minmax).max(), 7.0f);
  EXPECT_GT(quantizerOf(*mse).max(), 3.5f);
  EXPECT_LT(quantizerOf(*mse).max(), 6.5f);
  EXPECT_LT(quantizationError(*mse, d), 0.7 * quantizationError(*minmax, d));
}

std::unique_ptr<Sequential> mlp() {
  auto m = std::make_unique<Sequential>();
  m->add<Dense>({.in = 10, .out = 32, .activation = Activation::ReLU, .seed = 1});
  m->add<Dropout>({.rate = 0.2f, .seed = 4});
  m->add<Dense>({.in = 32, .out = 16, .activation = Activation::ReLU, .seed = 2});
  m->add<Dense>({.in = 16, .out = 3, .seed = 3});
  return m;
}

/// Three Gaussian clusters in 10 dimensions, class = cluster.
data::TensorDataset clusters(int64_t n, uint64_t seed) {
  Generator centres(99), gen(seed);
  const Tensor c = centres.normalTensor(Shape{3, 10}, 0.0f, 1.0f);
  Tensor x(Shape{n, 10}), y(Shape{n});
  for (int64_t i = 0; i < n; ++i) {
    const int64_t k = i % 3;
    y[i] = static_cast<float>(k);
    for (int64_t j = 0; j < 10; ++j) x[i * 10 + j] = c[k * 10 + j] + 0.8f * gen.normal();
  }
  return data::TensorDataset(std::move(x), std::move(y));
}

TEST(CalibrateTest, StepsRecordTheBatchesAndMarkTheModelCalibrated) {
  auto model = mlp();
  EXPECT_FALSE(isCalibrated(*model));  // float: no quantizers
  quantizeModel(*model);
  EXPECT_FALSE(isCalibrated(*model));
  for (auto& [name, q] : modulesOfType<ActivationQuantizer>(*model)) EXPECT_EQ(q->steps(), 0) << name;

  const data::TensorDataset d = clusters(100, 1);
  model->train();
  calibrate(*model, d, {.batches = 4, .batchSize = 10});
  EXPECT_TRUE(isCalibrated(*model));
  EXPECT_TRUE(model->isTraining());  // the mode is restored
  const auto quantizers = modulesOfType<ActivationQuantizer>(*model);
  ASSERT_EQ(quantizers.size(), 4u);  // input + three outputs
  for (auto& [name, q] : quantizers) {
    EXPECT_EQ(q->steps(), 4) << name;
    EXPECT_LT(q->min(), q->max()) << name;
  }
  // At most one pass over the data: 100 examples in batches of 10.
  calibrate(*model, d, {.batches = 1000, .batchSize = 10});
  for (auto& [name, q] : modulesOfType<ActivationQuantizer>(*model)) EXPECT_EQ(q->steps(), 10) << name;
}

TEST(CalibrateTest, CalibrationObservesFloatValuesAndQuantizesAfterwards) {
  const data::TensorDataset d = scalars({0.0f, 0.1f, 0.37f, 1.0f});
  auto m = quantizerOnly();
  calibrate(*m, d, oneBatch(d, CalibrationMethod::MinMax));
  EXPECT_EQ(quantizerOf(*m).min(), 0.0f);
  EXPECT_EQ(quantizerOf(*m).max(), 1.0f);
  // The observer is gone: the output is on the grid of [0, 1], 0.37 * 255 = 94.35 -> 94 / 255.
  const Tensor y = predict(*m, d);
  EXPECT_FLOAT_EQ(y[2], 94.0f / 255.0f);
}

TEST(CalibrateTest, BadInputsSayWhat) {
  auto model = mlp();
  quantizeModel(*model);
  const data::TensorDataset d = clusters(30, 1);
  const data::TensorDataset empty(Tensor(Shape{0, 10}), Tensor(Shape{0}));
  EXPECT_NE(messageOf([&] { calibrate(*model, empty, {}); }).find("calibration set of size 0"), std::string::npos);
  EXPECT_NE(messageOf([&] { calibrate(*model, d, {.batches = 0}); }).find("batches must be >= 1, got 0"),
            std::string::npos);
  EXPECT_NE(messageOf([&] { calibrate(*model, d, {.batchSize = 0}); }).find("batch size must be >= 1"),
            std::string::npos);
  for (double p : {0.0, -1.0, 100.5})
    EXPECT_NE(messageOf([&] { calibrate(*model, d, {.method = CalibrationMethod::Percentile, .percentile = p}); })
                  .find("percentile must be in (0, 100]"),
              std::string::npos)
        << p;
  auto plain = mlp();
  EXPECT_NE(messageOf([&] { calibrate(*plain, d, {}); }).find("no activation quantizers"), std::string::npos);

  // Full integer PTQ refuses an empty calibration set before touching the model.
  auto fresh = mlp();
  EXPECT_NE(messageOf([&] { postTrainingQuantize(*fresh, empty, {}); }).find("calibration set of size 0"),
            std::string::npos);
  EXPECT_EQ(fresh->size(), 4u);
  EXPECT_TRUE(quantizeWrappers(*fresh).empty());
  PtqOptions badBatches;
  badBatches.calibration.batches = 0;
  EXPECT_NE(messageOf([&] { postTrainingQuantize(*fresh, d, badBatches); }).find("batches must be >= 1"),
            std::string::npos);
  EXPECT_TRUE(quantizeWrappers(*fresh).empty());
}

TEST(CalibrateTest, DynamicRangesArePerExample) {
  ActivationQuantizer q({.tracking = RangeTracking::Dynamic});
  q.eval();
  Tensor x(Shape{2, 3});
  const float values[] = {0.0f, 0.25f, 1.0f, -100.0f, 3.0f, 100.0f};
  std::copy(std::begin(values), std::end(values), x.begin());
  const Tensor y = q.forward(Variable(x)).value();
  // Row 0 on [0, 1]: 0.25 * 255 = 63.75 rounds to 64.
  EXPECT_FLOAT_EQ(y[1], 64.0f / 255.0f);
  EXPECT_FLOAT_EQ(y[2], 1.0f);
  // Row 1 on [-100, 100], zero point nudged to 128 (127.5 rounded away from zero): scale 200 / 255.
  const float scale = 200.0f / 255.0f;
  EXPECT_FLOAT_EQ(y[4], 4.0f * scale);
  // Each example alone gives the same values as in the batch.
  for (int64_t r = 0; r < 2; ++r) {
    Tensor row(Shape{1, 3});
    std::copy(x.begin() + r * 3, x.begin() + r * 3 + 3, row.begin());
    const Tensor alone = q.forward(Variable(row)).value();
    for (int64_t j = 0; j < 3; ++j) EXPECT_EQ(alone[j], y[r * 3 + j]) << r << ", " << j;
  }
  EXPECT_EQ(q.steps(), 0);  // eval leaves the buffers alone
  q.train();
  q.forward(Variable(x));
  EXPECT_EQ(q.steps(), 1);
  EXPECT_EQ(q.min(), -100.0f);
  EXPECT_EQ(q.max(), 100.0f);
  // Survives the architecture round trip.
  const auto rebuilt = ActivationQuantizer::fromConfig(q.config());
  EXPECT_EQ(static_cast<ActivationQuantizer&>(*rebuilt).options().tracking, RangeTracking::Dynamic);
}

PtqOptions dynamicRange() {
  PtqOptions o;
  o.mode = PtqMode::DynamicRange;
  return o;
}

TEST(CalibrateTest, DynamicRangeModeQuantizesEachLayerInputAndNeedsNoData) {
  auto model = mlp();
  const data::TensorDataset empty(Tensor(Shape{0, 10}), Tensor(Shape{0}));
  EXPECT_EQ(postTrainingQuantize(*model, empty, dynamicRange()), 3);
  EXPECT_FALSE(model->isTraining());
  std::vector<std::string> names;
  for (size_t i = 0; i < model->size(); ++i) names.push_back(model->name(i));
  EXPECT_EQ(names, (std::vector<std::string>{"dense_input_quantizer", "dense", "dropout", "dense_1_input_quantizer",
                                             "dense_1", "dense_2_input_quantizer", "dense_2"}));
  for (auto& [name, w] : quantizeWrappers(*model)) EXPECT_EQ(w->outputQuantizer(), nullptr) << name;
  for (auto& [name, q] : modulesOfType<ActivationQuantizer>(*model))
    EXPECT_EQ(q->options().tracking, RangeTracking::Dynamic) << name;
  EXPECT_TRUE(isCalibrated(*model));  // nothing to calibrate
}

TEST(CalibrateTest, DynamicRangeModeReplacesBatchNormQuantizers) {
  auto m = std::make_unique<Sequential>();
  m->add<Conv2D>({.in = 1, .out = 4, .kernel = {3, 3}, .seed = 1});
  m->add<BatchNorm>({.features = 4});
  m->add<ReLU>({});
  m->add<Flatten>({});
  m->add<Dense>({.in = 4 * 6 * 6, .out = 3, .seed = 3});
  const data::TensorDataset empty(Tensor(Shape{0, 1, 8, 8}), Tensor(Shape{0}));
  postTrainingQuantize(*m, empty, dynamicRange());
  for (size_t i = 0; i < m->size(); ++i) {
    if (auto* q = dynamic_cast<ActivationQuantizer*>(&m->at(i))) {
      EXPECT_EQ(q->options().tracking, RangeTracking::Dynamic) << m->name(i);
      ASSERT_LT(i + 1, m->size());
      EXPECT_EQ(m->at(i + 1).typeName(), "QuantizeWrapper") << m->name(i);
    }
  }
  EXPECT_EQ(modulesOfType<ActivationQuantizer>(*m).size(), 2u);
  const Tensor y = m->forward(Variable(test::uniform(Shape{2, 1, 8, 8}, 5))).value();
  EXPECT_EQ(y.shape(), (Shape{2, 3}));
}

TEST(CalibrateTest, QuantizedModelBytesCountWeightsAtTheirBits) {
  auto model = mlp();
  EXPECT_EQ(quantizedModelBytes(*model), 4 * (880 + 51));
  quantizeModel(*model);
  // 880 kernel values at 1 byte, 3 kernel ranges, 51 float biases, 4 activation ranges.
  EXPECT_EQ(quantizedModelBytes(*model), 880 + 3 * 8 + 51 * 4 + 4 * 8);
  auto four = mlp();
  QuantizeScheme scheme;
  scheme.defaults.weightBits = 4;
  quantizeModel(*four, scheme);
  EXPECT_EQ(quantizedModelBytes(*four), 440 + 3 * 8 + 51 * 4 + 4 * 8);
}

TEST(CalibrateTest, PostTrainingQuantizationOfATrainedMlpKeepsItsAccuracy) {
  const data::TensorDataset train = clusters(900, 1), test = clusters(600, 2);
  auto model = mlp();
  Adam adam(model->trainableParameters(), {.lr = 3e-3f});
  fit(*model, adam, Objective::classification(), train, {.epochs = 15, .verbose = 0});
  const double floatAccuracy = evaluate(*model, Objective::classification(), test).at("accuracy");
  ASSERT_GT(floatAccuracy, 0.9);

  for (CalibrationMethod method : {CalibrationMethod::MinMax, CalibrationMethod::Percentile, CalibrationMethod::Mse}) {
    auto q = copyModel(*model);
    PtqOptions o;
    o.calibration = {.method = method, .batches = 8};
    EXPECT_EQ(postTrainingQuantize(*q, train, o), 3);
    EXPECT_FALSE(q->isTraining());
    EXPECT_TRUE(isCalibrated(*q));
    const double accuracy = evaluate(*q, Objective::classification(), test).at("accuracy");
    EXPECT_GT(accuracy, floatAccuracy - 0.02) << calibrationMethodName(method);
    // The int8 model differs from the float one: the predictions are not all equal.
    EXPECT_FALSE(allClose(predict(*q, test), predict(*model, test), 1e-6f, 0.0f)) << calibrationMethodName(method);
  }
  auto dynamic = copyModel(*model);
  postTrainingQuantize(*dynamic, data::TensorDataset(), dynamicRange());
  EXPECT_GT(evaluate(*dynamic, Objective::classification(), test).at("accuracy"), floatAccuracy - 0.01);
}

}  // namespace
}  // namespace shrink
