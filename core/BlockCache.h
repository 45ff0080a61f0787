#pragma once

#include <cstddef>
#include <cstdint>

namespace shrink {

/// Tensor memory: 64-byte aligned blocks, with large blocks kept for reuse.
///
/// A training step allocates and frees the same few large buffers (activations, gradients, masked
/// weights) thousands of times. Left to malloc, every block above its mmap threshold is a fresh
/// mmap whose pages fault in on first touch, and every large free may trim the heap: measured on
/// lenet300, that costs more than the elementwise work it serves. Blocks of at least
/// `kCachedBlockBytes` are therefore returned to a process-wide cache, keyed by their exact
/// (64-byte rounded) size, and handed out again to the next request of that size, up to a total of
/// `blockCacheLimit()` bytes held idle; beyond it a freed block goes back to the system. Smaller
/// blocks go straight to aligned_alloc/free. Thread-safe.
namespace detail {
inline constexpr size_t kCachedBlockBytes = size_t{64} << 10;
/// A block of at least `bytes` (rounded up to 64), aligned to 64 bytes. Throws std::bad_alloc.
void* allocateBlock(size_t bytes);
/// Gives back a block from allocateBlock(bytes) with the same `bytes`.
void freeBlock(void* p, size_t bytes) noexcept;
}  // namespace detail

/// Idle bytes the cache may hold (default 512 MiB, or SHRINK_BLOCK_CACHE_MB from the environment).
/// Setting it lower releases idle blocks at once; 0 turns the cache off.
void setBlockCacheLimit(size_t bytes);
size_t blockCacheLimit();

/// Bytes held idle in the cache now, and the totals of requests it served from its blocks (hits)
/// or passed to the system (misses), for benchmarks and tests.
struct BlockCacheStats {
  size_t idleBytes = 0;
  int64_t hits = 0;
  int64_t misses = 0;
};
BlockCacheStats blockCacheStats();

/// Returns every idle block to the system.
void releaseBlockCache();

}  // namespace shrink
