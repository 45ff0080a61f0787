#pragma once

#include <cstdint>
#include <iterator>
#include <optional>
#include <vector>

#include "core/Random.h"
#include "datasets/Dataset.h"

namespace shrink::data {

/// How a Loader batches and orders its examples.
struct LoaderOptions {
  int64_t batchSize = 32;
  /// Reorder the examples at the start of every epoch (Fisher-Yates over the index list).
  bool shuffle = true;
  /// Skip the last batch of an epoch when it is smaller than batchSize.
  bool dropLast = false;
  /// Seed of the loader's own Generator: same seed, same sequence of epoch orders.
  uint64_t seed = 42;
};

/// Batches over a Dataset, or over the subset of it named by an index list (so train/validation
/// splits need no copy of the data). The loader never copies the dataset: it shuffles a list of
/// indices and gathers each batch's rows on demand. It keeps a reference to the dataset, which must
/// outlive it.
///
///   for (Batch& b : loader) { ... }              // one epoch (begin() starts a new one)
///   while (auto b = loader.next()) { ... }       // the same with next()
class Loader {
 public:
  /// All examples of `dataset`, in index order unless shuffled.
  Loader(const Dataset& dataset, LoaderOptions options = {});
  /// The examples at `indices` (each in [0, dataset.size()); repeats allowed), e.g. a split's list.
  Loader(const Dataset& dataset, LoaderOptions options, std::vector<int64_t> indices);
  Loader(const Dataset&& dataset, LoaderOptions options = {}) = delete;
  Loader(const Dataset&& dataset, LoaderOptions options, std::vector<int64_t> indices) = delete;

  /// Number of examples the loader draws from (the index list's length).
  int64_t size() const { return static_cast<int64_t>(order_.size()); }
  /// Batches per epoch: ceil(size / batchSize), or floor with dropLast.
  int64_t batchesPerEpoch() const;
  const LoaderOptions& options() const { return options_; }
  const Dataset& dataset() const { return *dataset_; }

  /// Starts a new epoch: reshuffles (when shuffling) and rewinds to the first batch.
  void startEpoch();
  /// The next batch of the current epoch, or nullopt when the epoch is over. The first call, and
  /// the first call after an epoch ended, start a new epoch.
  std::optional<Batch> next();
  /// Number of epochs started so far.
  int64_t epoch() const { return epoch_; }
  /// The current epoch's order of dataset indices.
  const std::vector<int64_t>& order() const { return order_; }
  /// The generator used for shuffling (for checkpointing its state).
  Generator& generator() { return generator_; }

  /// Input iterator over one epoch's batches; the current batch lives in the loader.
  class Iterator {
   public:
    using value_type = Batch;
    using difference_type = std::ptrdiff_t;
    Iterator() = default;
    Batch& operator*() const { return *loader_->current_; }
    Batch* operator->() const { return &*loader_->current_; }
    Iterator& operator++() {
      loader_->current_ = loader_->next();
      return *this;
    }
    void operator++(int) { ++*this; }
    bool operator==(std::default_sentinel_t) const { return !loader_->current_.has_value(); }

   private:
    friend class Loader;
    explicit Iterator(Loader* loader) : loader_(loader) {}
    Loader* loader_ = nullptr;
  };

  /// Starts a new epoch and returns an iterator at its first batch.
  Iterator begin();
  std::default_sentinel_t end() const { return {}; }

 private:
  const Dataset* dataset_;
  LoaderOptions options_;
  std::vector<int64_t> order_;
  Generator generator_;
  int64_t cursor_ = 0;
  int64_t epoch_ = 0;
  bool inEpoch_ = false;
  std::optional<Batch> current_;
};

}  // namespace shrink::data
