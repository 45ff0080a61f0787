#include "datasets/Loader.h"

#include <algorithm>
#include <numeric>
#include <span>
#include <utility>

#include "core/Check.h"

namespace shrink::data {
namespace {

std::vector<int64_t> iota(int64_t n) {
  std::vector<int64_t> v(static_cast<size_t>(n));
  std::iota(v.begin(), v.end(), int64_t{0});
  return v;
}

}  // namespace

Loader::Loader(const Dataset& dataset, LoaderOptions options)
    : Loader(dataset, options, iota(dataset.size())) {}

Loader::Loader(const Dataset& dataset, LoaderOptions options, std::vector<int64_t> indices)
    : dataset_(&dataset), options_(options), order_(std::move(indices)), generator_(options.seed) {
  SHRINK_CHECK(options_.batchSize > 0, "Loader: batchSize must be positive, got {}",
               options_.batchSize);
  const int64_t n = dataset.size();
  for (size_t k = 0; k < order_.size(); ++k)
    SHRINK_CHECK(order_[k] >= 0 && order_[k] < n,
                 "Loader: index {} (at position {}) out of range for a dataset of {} examples",
                 order_[k], k, n);
}

int64_t Loader::batchesPerEpoch() const {
  const int64_t n = size();
  const int64_t b = options_.batchSize;
  return options_.dropLast ? n / b : (n + b - 1) / b;
}

void Loader::startEpoch() {
  if (options_.shuffle) {
    for (size_t i = order_.size(); i > 1; --i) {
      const size_t j = static_cast<size_t>(generator_.below(i));
      std::swap(order_[i - 1], order_[j]);
    }
  }
  cursor_ = 0;
  ++epoch_;
  inEpoch_ = true;
}

std::optional<Batch> Loader::next() {
  if (!inEpoch_) startEpoch();
  const int64_t remaining = size() - cursor_;
  const int64_t take = std::min(remaining, options_.batchSize);
  if (take <= 0 || (options_.dropLast && take < options_.batchSize)) {
    inEpoch_ = false;
    return std::nullopt;
  }
  std::span<const int64_t> indices(order_.data() + cursor_, static_cast<size_t>(take));
  cursor_ += take;
  return dataset_->gather(indices);
}

Loader::Iterator Loader::begin() {
  startEpoch();
  current_ = next();
  return Iterator(this);
}

}  // namespace shrink::data
