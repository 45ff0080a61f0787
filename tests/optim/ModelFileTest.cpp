// Whole-model files: architecture + weights + buffers (+ optimizer state) in one archive.
#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

#include "datasets/datasets.h"
#include "layers/layers.h"
#include "optim/optim.h"
#include "tests/TestUtils.h"

namespace shrink {
namespace {

namespace fs = std::filesystem;

fs::path tempPath(const std::string& name) {
  const fs::path dir = fs::temp_directory_path() / "shrink_model_file_test";
  fs::create_directories(dir);
  return dir / name;
}

/// Every layer type, in a model that runs on [N, 2, 8, 8] input.
std::unique_ptr<Sequential> everyLayer() {
  auto m = std::make_unique<Sequential>();
  m->add<Conv2D>({.in = 2, .out = 4, .kernel = {3, 3}, .padding = Padding::Same, .seed = 1});
  m->add<BatchNorm>({.features = 4});
  m->add<ReLU>({});
  m->add<MaxPool2D>({});
  m->add<Conv2D>({.in = 4, .out = 3, .kernel = {2, 2}, .activation = Activation::Tanh, .seed = 2});
  m->add<AvgPool2D>({.kernelH = 2, .kernelW = 2, .strideH = 1, .strideW = 1, .padding = Padding::Same});
  m->add<LeakyReLU>({.alpha = 0.1f});
  m->add<Flatten>({});
  m->add<Dropout>({.rate = 0.25f, .seed = 9});
  m->add<Dense>({.in = 27, .out = 6, .activation = Activation::Sigmoid, .seed = 3});
  m->add<BatchNorm>({.features = 6, .momentum = 0.9f, .epsilon = 1e-5f});
  m->add<Sigmoid>({});
  m->add<Tanh>({});
  m->add<Dense>({.in = 6, .out = 4, .useBias = false, .seed = 4});
  m->add<Softmax>({});
  return m;
}

Tensor input(uint64_t seed) { return Generator(seed).normalTensor(Shape{5, 2, 8, 8}, 0.f, 1.f); }

Tensor run(Module& m, const Tensor& x) {
  NoGradGuard g;
  m.eval();
  return m(Variable(x)).value();
}

TEST(ModelFileTest, EveryLayerTypeRoundTripsBitForBit) {
  auto model = everyLayer();
  // Train mode a few times so BatchNorm's running statistics move away from their initial values.
  for (int i = 0; i < 3; ++i) {
    NoGradGuard g;
    model->train();
    (*model)(Variable(input(i)));
  }
  const fs::path path = tempPath("every.shrink");
  saveModel(*model, path.string(), {.info = {{"note", "test"}}});
  LoadedModel loaded = loadModel(path.string());
  EXPECT_EQ(architectureOf(*loaded.model), architectureOf(*model));
  EXPECT_EQ(loaded.info["note"], "test");
  const Tensor x = input(42);
  Tensor a = run(*model, x), b = run(*loaded.model, x);
  ASSERT_EQ(a.shape(), b.shape());
  for (int64_t i = 0; i < a.numel(); ++i) ASSERT_EQ(a[i], b[i]) << i;
  auto bufA = model->namedBuffers(), bufB = loaded.model->namedBuffers();
  ASSERT_EQ(bufA.size(), 4u);
  for (size_t i = 0; i < bufA.size(); ++i) EXPECT_TRUE(test::allClose(*bufA[i].second, *bufB[i].second, 0, 0));
}

TEST(ModelFileTest, TrainedModelAndOptimizerResumeExactly) {
  auto data = data::makeFriedman1({.nSamples = 256, .seed = 3});
  auto build = [] {
    auto m = std::make_unique<Sequential>();
    m->add<Dense>({.in = 10, .out = 16, .activation = Activation::ReLU, .seed = 1});
    m->add<Dense>({.in = 16, .out = 1, .seed = 2});
    return m;
  };
  auto model = build();
  Adam adam(model->parameters(), {.lr = 0.01f});
  fit(*model, adam, Objective::regression(), data, {.epochs = 2, .verbose = 0});
  const fs::path path = tempPath("resume.shrink");
  saveModel(*model, path.string(), {.optimizer = &adam});

  LoadedModel loaded = loadModel(path.string());
  Adam resumed(loaded.model->parameters(), {.lr = 0.01f});
  loadOptimizerState(resumed, loaded.archive, path.string());
  EXPECT_EQ(resumed.iterations(), adam.iterations());

  FitOptions more{.epochs = 2, .shuffle = false, .verbose = 0};
  auto h1 = fit(*model, adam, Objective::regression(), data, more);
  auto h2 = fit(*loaded.model, resumed, Objective::regression(), data, more);
  EXPECT_EQ(h1["loss"], h2["loss"]);
  EXPECT_TRUE(test::allClose(predict(*model, data), predict(*loaded.model, data), 0, 0));
}

std::string loadError(const fs::path& path) {
  try {
    loadModel(path.string());
  } catch (const std::runtime_error& e) {
    return e.what();
  }
  return "(no error)";
}

std::vector<uint8_t> savedBytes() {
  auto model = everyLayer();
  return modelArchive(*model).toBytes();
}

void write(const fs::path& p, const std::vector<uint8_t>& bytes) {
  std::ofstream(p, std::ios::binary).write(reinterpret_cast<const char*>(bytes.data()), std::streamsize(bytes.size()));
}

TEST(ModelFileTest, DamagedFilesGiveClearErrors) {
  const fs::path p = tempPath("damaged.shrink");
  std::vector<uint8_t> bytes = savedBytes();

  std::vector<uint8_t> truncated(bytes.begin(), bytes.end() - 10);
  write(p, truncated);
  EXPECT_NE(loadError(p).find("truncated"), std::string::npos) << loadError(p);
  EXPECT_NE(loadError(p).find(p.string()), std::string::npos) << loadError(p);

  std::vector<uint8_t> flipped = bytes;
  flipped[bytes.size() / 2] ^= 0x04;
  write(p, flipped);
  EXPECT_NE(loadError(p).find("corrupted"), std::string::npos) << loadError(p);

  std::vector<uint8_t> foreign = bytes;
  foreign[1] = 'X';
  write(p, foreign);
  EXPECT_NE(loadError(p).find("not a shrink file"), std::string::npos) << loadError(p);

  std::vector<uint8_t> future = bytes;
  future[8] = static_cast<uint8_t>(Archive::kFormatVersion + 1);
  write(p, future);
  EXPECT_NE(loadError(p).find("newer"), std::string::npos) << loadError(p);

  EXPECT_NE(loadError(tempPath("missing.shrink")).find("missing.shrink"), std::string::npos);
}

TEST(ModelFileTest, AnArchiveThatIsNotAModelIsRejected) {
  Archive a;
  a.meta()["kind"] = "something-else";
  const fs::path p = tempPath("other.shrink");
  a.save(p.string());
  EXPECT_NE(loadError(p).find("not a model"), std::string::npos) << loadError(p);
}

TEST(ModelFileTest, LoadWeightsChecksShapes) {
  auto small = std::make_unique<Sequential>();
  small->add<Dense>({.in = 3, .out = 2, .seed = 1});
  const fs::path p = tempPath("small.shrink");
  saveModel(*small, p.string());
  Sequential other;
  other.add<Dense>({.in = 4, .out = 2, .seed = 1});
  try {
    loadWeights(other, p.string());
    FAIL();
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("dense.weight"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("[2, 3]"), std::string::npos) << e.what();
  }
}

TEST(ModelFileTest, SaveOverAnExistingFileIsAtomic) {
  // A directory of its own: other tests of this file may be saving (through a temporary file) beside
  // it at the same moment when tests run in parallel.
  const fs::path p = tempPath("atomic") / "atomic_model.shrink";
  fs::create_directories(p.parent_path());
  auto model = everyLayer();
  saveModel(*model, p.string());
  saveModel(*model, p.string());
  for (const auto& entry : fs::directory_iterator(p.parent_path()))
    EXPECT_EQ(entry.path().string().find(".tmp"), std::string::npos) << entry.path();
  EXPECT_NO_THROW(loadModel(p.string()));
}

}  // namespace
}  // namespace shrink
