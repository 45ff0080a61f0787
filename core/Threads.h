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

/// Makes the OpenMP threads of this program sleep while they wait for work instead of spinning,
/// by re-executing the program with OMP_WAIT_POLICY=passive, unless the environment already sets
/// OMP_WAIT_POLICY or GOMP_SPINCOUNT (the user's choice stands). Call it first thing in main, with
/// main's argv: OpenMP reads its environment when it is loaded, so only a new process picks it up.
/// Returns when nothing was re-executed (the variables were set, or exec failed).
///
/// Why: libgomp's default spins up to 300,000 times at every barrier. With another busy process on
/// a 2-core machine a spinning thread holds the core its partner needs: one epoch of lenet300 on
/// 20,000 Fashion-MNIST images took 3.5-12.6 s with 2 threads against 0.39 s with passive waits
/// (0.39 s on 1 thread).
void preferPassiveOpenMpWaits(char** argv);

/// The current thread count. Default: $SHRINK_NUM_THREADS, else $OMP_NUM_THREADS, else the
/// number of cores OpenMP reports.
int numThreads();

}  // namespace shrink
