#pragma once

#include "core/Module.h"
#include "layers/Config.h"

namespace shrink {

/// [N, d1, d2, ...] -> [N, d1 * d2 * ...] (row-major, so NCHW flattens channel by channel).
class Flatten : public Module {
 public:
  using Options = NoOptions;
  explicit Flatten(Options = {}) {}
  Variable forward(const Variable& x) override;
  std::string typeName() const override { return "Flatten"; }
};

}  // namespace shrink
