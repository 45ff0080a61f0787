#include "core/Random.h"

#include <cmath>
#include <numbers>
#include <iomanip>
#include <sstream>

#include "core/Check.h"

namespace shrink {

float Generator::normal() {
  if (haveSpare_) {
    haveSpare_ = false;
    return spare_;
  }
  double u1 = uniform01();
  while (u1 <= 0.0) u1 = uniform01();
  const double u2 = uniform01();
  const double r = std::sqrt(-2.0 * std::log(u1));
  const double theta = 2.0 * std::numbers::pi * u2;
  spare_ = static_cast<float>(r * std::sin(theta));
  haveSpare_ = true;
  return static_cast<float>(r * std::cos(theta));
}

uint64_t Generator::below(uint64_t n) {
  SHRINK_CHECK(n > 0, "Generator::below: n must be positive");
  // Rejection sampling for an unbiased result.
  const uint64_t limit = UINT64_MAX - UINT64_MAX % n;
  uint64_t x;
  do x = engine_();
  while (x >= limit);
  return x % n;
}

Tensor Generator::uniformTensor(Shape shape, float lo, float hi) {
  Tensor t(std::move(shape));
  for (float& v : t) v = uniform(lo, hi);
  return t;
}

Tensor Generator::normalTensor(Shape shape, float mean, float stddev) {
  Tensor t(std::move(shape));
  for (float& v : t) v = mean + stddev * normal();
  return t;
}

std::string Generator::state() const {
  std::ostringstream os;
  os << engine_ << ' ' << haveSpare_ << ' ' << std::setprecision(9) << spare_;
  return os.str();
}

void Generator::setState(const std::string& s) {
  std::istringstream is(s);
  is >> engine_ >> haveSpare_ >> spare_;
  SHRINK_CHECK(!is.fail(), "Generator::setState: malformed state string");
}

Generator& defaultGenerator() {
  static Generator g(42);
  return g;
}

void manualSeed(uint64_t seed) { defaultGenerator() = Generator(seed); }

}  // namespace shrink
