#pragma once

#include <cstdint>
#include <vector>

#include "datasets/Dataset.h"

namespace shrink::data {

struct SplitOptions {
  /// A fraction in (0, 1) (the test set gets ceil(testSize * n) examples, as in scikit-learn) or,
  /// when >= 1, an absolute whole number of test examples.
  double testSize = 0.25;
  uint64_t seed = 42;
  /// Shuffle before splitting; otherwise the last examples form the test set.
  bool shuffle = true;
};

/// Disjoint index lists that together cover 0..n-1 once.
struct SplitIndices {
  std::vector<int64_t> train;
  std::vector<int64_t> test;
};

/// Two materialised datasets.
struct DatasetSplit {
  TensorDataset train;
  TensorDataset test;
};

/// Splits indices 0..n-1 into train and test lists (both non-empty). With shuffling, a seeded
/// Fisher-Yates permutation of 0..n-1 is drawn and its first nTest entries are the test set
/// (scikit-learn's ShuffleSplit layout); without, train = 0..nTrain-1 and test = nTrain..n-1.
/// The index lists can feed Loaders directly, so no data are copied.
SplitIndices trainTestSplit(int64_t n, const SplitOptions& options = {});

/// The same split of `dataset`, copied into two new TensorDatasets.
DatasetSplit trainTestSplit(const TensorDataset& dataset, const SplitOptions& options = {});

}  // namespace shrink::data
