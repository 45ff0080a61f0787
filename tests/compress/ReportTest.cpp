// The cost report: exact counts on hand-zeroed models, sizes of dense vs sparse models, latency.
#include <cmath>
#include <memory>

#include <gtest/gtest.h>
#include <zlib.h>

#include "compress/Report.h"
#include "core/Functions.h"
#include "layers/layers.h"
#include "optim/ModelFile.h"
#include "tests/TestUtils.h"

namespace shrink {
namespace {

/// Sets every parameter of `model` to values away from zero, so only the zeros a test writes count.
void fillNonZero(Module& model, uint64_t seed) {
  NoGradGuard g;
  for (auto& [name, p] : model.namedParameters()) p->leaf().mutableValue() = test::awayFromZero(p->shape(), seed++);
}

Tensor& leafOf(Module& model, const std::string& name) {
  for (auto& [n, p] : model.namedParameters())
    if (n == name) return p->leaf().mutableValue();
  throw std::invalid_argument("no parameter " + name);
}

/// Conv2D [2,1,2,2] + bias 2, BatchNorm gamma/beta 2 + 2 (buffers 2 + 2), Dense [3, 18] + bias 3; input [N,1,4,4].
std::unique_ptr<Sequential> smallCnn() {
  auto m = std::make_unique<Sequential>();
  m->add<Conv2D>({.in = 1, .out = 2, .kernel = {2, 2}, .seed = 1});
  m->add<BatchNorm>({.features = 2});
  m->add<ReLU>({});
  m->add<Flatten>({});
  m->add<Dense>({.in = 18, .out = 3, .seed = 2});
  fillNonZero(*m, 10);
  return m;
}

std::unique_ptr<Sequential> wideMlp(int64_t width) {
  auto m = std::make_unique<Sequential>();
  m->add<Dense>({.in = width, .out = width, .activation = Activation::ReLU, .seed = 3});
  m->add<Dense>({.in = width, .out = 10, .seed = 4});
  fillNonZero(*m, 20);
  return m;
}

/// A pruning-like transform: weight * mask.
class MaskTransform : public WeightTransform {
 public:
  explicit MaskTransform(Tensor mask) : mask_(std::move(mask)) {}
  Variable apply(const Variable& w) const override { return mul(w, mask_); }
  TransformStage stage() const override { return TransformStage::Prune; }

 private:
  Variable mask_;
};

/// A wrapper that owns a layer and reports the layer's weights as its own, as compression wrappers do.
class ReportingWrapper : public Module {
 public:
  explicit ReportingWrapper(std::unique_ptr<Module> inner) : inner_(&registerModule("layer", std::move(inner))) {}
  Variable forward(const Variable& x) override { return inner_->forward(x); }
  std::string typeName() const override { return "ReportingWrapper"; }
  std::vector<Parameter*> compressibleWeights() override { return inner_->compressibleWeights(); }

 private:
  Module* inner_;
};

TEST(ReportTest, CountsAndSparsityAreExactOnHandZeroedKernels) {
  auto model = smallCnn();
  {
    NoGradGuard g;
    Tensor& conv = leafOf(*model, "conv2d.weight");
    for (int64_t i : {0, 3, 5}) conv[i] = 0;
    Tensor& dense = leafOf(*model, "dense.weight");
    for (int64_t i = 0; i < dense.numel(); i += 2) dense[i] = 0;  // 27 of 54
    leafOf(*model, "dense.bias")[1] = 0;
  }
  const ModelReport r = report(*model, {.sizes = false});

  ASSERT_EQ(r.weights.size(), 2u);
  EXPECT_EQ(r.weights[0].name, "conv2d.weight");
  EXPECT_EQ(r.weights[0].layer, "conv2d");
  EXPECT_EQ(r.weights[0].type, "Conv2D");
  EXPECT_EQ(r.weights[0].shape, (Shape{2, 1, 2, 2}));
  EXPECT_EQ(r.weights[0].parameters, 8);
  EXPECT_EQ(r.weights[0].nonZero, 5);
  EXPECT_DOUBLE_EQ(r.weights[0].sparsity, 3.0 / 8.0);
  EXPECT_EQ(r.weights[1].name, "dense.weight");
  EXPECT_EQ(r.weights[1].parameters, 54);
  EXPECT_EQ(r.weights[1].nonZero, 27);
  EXPECT_DOUBLE_EQ(r.weights[1].sparsity, 0.5);

  ASSERT_EQ(r.layers.size(), 3u);  // ReLU and Flatten hold no parameters
  EXPECT_EQ(r.layers[0].name, "conv2d");
  EXPECT_EQ(r.layers[0].parameters, 10);
  EXPECT_EQ(r.layers[0].nonZero, 7);
  EXPECT_EQ(r.layers[1].name, "batch_normalization");
  EXPECT_EQ(r.layers[1].type, "BatchNorm");
  EXPECT_EQ(r.layers[1].parameters, 4);
  EXPECT_EQ(r.layers[1].nonZero, 4);
  EXPECT_DOUBLE_EQ(r.layers[1].sparsity, 0.0);
  EXPECT_EQ(r.layers[2].name, "dense");
  EXPECT_EQ(r.layers[2].parameters, 57);
  EXPECT_EQ(r.layers[2].nonZero, 29);
  EXPECT_DOUBLE_EQ(r.layers[2].sparsity, 28.0 / 57.0);

  EXPECT_EQ(r.totalParameters, model->parameterCount());
  EXPECT_EQ(r.totalParameters, 71);
  EXPECT_EQ(r.nonZeroParameters, 40);
  EXPECT_DOUBLE_EQ(r.sparsity, 31.0 / 71.0);
  EXPECT_DOUBLE_EQ(r.compressionRatio, 71.0 / 40.0);
  EXPECT_EQ(r.prunableParameters, 62);
  EXPECT_EQ(r.prunableNonZero, 32);
  EXPECT_DOUBLE_EQ(r.prunableSparsity, 30.0 / 62.0);
  EXPECT_EQ(r.bufferElements, 4);
  EXPECT_FALSE(r.hasSizes);
  EXPECT_TRUE(r.latency.empty());
}

TEST(ReportTest, CountsReadWeightsThroughTheirTransforms) {
  Tensor mask(Shape{10, 32}, 1.0f);
  for (int64_t i = 0; i < mask.numel(); ++i)
    if (i % 4 != 0) mask[i] = 0;  // keeps 80 of 320
  MaskTransform transform(mask);  // outlives the model that points at it
  auto model = wideMlp(32);
  auto& head = dynamic_cast<Dense&>(model->at(1));
  head.weight().addTransform(&transform);

  const ModelReport r = report(*model, {.sizes = false});
  ASSERT_EQ(r.weights.size(), 2u);
  EXPECT_EQ(r.weights[1].name, "dense_1.weight");
  EXPECT_EQ(r.weights[1].nonZero, 80);
  EXPECT_DOUBLE_EQ(r.weights[1].sparsity, 0.75);
  EXPECT_EQ(r.weights[0].nonZero, 32 * 32);
  // The leaf itself is untouched: only the transformed value is sparse.
  for (float v : head.weight().leaf().value()) ASSERT_NE(v, 0.0f);
}

TEST(ReportTest, WrappedWeightsAreCountedOnceUnderTheWrapper) {
  Sequential model;
  model.add(std::make_unique<ReportingWrapper>(std::make_unique<Dense>(DenseOptions{.in = 4, .out = 3, .seed = 5})),
            "pruned");
  fillNonZero(model, 30);
  const ModelReport r = report(model, {.sizes = false});
  ASSERT_EQ(r.weights.size(), 1u);
  EXPECT_EQ(r.weights[0].name, "pruned.layer.weight");
  EXPECT_EQ(r.weights[0].layer, "pruned");
  EXPECT_EQ(r.weights[0].type, "ReportingWrapper");
  ASSERT_EQ(r.layers.size(), 1u);
  EXPECT_EQ(r.layers[0].name, "pruned.layer");
  EXPECT_EQ(r.layers[0].type, "Dense");
  EXPECT_EQ(r.totalParameters, 15);
}

TEST(ReportTest, AllZeroModelHasInfiniteRatioWrittenAsNull) {
  auto model = wideMlp(8);
  {
    NoGradGuard g;
    for (auto& [name, p] : model->namedParameters()) p->leaf().mutableValue().fill(0.0f);
  }
  const ModelReport r = report(*model, {.sizes = false});
  EXPECT_EQ(r.nonZeroParameters, 0);
  EXPECT_DOUBLE_EQ(r.sparsity, 1.0);
  EXPECT_TRUE(std::isinf(r.compressionRatio));
  EXPECT_TRUE(toJson(r)["total"]["compression_ratio"].is_null());
}

TEST(ReportTest, GzipOfANinetyPercentZeroModelIsMuchSmaller) {
  auto dense = wideMlp(256);
  auto sparse = wideMlp(256);
  {
    NoGradGuard g;
    for (auto& [name, p] : sparse->namedParameters()) {
      Tensor& t = p->leaf().mutableValue();
      for (int64_t i = 0; i < t.numel(); ++i)
        if (i % 10 != 0) t[i] = 0;
    }
  }
  const ModelReport d = report(*dense), s = report(*sparse);
  ASSERT_TRUE(d.hasSizes && s.hasSizes);
  EXPECT_NEAR(s.sparsity, 0.9, 0.001);
  // Stored archives hold every float: equal sizes, at least 4 bytes per parameter.
  EXPECT_EQ(d.sizes.uncompressedBytes, s.sizes.uncompressedBytes);
  EXPECT_GE(d.sizes.uncompressedBytes, 4 * d.totalParameters);
  // Random floats barely compress; 90% zeros do.
  EXPECT_GT(d.sizes.uncompressedGzipBytes, d.sizes.uncompressedBytes * 8 / 10);
  EXPECT_LT(s.sizes.uncompressedGzipBytes, d.sizes.uncompressedGzipBytes * 3 / 10)
      << s.sizes.uncompressedGzipBytes << " vs " << d.sizes.uncompressedGzipBytes;
  EXPECT_LT(s.sizes.fileGzipBytes, d.sizes.fileGzipBytes * 3 / 10);
  EXPECT_LT(s.sizes.fileBytes, d.sizes.fileBytes * 3 / 10);
  // The file is what saveModel writes at the default level.
  EXPECT_EQ(d.sizes.fileBytes, static_cast<int64_t>(modelArchive(*dense).toBytes(6).size()));
}

TEST(ReportTest, GzipBytesIsAGzipStreamOfTheInput) {
  std::vector<uint8_t> data(5000);
  for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<uint8_t>((i * 7) % 13);
  const std::vector<uint8_t> gz = gzipBytes(data);
  ASSERT_GE(gz.size(), 18u);
  EXPECT_EQ(gz[0], 0x1f);
  EXPECT_EQ(gz[1], 0x8b);
  z_stream zs{};
  ASSERT_EQ(inflateInit2(&zs, 15 + 16), Z_OK);
  std::vector<uint8_t> back(data.size() + 16);
  zs.next_in = const_cast<Bytef*>(gz.data());
  zs.avail_in = static_cast<uInt>(gz.size());
  zs.next_out = back.data();
  zs.avail_out = static_cast<uInt>(back.size());
  EXPECT_EQ(inflate(&zs, Z_FINISH), Z_STREAM_END);
  back.resize(zs.total_out);
  inflateEnd(&zs);
  EXPECT_EQ(back, data);
  EXPECT_NE(test::messageOf([&] { gzipBytes(data, 10); }).find("gzipBytes"), std::string::npos);
}

TEST(ReportTest, LatencyIsMeasuredOnlyWhenRequestedAndModesAreRestored) {
  auto model = smallCnn();
  model->train();
  model->at(1).eval();  // a mixed mode the report must leave as found
  const ModelReport without = report(*model, {.sizes = false});
  EXPECT_TRUE(without.latency.empty());
  EXPECT_FALSE(toJson(without).contains("latency"));
  EXPECT_FALSE(toJson(without).contains("sizes"));

  const ModelReport with =
      report(*model, {.sizes = false, .latency = true, .inputShape = Shape{1, 4, 4}, .warmup = 1, .repetitions = 3});
  ASSERT_EQ(with.latency.size(), 2u);
  EXPECT_EQ(with.latency[0].batchSize, 1);
  EXPECT_EQ(with.latency[1].batchSize, 1000);
  for (const LatencyReport& l : with.latency) {
    EXPECT_EQ(l.repetitions, 3);
    EXPECT_GT(l.batchSeconds, 0);
    EXPECT_GT(l.sampleSeconds, 0);
    EXPECT_DOUBLE_EQ(l.sampleSeconds, l.batchSeconds / static_cast<double>(l.batchSize));
  }
  const nlohmann::json j = toJson(with);
  ASSERT_EQ(j["latency"].size(), 2u);
  EXPECT_EQ(j["latency"][1]["batch_size"], 1000);
  EXPECT_GT(j["latency"][1]["sample_seconds"].get<double>(), 0);

  EXPECT_TRUE(model->isTraining());
  EXPECT_TRUE(model->at(0).isTraining());
  EXPECT_FALSE(model->at(1).isTraining());
  EXPECT_TRUE(model->at(4).isTraining());
}

TEST(ReportTest, FormatAndJsonCarryTheSameFigures) {
  auto model = smallCnn();
  {
    NoGradGuard g;
    leafOf(*model, "dense.weight").fill(0.0f);
  }
  const ModelReport r = report(*model);
  const std::string text = formatReport(r);
  for (const char* needle : {"conv2d.weight", "dense.weight", "batch_normalization (BatchNorm)", "Compression ratio",
                             "Model file", "Uncompressed archive, gzip", "100.00%"})
    EXPECT_NE(text.find(needle), std::string::npos) << needle << " missing from\n" << text;
  EXPECT_EQ(text.find("Latency"), std::string::npos);

  const nlohmann::json j = toJson(r);
  EXPECT_EQ(j["weights"].size(), r.weights.size());
  EXPECT_EQ(j["weights"][1]["non_zero"], 0);
  EXPECT_EQ(j["weights"][1]["shape"], nlohmann::json({3, 18}));
  EXPECT_EQ(j["layers"].size(), r.layers.size());
  EXPECT_EQ(j["total"]["parameters"], r.totalParameters);
  EXPECT_DOUBLE_EQ(j["total"]["compression_ratio"].get<double>(), r.compressionRatio);
  EXPECT_EQ(j["sizes"]["file_bytes"], r.sizes.fileBytes);
  EXPECT_EQ(j["sizes"]["uncompressed_gzip_bytes"], r.sizes.uncompressedGzipBytes);
}

TEST(ReportTest, BadOptionsNameTheProblem) {
  auto model = smallCnn();
  EXPECT_NE(test::messageOf([&] { report(*model, {.latency = true}); }).find("shape of one input example"),
            std::string::npos);
  EXPECT_NE(test::messageOf([&] {
              report(*model, {.latency = true, .inputShape = Shape{1, 4, 4}, .batchSizes = {1, 0}});
            }).find("batch sizes must be >= 1, got 0"),
            std::string::npos);
  EXPECT_NE(test::messageOf([&] {
              report(*model, {.latency = true, .inputShape = Shape{1, 4, 4}, .repetitions = 0});
            }).find("repetitions must be >= 1, got 0"),
            std::string::npos);
  EXPECT_NE(test::messageOf([&] { report(*model, {.fileCompressionLevel = 12}); }).find("12"), std::string::npos);
  // An input shape the model cannot take fails with the model's own error.
  EXPECT_THROW(report(*model, {.sizes = false, .latency = true, .inputShape = Shape{3, 4, 4}}),
               std::invalid_argument);
  EXPECT_TRUE(model->isTraining());
}

}  // namespace
}  // namespace shrink
