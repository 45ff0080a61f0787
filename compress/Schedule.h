#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

namespace shrink {

/// What a pruning schedule says about one training step: whether masks are recomputed at this step,
/// and the target sparsity (fraction of zeros) they are recomputed for.
struct PruneDecision {
  bool update = false;
  double sparsity = 0;
};

/// Target sparsity as a pure function of the pruning step, with tfmot's step convention: the
/// counter is 0 when training begins and the first training batch is step 1. Subclass it for a
/// custom schedule; give it a type name and a config, and register a factory with
/// registerPruningSchedule() so model files that use it can be loaded.
class PruningSchedule {
 public:
  virtual ~PruningSchedule();
  virtual PruneDecision at(int64_t step) const = 0;
  virtual std::string typeName() const = 0;
  virtual nlohmann::json config() const = 0;
};

/// tfmot's predicate: begin <= step, (step <= end or end < 0), and (step - begin) % frequency == 0.
bool pruningStepDue(int64_t step, int64_t beginStep, int64_t endStep, int64_t frequency);

struct ConstantSparsityOptions {
  double sparsity = 0;     ///< target in [0, 1)
  int64_t beginStep = 0;   ///< >= 0
  int64_t endStep = -1;    ///< >= beginStep, or -1 for "forever"
  int64_t frequency = 100; ///< > 0
};

/// tfmot's ConstantSparsity: always `sparsity`; masks recomputed every `frequency` steps from
/// `beginStep` to `endStep` (or forever when endStep is -1).
class ConstantSparsity : public PruningSchedule {
 public:
  using Options = ConstantSparsityOptions;
  explicit ConstantSparsity(Options options);
  PruneDecision at(int64_t step) const override;
  std::string typeName() const override { return "ConstantSparsity"; }
  /// {"sparsity", "begin_step", "end_step", "frequency"}
  nlohmann::json config() const override;
  const Options& options() const { return options_; }

 private:
  Options options_;
};

struct PolynomialDecayOptions {
  double initialSparsity = 0;  ///< in [0, 1)
  double finalSparsity = 0;    ///< in [0, 1)
  int64_t beginStep = 0;       ///< >= 0
  int64_t endStep = 0;         ///< >= beginStep (no "forever")
  double power = 3;
  int64_t frequency = 100;     ///< > 0
};

/// tfmot's PolynomialDecay (Zhu & Gupta's gradual pruning for power 3): with
/// p = clamp((step - begin) / (end - begin), 0, 1),
/// s = final + (initial - final) * (1 - p)^power; masks recomputed on the ConstantSparsity grid
/// between begin and end. The final sparsity is reached exactly only when (end - begin) is a
/// multiple of the frequency; after `end` masks stay frozen.
class PolynomialDecay : public PruningSchedule {
 public:
  using Options = PolynomialDecayOptions;
  explicit PolynomialDecay(Options options);
  PruneDecision at(int64_t step) const override;
  std::string typeName() const override { return "PolynomialDecay"; }
  /// {"initial_sparsity", "final_sparsity", "begin_step", "end_step", "power", "frequency"}
  nlohmann::json config() const override;
  const Options& options() const { return options_; }

 private:
  Options options_;
};

/// Builds a schedule from {"type": ..., "config": {...}}; ConstantSparsity and PolynomialDecay are
/// built in. Unknown types and bad configs throw std::invalid_argument.
using PruningScheduleFactory = std::function<std::shared_ptr<const PruningSchedule>(const nlohmann::json& config)>;
void registerPruningSchedule(std::string type, PruningScheduleFactory factory);
std::shared_ptr<const PruningSchedule> pruningScheduleFromJson(const nlohmann::json& j);
/// {"type": typeName(), "config": config()}
nlohmann::json pruningScheduleToJson(const PruningSchedule& schedule);

}  // namespace shrink
