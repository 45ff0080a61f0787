#include "core/BlockCache.h"

#include <cstdlib>
#include <mutex>
#include <new>
#include <string>
#include <unordered_map>
#include <vector>

namespace shrink {
namespace {

size_t defaultLimit() {
  if (const char* mb = std::getenv("SHRINK_BLOCK_CACHE_MB")) {
    char* end = nullptr;
    const unsigned long long v = std::strtoull(mb, &end, 10);
    if (end != mb && *end == '\0') return static_cast<size_t>(v) << 20;
  }
  return size_t{512} << 20;
}

class Cache {
 public:
  void* take(size_t bytes) {
    {
      std::lock_guard lock(mutex_);
      auto it = idle_.find(bytes);
      if (it != idle_.end() && !it->second.empty()) {
        void* p = it->second.back();
        it->second.pop_back();
        idleBytes_ -= bytes;
        ++hits_;
        return p;
      }
      ++misses_;
    }
    return std::aligned_alloc(64, bytes);
  }

  void give(void* p, size_t bytes) noexcept {
    {
      std::lock_guard lock(mutex_);
      if (idleBytes_ + bytes <= limit_) {
        try {
          idle_[bytes].push_back(p);
          idleBytes_ += bytes;
          return;
        } catch (...) {  // no room to remember the block: give it back instead
        }
      }
    }
    std::free(p);
  }

  void setLimit(size_t bytes) {
    std::lock_guard lock(mutex_);
    limit_ = bytes;
  }

  /// Frees idle blocks until at most `keep` bytes stay idle.
  void shrinkTo(size_t keep) {
    std::vector<void*> drop;
    {
      std::lock_guard lock(mutex_);
      for (auto& [size, blocks] : idle_) {
        while (idleBytes_ > keep && !blocks.empty()) {
          drop.push_back(blocks.back());
          blocks.pop_back();
          idleBytes_ -= size;
        }
      }
    }
    for (void* p : drop) std::free(p);
  }

  size_t limit() {
    std::lock_guard lock(mutex_);
    return limit_;
  }

  BlockCacheStats stats() {
    std::lock_guard lock(mutex_);
    return {idleBytes_, hits_, misses_};
  }

 private:
  std::mutex mutex_;
  std::unordered_map<size_t, std::vector<void*>> idle_;
  size_t idleBytes_ = 0;
  size_t limit_ = defaultLimit();
  int64_t hits_ = 0, misses_ = 0;
};

/// Never destroyed: tensors in static storage may be freed after any other static object is gone.
Cache& cache() {
  static Cache* instance = new Cache;
  return *instance;
}

size_t rounded(size_t bytes) { return bytes == 0 ? 64 : (bytes + 63) / 64 * 64; }

}  // namespace

namespace detail {

void* allocateBlock(size_t bytes) {
  bytes = rounded(bytes);
  void* p = bytes >= kCachedBlockBytes ? cache().take(bytes) : std::aligned_alloc(64, bytes);
  if (!p) throw std::bad_alloc();
  return p;
}

void freeBlock(void* p, size_t bytes) noexcept {
  if (!p) return;
  bytes = rounded(bytes);
  if (bytes >= kCachedBlockBytes)
    cache().give(p, bytes);
  else
    std::free(p);
}

}  // namespace detail

void setBlockCacheLimit(size_t bytes) {
  cache().setLimit(bytes);
  cache().shrinkTo(bytes);
}
size_t blockCacheLimit() { return cache().limit(); }
BlockCacheStats blockCacheStats() { return cache().stats(); }
void releaseBlockCache() { cache().shrinkTo(0); }

}  // namespace shrink
