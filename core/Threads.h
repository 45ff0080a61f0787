#pragma once

namespace shrink {

/// Sets how many threads shrink's kernels use (n >= 1): the size of every OpenMP team shrink
/// starts, and of Eigen's OpenMP products on the calling thread.
///
/// There is one thread pool, OpenMP's. OpenBLAS (Debian's pthread build, which cannot see OpenMP
/// regions) is pinned to one thread; kernels::sgemm splits a large product across the OpenMP team
/// itself, and parallel-over-images kernels call the single-threaded product from each team
/// member. Letting OpenBLAS run its own pthread pool next to OpenMP's makes both pools spin
/// against each other: measured on 2 cores, a 128x784x300 product followed by a short OpenMP
/// region took 4.0 ms instead of 0.63 ms.
void setNumThreads(int n);

/// The current thread count. Default: $SHRINK_NUM_THREADS, else $OMP_NUM_THREADS, else the
/// number of cores OpenMP reports.
int numThreads();

}  // namespace shrink
