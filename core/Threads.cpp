#include "core/Threads.h"

#include <atomic>
#include <cstdlib>
#include <mutex>

#include <omp.h>
#include <unistd.h>

#include "core/Check.h"

extern "C" void openblas_set_num_threads(int);

namespace shrink {

namespace {

std::atomic<int> gThreads{0};

int envThreads(const char* name) {
  const char* v = std::getenv(name);
  if (!v) return 0;
  const int n = std::atoi(v);
  return n > 0 ? n : 0;
}

// Runs once, before the first kernel or query: pins OpenBLAS to one thread and picks the default.
void initialise() {
  static std::once_flag once;
  std::call_once(once, [] {
    openblas_set_num_threads(1);
    int n = envThreads("SHRINK_NUM_THREADS");
    if (n == 0) n = envThreads("OMP_NUM_THREADS");
    if (n == 0) n = omp_get_num_procs();
    int expected = 0;
    if (gThreads.compare_exchange_strong(expected, n)) omp_set_num_threads(n);
  });
}

// Pin OpenBLAS at load time too, so a direct cblas call before any shrink kernel does not start
// OpenBLAS's own pool.
const bool gInitialised = (initialise(), true);

}  // namespace

void setNumThreads(int n) {
  SHRINK_CHECK(n >= 1, "setNumThreads: expected at least 1 thread, got {}", n);
  initialise();
  gThreads.store(n);
  omp_set_num_threads(n);
  openblas_set_num_threads(1);
}

void preferPassiveOpenMpWaits(char** argv) {
  if (std::getenv("OMP_WAIT_POLICY") != nullptr || std::getenv("GOMP_SPINCOUNT") != nullptr) return;
  if (setenv("OMP_WAIT_POLICY", "passive", 1) != 0) return;
  execv("/proc/self/exe", argv);
  // exec failed (no /proc): go on with the default waits.
}

int numThreads() {
  const int n = gThreads.load(std::memory_order_relaxed);
  if (n > 0) return n;
  initialise();
  return gThreads.load();
}

}  // namespace shrink
