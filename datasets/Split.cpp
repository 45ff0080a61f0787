#include "datasets/Split.h"

#include <cmath>
#include <numeric>
#include <utility>

#include "core/Check.h"
#include "core/Random.h"

namespace shrink::data {

SplitIndices trainTestSplit(int64_t n, const SplitOptions& options) {
  SHRINK_CHECK(n >= 2, "trainTestSplit: need at least 2 examples to split, got {}", n);
  const double t = options.testSize;
  int64_t nTest = 0;
  if (t > 0.0 && t < 1.0) {
    nTest = static_cast<int64_t>(std::ceil(t * static_cast<double>(n)));
  } else {
    SHRINK_CHECK(t >= 1.0 && t == std::floor(t),
                 "trainTestSplit: testSize must be a fraction in (0, 1) or a whole count >= 1, got {}", t);
    SHRINK_CHECK(t < static_cast<double>(n), "trainTestSplit: testSize {} leaves no training examples out of {}",
                 t, n);
    nTest = static_cast<int64_t>(t);
  }
  SHRINK_CHECK(nTest < n, "trainTestSplit: testSize {} of {} examples leaves no training examples", t, n);
  const int64_t nTrain = n - nTest;

  std::vector<int64_t> order(static_cast<size_t>(n));
  std::iota(order.begin(), order.end(), int64_t{0});
  SplitIndices out;
  if (options.shuffle) {
    Generator gen(options.seed);
    for (size_t i = order.size(); i > 1; --i) std::swap(order[i - 1], order[static_cast<size_t>(gen.below(i))]);
    out.test.assign(order.begin(), order.begin() + nTest);
    out.train.assign(order.begin() + nTest, order.end());
  } else {
    out.train.assign(order.begin(), order.begin() + nTrain);
    out.test.assign(order.begin() + nTrain, order.end());
  }
  return out;
}

DatasetSplit trainTestSplit(const TensorDataset& dataset, const SplitOptions& options) {
  const SplitIndices idx = trainTestSplit(dataset.size(), options);
  return {dataset.subset(idx.train), dataset.subset(idx.test)};
}

}  // namespace shrink::data
