#include "core/kernels/Norm.h"

#include <Eigen/Core>

#include "core/Check.h"
#include "core/Threads.h"

namespace shrink::kernels {

namespace {

using Segment = Eigen::Map<Eigen::ArrayXf>;
using ConstSegment = Eigen::Map<const Eigen::ArrayXf>;

// Below this many values a pass costs less than waking the OpenMP team.
constexpr int64_t kParallelMin = 1 << 15;

int channelTeam(const NormGeometry& g) { return g.channels >= 2 && g.size() >= kParallelMin ? numThreads() : 1; }

void checkSizes(const char* what, const NormGeometry& g, size_t values, size_t perChannel) {
  SHRINK_ASSERT(static_cast<int64_t>(values) == g.size() && static_cast<int64_t>(perChannel) == g.channels,
                "{}: {} values and {} channel entries for a [{}, {}, {}] batch norm", what, values, perChannel,
                g.outer, g.channels, g.inner);
}

// The segment of channel c in outer slice n.
inline int64_t offset(const NormGeometry& g, int64_t n, int64_t c) { return (n * g.channels + c) * g.inner; }

}  // namespace

void batchNormStatistics(const NormGeometry& g, std::span<const float> x, std::span<float> mean,
                         std::span<float> var) {
  checkSizes("batchNormStatistics", g, x.size(), mean.size());
  SHRINK_ASSERT(var.size() == mean.size(), "batchNormStatistics: {} variances for {} means", var.size(),
                mean.size());
  const double m = static_cast<double>(g.count());
#pragma omp parallel for num_threads(channelTeam(g)) schedule(static)
  for (int64_t c = 0; c < g.channels; ++c) {
    double s = 0.0;
    for (int64_t n = 0; n < g.outer; ++n) s += ConstSegment(x.data() + offset(g, n, c), g.inner).sum();
    const float mu = static_cast<float>(s / m);
    double ss = 0.0;
    for (int64_t n = 0; n < g.outer; ++n)
      ss += (ConstSegment(x.data() + offset(g, n, c), g.inner) - mu).square().sum();
    mean[c] = mu;
    var[c] = static_cast<float>(ss / m);
  }
}

void batchNormForward(const NormGeometry& g, std::span<const float> x, std::span<const float> scale,
                      std::span<const float> shift, std::span<float> y) {
  checkSizes("batchNormForward", g, x.size(), scale.size());
  SHRINK_ASSERT(y.size() == x.size() && shift.size() == scale.size(), "batchNormForward: mismatched buffers");
#pragma omp parallel for num_threads(channelTeam(g)) schedule(static)
  for (int64_t c = 0; c < g.channels; ++c)
    for (int64_t n = 0; n < g.outer; ++n) {
      const int64_t o = offset(g, n, c);
      Segment(y.data() + o, g.inner) = ConstSegment(x.data() + o, g.inner) * scale[c] + shift[c];
    }
}

void batchNormBackwardSums(const NormGeometry& g, std::span<const float> x, std::span<const float> dy,
                           std::span<const float> mean, std::span<const float> invStd, std::span<float> sumDy,
                           std::span<float> sumDyXhat) {
  checkSizes("batchNormBackwardSums", g, x.size(), mean.size());
  SHRINK_ASSERT(dy.size() == x.size() && invStd.size() == mean.size() && sumDy.size() == mean.size() &&
                    sumDyXhat.size() == mean.size(),
                "batchNormBackwardSums: mismatched buffers");
#pragma omp parallel for num_threads(channelTeam(g)) schedule(static)
  for (int64_t c = 0; c < g.channels; ++c) {
    double s = 0.0, sx = 0.0;
    for (int64_t n = 0; n < g.outer; ++n) {
      const int64_t o = offset(g, n, c);
      const ConstSegment dyc(dy.data() + o, g.inner);
      s += dyc.sum();
      sx += (dyc * (ConstSegment(x.data() + o, g.inner) - mean[c])).sum();
    }
    sumDy[c] = static_cast<float>(s);
    sumDyXhat[c] = static_cast<float>(sx * invStd[c]);
  }
}

void batchNormBackwardInput(const NormGeometry& g, std::span<const float> x, std::span<const float> dy,
                            std::span<const float> mean, std::span<const float> a, std::span<const float> b,
                            std::span<const float> d, std::span<float> dx) {
  checkSizes("batchNormBackwardInput", g, x.size(), mean.size());
  SHRINK_ASSERT(dy.size() == x.size() && dx.size() == x.size() && a.size() == mean.size() &&
                    b.size() == mean.size() && d.size() == mean.size(),
                "batchNormBackwardInput: mismatched buffers");
#pragma omp parallel for num_threads(channelTeam(g)) schedule(static)
  for (int64_t c = 0; c < g.channels; ++c)
    for (int64_t n = 0; n < g.outer; ++n) {
      const int64_t o = offset(g, n, c);
      Segment(dx.data() + o, g.inner) += ConstSegment(dy.data() + o, g.inner) * a[c] +
                                         (ConstSegment(x.data() + o, g.inner) - mean[c]) * b[c] + d[c];
    }
}

}  // namespace shrink::kernels
