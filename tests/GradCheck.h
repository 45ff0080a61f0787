#pragma once

#include <algorithm>
#include <cmath>
#include <functional>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "core/Functions.h"
#include "core/Variable.h"

namespace shrink::test {

/// Central-difference gradient check. `f` maps the inputs to a Variable of any shape; the check
/// reduces it to the scalar sum(f(inputs) * R) with a fixed random R, so every output element
/// contributes with a distinct weight. Each input element is perturbed by +-eps in double-checked
/// float arithmetic and compared with the analytic gradient; the relative error is
/// |num - ana| / max(1, |num|, |ana|) (an absolute error for small gradients).
/// Returns success when the worst relative error is below `tolerance`.
inline ::testing::AssertionResult gradCheck(const std::function<Variable(std::vector<Variable>&)>& f,
                                            std::vector<Tensor> inputs, float eps = 1e-2f,
                                            float tolerance = 1e-2f, uint64_t seed = 7) {
  std::vector<Variable> vars;
  for (auto& t : inputs) vars.emplace_back(t, true);
  Tensor weights;
  {
    NoGradGuard g;
    Variable out = f(vars);
    Generator gen(seed);
    weights = gen.uniformTensor(out.shape(), -1.0f, 1.0f);
  }
  auto scalarOf = [&](std::vector<Variable>& in) -> double {
    NoGradGuard g;
    Variable out = f(in);
    double s = 0;
    for (int64_t i = 0; i < out.numel(); ++i) s += double(out.value()[i]) * double(weights[i]);
    return s;
  };
  Variable out = f(vars);
  Variable loss = sum(mul(out, Variable(weights)));
  loss.backward();

  double worst = 0;
  std::string where = "none";
  for (size_t k = 0; k < vars.size(); ++k) {
    std::vector<Variable> probe;
    for (auto& t : inputs) probe.emplace_back(t, false);
    Tensor& x = probe[k].mutableValue();
    for (int64_t i = 0; i < x.numel(); ++i) {
      const float orig = x[i];
      x[i] = orig + eps;
      const double up = scalarOf(probe);
      x[i] = orig - eps;
      const double down = scalarOf(probe);
      x[i] = orig;
      const double num = (up - down) / (2.0 * double(eps));
      const double ana = vars[k].hasGrad() ? double(vars[k].grad()[i]) : 0.0;
      const double err = std::fabs(num - ana) / std::max({1.0, std::fabs(num), std::fabs(ana)});
      if (err > worst || std::isnan(err)) {
        worst = err;
        where = "input " + std::to_string(k) + " element " + std::to_string(i) + ": numeric " +
                std::to_string(num) + " analytic " + std::to_string(ana);
      }
    }
  }
  if (worst < tolerance) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "gradient check failed, worst relative error " << worst
                                       << " (tolerance " << tolerance << ") at " << where;
}

}  // namespace shrink::test
