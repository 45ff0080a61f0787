#include "compress/Schedule.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <mutex>

#include "core/Check.h"
#include "layers/Config.h"

namespace shrink {

PruningSchedule::~PruningSchedule() = default;

bool pruningStepDue(int64_t step, int64_t beginStep, int64_t endStep, int64_t frequency) {
  return beginStep <= step && (step <= endStep || endStep < 0) && (step - beginStep) % frequency == 0;
}

namespace {

void checkSparsity(const char* type, const char* field, double s) {
  SHRINK_CHECK(s >= 0 && s < 1, "{}: {} must be in [0, 1), got {}", type, field, s);
}

void checkSteps(const char* type, int64_t begin, int64_t end, int64_t frequency, bool endMayBeForever) {
  SHRINK_CHECK(begin >= 0, "{}: begin_step must be >= 0, got {}", type, begin);
  if (!(endMayBeForever && end == -1))
    SHRINK_CHECK(end >= begin, "{}: end_step must be >= begin_step ({}){}, got {}", type, begin,
                 endMayBeForever ? " or -1" : "", end);
  SHRINK_CHECK(frequency > 0, "{}: frequency must be > 0, got {}", type, frequency);
}

}  // namespace

ConstantSparsity::ConstantSparsity(Options options) : options_(options) {
  checkSparsity("ConstantSparsity", "sparsity", options_.sparsity);
  checkSteps("ConstantSparsity", options_.beginStep, options_.endStep, options_.frequency, true);
}

PruneDecision ConstantSparsity::at(int64_t step) const {
  return {pruningStepDue(step, options_.beginStep, options_.endStep, options_.frequency), options_.sparsity};
}

nlohmann::json ConstantSparsity::config() const {
  return {{"sparsity", options_.sparsity},
          {"begin_step", options_.beginStep},
          {"end_step", options_.endStep},
          {"frequency", options_.frequency}};
}

PolynomialDecay::PolynomialDecay(Options options) : options_(options) {
  checkSparsity("PolynomialDecay", "initial_sparsity", options_.initialSparsity);
  checkSparsity("PolynomialDecay", "final_sparsity", options_.finalSparsity);
  checkSteps("PolynomialDecay", options_.beginStep, options_.endStep, options_.frequency, false);
  SHRINK_CHECK(std::isfinite(options_.power) && options_.power > 0, "PolynomialDecay: power must be > 0, got {}",
               options_.power);
}

PruneDecision PolynomialDecay::at(int64_t step) const {
  const auto& o = options_;
  // begin == end is allowed: the schedule jumps to the final sparsity at begin.
  const double span = static_cast<double>(o.endStep - o.beginStep);
  const double p = span > 0 ? std::clamp(static_cast<double>(step - o.beginStep) / span, 0.0, 1.0)
                            : (step >= o.beginStep ? 1.0 : 0.0);
  const double s = o.finalSparsity + (o.initialSparsity - o.finalSparsity) * std::pow(1 - p, o.power);
  return {pruningStepDue(step, o.beginStep, o.endStep, o.frequency), s};
}

nlohmann::json PolynomialDecay::config() const {
  return {{"initial_sparsity", options_.initialSparsity}, {"final_sparsity", options_.finalSparsity},
          {"begin_step", options_.beginStep},             {"end_step", options_.endStep},
          {"power", options_.power},                      {"frequency", options_.frequency}};
}

namespace {

std::map<std::string, PruningScheduleFactory>& factories() {
  static std::map<std::string, PruningScheduleFactory> map = {
      {"ConstantSparsity",
       [](const nlohmann::json& c) {
         ConfigReader r(c, "ConstantSparsity");
         ConstantSparsity::Options o{.sparsity = r.number("sparsity"),
                                     .beginStep = r.integer("begin_step", 0),
                                     .endStep = r.integer("end_step", -1),
                                     .frequency = r.integer("frequency", 100)};
         r.finish();
         return std::make_shared<const ConstantSparsity>(o);
       }},
      {"PolynomialDecay",
       [](const nlohmann::json& c) {
         ConfigReader r(c, "PolynomialDecay");
         PolynomialDecay::Options o{.initialSparsity = r.number("initial_sparsity"),
                                    .finalSparsity = r.number("final_sparsity"),
                                    .beginStep = r.integer("begin_step"),
                                    .endStep = r.integer("end_step"),
                                    .power = r.number("power", 3),
                                    .frequency = r.integer("frequency", 100)};
         r.finish();
         return std::make_shared<const PolynomialDecay>(o);
       }},
  };
  return map;
}

std::mutex& factoriesMutex() {
  static std::mutex m;
  return m;
}

}  // namespace

void registerPruningSchedule(std::string type, PruningScheduleFactory factory) {
  SHRINK_CHECK(!type.empty() && factory, "registerPruningSchedule: need a type name and a factory");
  std::lock_guard lock(factoriesMutex());
  factories()[std::move(type)] = std::move(factory);
}

std::shared_ptr<const PruningSchedule> pruningScheduleFromJson(const nlohmann::json& j) {
  SHRINK_CHECK(j.is_object() && j.contains("type") && j["type"].is_string(),
               "pruningScheduleFromJson: expected {{\"type\": ..., \"config\": {{...}}}}, got {}", j.dump());
  const std::string type = j["type"];
  PruningScheduleFactory factory;
  {
    std::lock_guard lock(factoriesMutex());
    auto it = factories().find(type);
    if (it == factories().end()) {
      std::string known;
      for (const auto& [name, f] : factories()) known += (known.empty() ? "" : ", ") + name;
      throw std::invalid_argument(
          fmt::format("pruningScheduleFromJson: unknown schedule type '{}' (known: {})", type, known));
    }
    factory = it->second;
  }
  return factory(j.value("config", nlohmann::json::object()));
}

nlohmann::json pruningScheduleToJson(const PruningSchedule& schedule) {
  return {{"type", schedule.typeName()}, {"config", schedule.config()}};
}

}  // namespace shrink
