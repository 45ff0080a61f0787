// The `shrink` command, run as a user would: exit codes and one-line messages.
#include <sys/wait.h>

#include <array>
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
  const fs::path errFile = fs::temp_directory_path() / "shrink_cli_test.err";
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

}  // namespace
