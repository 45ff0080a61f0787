// The `shrink` command, run as a user would: exit codes and one-line messages.
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace {

namespace fs = std::filesystem;

struct Result {
  int exitCode = -1;
  std::string out;  // stdout
  std::string err;  // stderr
};

/// Runs the shrink binary with `args` (shell syntax), capturing stdout and stderr separately.
Result shrink(const std::string& args) {
  // Per process: CTest runs the tests of this file in parallel processes.
  const fs::path errFile = fs::temp_directory_path() / ("shrink_cli_test." + std::to_string(getpid()) + ".err");
  const std::string cmd = std::string(SHRINK_BIN) + " " + args + " 2>" + errFile.string();
  Result r;
  FILE* pipe = popen(cmd.c_str(), "r");
  if (!pipe) return r;
  std::array<char, 4096> buf;
  size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), pipe)) > 0) r.out.append(buf.data(), n);
  const int status = pclose(pipe);
  r.exitCode = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  std::ifstream in(errFile);
  r.err.assign(std::istreambuf_iterator<char>(in), {});
  return r;
}

int lines(const std::string& s) {
  int n = 0;
  for (char c : s) n += c == '\n';
  return n;
}

/// A failed run: non-zero exit, exactly one line on stderr starting "shrink: error:", containing `what`.
void expectOneLineError(const Result& r, const std::string& what) {
  EXPECT_NE(r.exitCode, 0);
  EXPECT_EQ(lines(r.err), 1) << r.err;
  EXPECT_EQ(r.err.rfind("shrink: error:", 0), 0u) << r.err;
  EXPECT_NE(r.err.find(what), std::string::npos) << r.err;
}

TEST(CliTest, MissingDataDirectory) {
  expectOneLineError(shrink("train --model lenet300 --dataset mnist --data-dir /nonexistent/mnist --epochs 1"),
                     "/nonexistent/mnist");
}

TEST(CliTest, UnknownModel) {
  expectOneLineError(shrink("train --model lenet301 --dataset friedman1 --epochs 1"), "lenet301");
}

TEST(CliTest, NegativeEpochCount) {
  expectOneLineError(shrink("train --model friedman-mlp --dataset friedman1 --epochs -3"), "--epochs");
}

TEST(CliTest, MalformedJsonModelFile) {
  const fs::path p = fs::temp_directory_path() / "shrink_cli_bad_model.json";
  std::ofstream(p) << R"({"type": "Sequential", "layers": [{"type": "Dense", "config": {"in": 10, )";
  expectOneLineError(shrink("train --model " + p.string() + " --dataset friedman1 --epochs 1"), "not valid JSON");
}

TEST(CliTest, JsonModelWithAnUnknownField) {
  const fs::path p = fs::temp_directory_path() / "shrink_cli_typo_model.json";
  std::ofstream(p) << R"({"type": "Sequential", "layers": [{"type": "Dense", "config": {"in": 10, "outs": 1}}]})";
  expectOneLineError(shrink("train --model " + p.string() + " --dataset friedman1 --epochs 1"), "out");
}

TEST(CliTest, UnknownOption) { expectOneLineError(shrink("train --model lenet300 --epoch 3"), "--epoch"); }

TEST(CliTest, MissingModelFileForEvaluate) {
  expectOneLineError(shrink("evaluate /nonexistent/model.shrink --dataset friedman1"), "/nonexistent/model.shrink");
}

// A tiny regression run end to end: train --json, save, evaluate and summary of the saved file.
TEST(CliTest, TrainSaveEvaluateSummary) {
  const fs::path model = fs::temp_directory_path() / "shrink_cli_friedman.shrink";
  Result t = shrink("train --model friedman-mlp --dataset friedman1 --samples 500 --epochs 3 --json --out " +
                 model.string());
  ASSERT_EQ(t.exitCode, 0) << t.err;
  auto j = nlohmann::json::parse(t.out);
  for (const char* key : {"test_mse", "test_mae", "test_loss", "epochs_run", "train_seconds", "samples_per_second"})
    EXPECT_TRUE(j.contains(key)) << key << " missing in " << t.out;
  EXPECT_EQ(j["epochs_run"], 3);

  Result e = shrink("evaluate " + model.string() + " --dataset friedman1 --samples 500 --json");
  ASSERT_EQ(e.exitCode, 0) << e.err;
  auto je = nlohmann::json::parse(e.out);
  EXPECT_DOUBLE_EQ(je["test_mse"].get<double>(), j["test_mse"].get<double>());

  Result s = shrink("summary " + model.string());
  ASSERT_EQ(s.exitCode, 0) << s.err;
  EXPECT_NE(s.out.find("Total params: 1,537"), std::string::npos) << s.out;
}

/// A small trained Friedman model, saved once per test process.
std::string trainedFriedman() {
  static const std::string path = [] {
    const fs::path p = fs::temp_directory_path() / ("shrink_cli_prune." + std::to_string(getpid()) + ".shrink");
    const Result t = shrink("train --model friedman-mlp --dataset friedman1 --samples 600 --epochs 3 --json --out " +
                            p.string());
    EXPECT_EQ(t.exitCode, 0) << t.err;
    return p.string();
  }();
  return path;
}

/// The architecture of a quantized Friedman MLP (input quantizer, two wrapped Dense layers), written
/// to a JSON file named after `stem`.
fs::path quantizedFriedmanJson(const std::string& stem) {
  const fs::path p = fs::temp_directory_path() / (stem + "." + std::to_string(getpid()) + ".json");
  std::ofstream(p) << R"({"type": "Sequential", "layers": [
    {"type": "ActivationQuantizer", "name": "input_quantizer"},
    {"type": "QuantizeWrapper", "name": "dense",
     "config": {"layer": {"type": "Dense", "config": {"in": 10, "out": 16, "activation": "relu", "seed": 1}}}},
    {"type": "QuantizeWrapper", "name": "dense_1",
     "config": {"layer": {"type": "Dense", "config": {"in": 16, "out": 1, "seed": 2}}}}]})";
  return p;
}

TEST(CliTest, Int8EvaluateRefusesAModelThatWasNeverCalibrated) {
  const fs::path arch = quantizedFriedmanJson("shrink_cli_int8_uncalibrated");
  const fs::path model = fs::temp_directory_path() / ("shrink_cli_int8_uncalibrated." + std::to_string(getpid()));
  const Result t = shrink("train --model " + arch.string() + " --dataset friedman1 --samples 200 --epochs 0 --json "
                          "--out " + model.string());
  ASSERT_EQ(t.exitCode, 0) << t.err;
  expectOneLineError(shrink("evaluate " + model.string() + " --int8 --dataset friedman1 --samples 200"),
                     "int8 conversion of a model that was never calibrated");
  expectOneLineError(shrink("evaluate " + trainedFriedman() + " --int8 --dataset friedman1 --samples 200"),
                     "no quantize wrappers");
  fs::remove(arch);
  fs::remove(model);
}

TEST(CliTest, Int8EvaluateConvertsAQuantizedModelAndReadsTheInt8FileBack) {
  const fs::path arch = quantizedFriedmanJson("shrink_cli_int8_qat");
  const std::string stem = (fs::temp_directory_path() / ("shrink_cli_int8_qat." + std::to_string(getpid()))).string();
  const std::string data = " --dataset friedman1 --samples 400 ";
  const Result t = shrink("train --model " + arch.string() + data + "--epochs 2 --json --out " + stem + ".shrink");
  ASSERT_EQ(t.exitCode, 0) << t.err;
  const Result c = shrink("evaluate " + stem + ".shrink --int8 --json --int8-out " + stem + ".int8" + data);
  ASSERT_EQ(c.exitCode, 0) << c.err;
  const auto jc = nlohmann::json::parse(c.out);
  EXPECT_TRUE(jc["converted"].get<bool>());
  const Result r = shrink("evaluate " + stem + ".int8 --int8 --json" + data);
  ASSERT_EQ(r.exitCode, 0) << r.err;
  const auto jr = nlohmann::json::parse(r.out);
  EXPECT_FALSE(jr["converted"].get<bool>());
  EXPECT_EQ(jr["test_mse"].get<double>(), jc["test_mse"].get<double>());
  EXPECT_EQ(jr["int8_file_bytes"].get<int64_t>(), static_cast<int64_t>(fs::file_size(stem + ".int8")));
  // The integer model is close to the float evaluation of the same quantization-aware model.
  const Result f = shrink("evaluate " + stem + ".shrink --json" + data);
  ASSERT_EQ(f.exitCode, 0) << f.err;
  const double floatMse = nlohmann::json::parse(f.out)["test_mse"].get<double>();
  EXPECT_NEAR(jr["test_mse"].get<double>(), floatMse, 0.05 * floatMse + 0.05);
  for (const char* ext : {".shrink", ".int8"}) fs::remove(stem + ext);
  fs::remove(arch);
}


TEST(CliTest, PruneRejectsBadScheduleValues) {
  const std::string base = "prune " + trainedFriedman() + " --dataset friedman1 --samples 600 --epochs 1 ";
  expectOneLineError(shrink(base + "--final-sparsity 1.0"), "--final-sparsity must be in [0, 1), got 1");
  expectOneLineError(shrink(base + "--initial-sparsity -0.2"), "--initial-sparsity must be in [0, 1), got -0.2");
  expectOneLineError(shrink(base + "--begin-step -5"), "--begin-step must be >= 0, got -5");
  expectOneLineError(shrink(base + "--begin-step 200 --end-step 100"), "--end-step (100) must be >= --begin-step (200)");
  expectOneLineError(shrink(base + "--frequency 0"), "--frequency must be > 0, got 0");
  expectOneLineError(shrink(base + "--layers dense,dense_7"), "no layer named 'dense_7'; the model has: dense, dense_1");
  expectOneLineError(shrink(base + "--block 2by2"), "--block must be HxW with positive integers, got '2by2'");
  expectOneLineError(shrink(base + "--n-of-m 4:2"), "N:M sparsity needs 1 <= N < M, got 4:2");
  expectOneLineError(shrink(base + "--pooling median"), "--pooling");
  expectOneLineError(shrink(base + "--scope model"), "--scope");
  expectOneLineError(shrink(base + "--begin-step 100000"), "--begin-step (100000) is after the last training step");
}

TEST(CliTest, SweepAndStripRejectBadValues) {
  const std::string model = trainedFriedman();
  expectOneLineError(shrink("sweep " + model + " --dataset friedman1 --samples 600 --levels 0.5,1.0"),
                     "--levels must be in [0, 1), got 1");
  expectOneLineError(shrink("sweep " + model + " --dataset friedman1 --samples 600 --kind filter"),
                     "include no Conv2D layer");
  expectOneLineError(shrink("sweep " + model + " --dataset friedman1 --samples 600 --kind channel"), "--kind");
  expectOneLineError(shrink("sweep " + model + " --dataset friedman1 --samples 600 --layers dense_3"),
                     "no prunable layer named 'dense_3'");
  expectOneLineError(shrink("strip " + model + " /tmp/never-written.shrink"), "has no pruning wrappers to strip");
}

// prune with --keep-wrappers, resume it, strip it: each file reads back with the sparsity reported.
TEST(CliTest, PruneResumeStripAndSweep) {
  const fs::path dir = fs::temp_directory_path() / ("shrink_cli_prune_run." + std::to_string(getpid()));
  fs::create_directories(dir);
  const std::string data = " --dataset friedman1 --samples 600 ";
  const Result p = shrink("prune " + trainedFriedman() + data + "--schedule polynomial --initial-sparsity 0.2 " +
                          "--final-sparsity 0.75 --frequency 10 --end-step 40 --epochs 2 --json --keep-wrappers --out " +
                          (dir / "wrapped.shrink").string() + " --log-dir " + (dir / "logs").string());
  ASSERT_EQ(p.exitCode, 0) << p.err;
  const auto j = nlohmann::json::parse(p.out);
  EXPECT_EQ(j["pruning_step"], 26);  // 402 training examples, batch 32: 13 steps per epoch
  // The last update was at step 20, halfway from begin 0 to end 40.
  EXPECT_NEAR(j["sparsity"].get<double>(), 0.75 + (0.2 - 0.75) * std::pow(1 - 20.0 / 40, 3), 1e-3);
  EXPECT_TRUE(fs::exists(dir / "logs" / "pruning.csv"));

  const Result r = shrink("prune " + (dir / "wrapped.shrink").string() + data + "--epochs 2 --json --out " +
                          (dir / "resumed.shrink").string());
  ASSERT_EQ(r.exitCode, 0) << r.err;
  const auto jr = nlohmann::json::parse(r.out);
  EXPECT_EQ(jr["pruning_step"], 52);
  EXPECT_NEAR(jr["sparsity"].get<double>(), 0.75, 1e-3);
  expectOneLineError(shrink("prune " + (dir / "wrapped.shrink").string() + data + "--frequency 5"),
                     "already wrapped for pruning, so its schedule continues; drop --frequency");

  const Result s = shrink("strip " + (dir / "wrapped.shrink").string() + " " + (dir / "stripped.shrink").string());
  ASSERT_EQ(s.exitCode, 0) << s.err;
  const Result e = shrink("summary " + (dir / "stripped.shrink").string());
  EXPECT_EQ(e.out.find("PruneLowMagnitude"), std::string::npos) << e.out;

  const Result w = shrink("sweep " + (dir / "resumed.shrink").string() + data + "--levels 0.5,0.9 --json");
  ASSERT_EQ(w.exitCode, 0) << w.err;
  const auto jw = nlohmann::json::parse(w.out);
  ASSERT_EQ(jw["levels"].size(), 3u);
  EXPECT_NEAR(jw["levels"][2]["sparsity"].get<double>(), 0.9, 1e-3);
  fs::remove_all(dir);
}

}  // namespace
