#pragma once

#include <cstdint>
#include <optional>

#include "core/Module.h"
#include "core/Random.h"

namespace shrink {

struct DropoutOptions {
  float rate = 0.5f;  // the fraction dropped, in [0, 1)
  /// The seed of the layer's own generator; without one, a seed is drawn from defaultGenerator()
  /// (so manualSeed makes runs repeatable). config() records the seed in use.
  std::optional<uint64_t> seed = std::nullopt;
};

/// Inverted dropout while training: each element is kept with probability 1 - rate and scaled by
/// 1 / (1 - rate). Identity in eval mode. Any shape.
class Dropout : public Module {
 public:
  using Options = DropoutOptions;
  explicit Dropout(Options options = {});

  Variable forward(const Variable& x) override;
  std::string typeName() const override { return "Dropout"; }
  /// {"rate", "seed"}
  nlohmann::json config() const override;

  float rate() const { return rate_; }
  uint64_t seed() const { return seed_; }
  Generator& generator() { return gen_; }

 private:
  float rate_;
  uint64_t seed_;
  Generator gen_;
};

}  // namespace shrink
