#include "datasets/Mnist.h"

#include <algorithm>
#include <array>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "core/Check.h"
#include "datasets/Idx.h"

namespace shrink::data {
namespace {

constexpr int kNumClasses = 10;
constexpr const char* kExpectedFiles =
    "train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte and "
    "t10k-labels-idx1-ubyte, each optionally with .gz (MNIST or Fashion-MNIST)";

/// The accepted file names for `prefix` ("train"/"t10k") and `kind` ("images-idx3"/"labels-idx1").
std::array<std::string, 4> candidates(const std::string& prefix, const std::string& kind) {
  const std::string dashed = fmt::format("{}-{}-ubyte", prefix, kind);
  std::string dotted = fmt::format("{}-{}-ubyte", prefix, kind);
  dotted[dotted.find('-', prefix.size() + 1)] = '.';  // train-images.idx3-ubyte
  return {dashed + ".gz", dashed, dotted + ".gz", dotted};
}

/// The first existing candidate in `dir`, or nullopt.
std::optional<std::filesystem::path> findFile(const std::filesystem::path& dir,
                                              const std::array<std::string, 4>& names) {
  for (const std::string& name : names) {
    std::error_code ec;
    const std::filesystem::path p = dir / name;
    if (std::filesystem::is_regular_file(p, ec)) return p;
  }
  return std::nullopt;
}

}  // namespace

TensorDataset loadMnist(const std::filesystem::path& dir, Split split, const MnistOptions& options) {
  SHRINK_CHECK(options.limit >= 0, "loadMnist: limit must be >= 0 (0 keeps all), got {}", options.limit);
  std::error_code ec;
  if (!std::filesystem::is_directory(dir, ec))
    throw std::runtime_error(fmt::format("loadMnist: directory {} does not exist; expected it to hold {}",
                                         dir.string(), kExpectedFiles));
  const std::string prefix = split == Split::Train ? "train" : "t10k";
  const auto imageNames = candidates(prefix, "images-idx3");
  const auto labelNames = candidates(prefix, "labels-idx1");
  const auto imagePath = findFile(dir, imageNames);
  const auto labelPath = findFile(dir, labelNames);
  if (!imagePath || !labelPath) {
    std::vector<std::string> missing;
    if (!imagePath) missing.push_back(fmt::format("{} or {}", imageNames[0], imageNames[1]));
    if (!labelPath) missing.push_back(fmt::format("{} or {}", labelNames[0], labelNames[1]));
    throw std::runtime_error(fmt::format("loadMnist: {} has no {}; expected it to hold {}", dir.string(),
                                         fmt::join(missing, " and no "), kExpectedFiles));
  }

  const IdxArray images = readIdxImages(*imagePath);
  const IdxArray labels = readIdxLabels(*labelPath);
  const int64_t n = images.dims[0];
  const int64_t rows = images.dims[1];
  const int64_t cols = images.dims[2];
  if (labels.dims[0] != n)
    throw std::runtime_error(fmt::format("loadMnist: {} holds {} images but {} holds {} labels",
                                         imagePath->string(), n, labelPath->string(), labels.dims[0]));
  for (int64_t i = 0; i < n; ++i) {
    const int label = labels.bytes[static_cast<size_t>(i)];
    if (label >= kNumClasses)
      throw std::runtime_error(fmt::format("{}: label {} at index {} is outside 0..{}", labelPath->string(),
                                           label, i, kNumClasses - 1));
  }

  const int64_t keep = options.limit > 0 ? std::min(options.limit, n) : n;
  const Shape shape = options.layout == ImageLayout::Flat ? Shape{keep, rows * cols}
                                                          : Shape{keep, 1, rows, cols};
  Tensor x(shape);
  const float divisor = options.normalize ? 255.0f : 1.0f;
  for (int64_t i = 0; i < x.numel(); ++i)
    x[i] = static_cast<float>(images.bytes[static_cast<size_t>(i)]) / divisor;
  Tensor y(Shape{keep});
  for (int64_t i = 0; i < keep; ++i) y[i] = static_cast<float>(labels.bytes[static_cast<size_t>(i)]);
  return TensorDataset(std::move(x), std::move(y));
}

std::filesystem::path defaultFashionMnistDir() { return "/usr/share/datasets/fashion-mnist"; }

}  // namespace shrink::data
