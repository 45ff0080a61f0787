#pragma once

#include <stdexcept>

#include <fmt/format.h>
#include <fmt/ranges.h>

/// SHRINK_CHECK(cond, "Op: expected {}, got {}", a, b) throws std::invalid_argument with the
/// formatted message when `cond` is false. Use it at API boundaries and op entry, never in kernel loops.
#define SHRINK_CHECK(cond, ...)                                          \
  do {                                                                   \
    if (!(cond)) throw std::invalid_argument(fmt::format(__VA_ARGS__)); \
  } while (0)

/// SHRINK_ASSERT(cond, ...) throws std::logic_error: a broken internal invariant, not a user error.
#define SHRINK_ASSERT(cond, ...)                                      \
  do {                                                                \
    if (!(cond)) throw std::logic_error(fmt::format(__VA_ARGS__));   \
  } while (0)
