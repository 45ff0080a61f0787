#include "layers/Dropout.h"

#include "core/Check.h"
#include "core/Functions.h"
#include "layers/Config.h"

namespace shrink {

Dropout::Dropout(Options options)
    : rate_(options.rate), seed_(options.seed ? *options.seed : defaultGenerator().nextU64()), gen_(seed_) {
  SHRINK_CHECK(rate_ >= 0.0f && rate_ < 1.0f, "Dropout: rate must be in [0, 1), got {}", rate_);
}

Variable Dropout::forward(const Variable& x) {
  SHRINK_CHECK(x.defined(), "Dropout::forward: undefined input");
  return dropout(x, rate_, isTraining(), gen_);
}

nlohmann::json Dropout::config() const { return {{"rate", jsonFloat(rate_)}, {"seed", seed_}}; }

}  // namespace shrink
