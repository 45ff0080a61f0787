#pragma once

#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/Functions.h"
#include "core/Init.h"

namespace shrink {

/// Options of layers that take none (Flatten, ReLU, ...), so `seq.add<Flatten>({})` works.
struct NoOptions {};

/// The JSON vocabulary of layer configs (architecture files), in Keras' snake_case:
/// "glorot_uniform" | "he_normal" | "he_uniform" | "zeros" | "ones".
std::string initializerName(Initializer init);
Initializer parseInitializer(const std::string& name);
/// "valid" | "same".
std::string paddingName(Padding padding);
Padding parsePadding(const std::string& name);

/// A float as the JSON number of its shortest decimal form (0.3f is written 0.3, not
/// 0.30000001192092896); reading it back as float gives the same float.
double jsonFloat(float v);

/// Keras' class-name-to-layer-name rule: "Conv2D" -> "conv2d", "LeakyReLU" -> "leaky_re_lu",
/// "PruneLowMagnitude" -> "prune_low_magnitude".
std::string toSnakeCase(const std::string& camel);

/// Typed, checked access to one layer's `config` object, for module factories (the built-in ones
/// and those that compression wrappers register). Every error is a std::invalid_argument naming the
/// type and the field: "Dense config: field 'out' must be an integer, got \"ten\"". `finish()`
/// rejects keys that were never read, so a typo in a hand-written model file does not pass silently.
class ConfigReader {
 public:
  /// `config` must be a JSON object (or null, read as an empty object); `type` names it in errors.
  ConfigReader(const nlohmann::json& config, std::string type);

  bool has(const std::string& key) const;
  /// A required field / a field with a fallback when absent.
  int64_t integer(const std::string& key) const;
  int64_t integer(const std::string& key, int64_t fallback) const;
  /// A required non-negative integer that may exceed int64 (seeds).
  uint64_t unsignedInteger(const std::string& key) const;
  double number(const std::string& key) const;
  double number(const std::string& key, double fallback) const;
  bool boolean(const std::string& key, bool fallback) const;
  std::string string(const std::string& key) const;
  std::string string(const std::string& key, const std::string& fallback) const;
  /// A pair of positive sizes written as one integer (used for both) or as [h, w].
  std::pair<int64_t, int64_t> pair(const std::string& key) const;
  std::pair<int64_t, int64_t> pair(const std::string& key, std::pair<int64_t, int64_t> fallback) const;
  /// The raw value of a required field (nested configs of wrappers).
  const nlohmann::json& raw(const std::string& key) const;
  /// Throws naming every key that no accessor read.
  void finish() const;

 private:
  const nlohmann::json& field(const std::string& key) const;
  [[noreturn]] void fail(const std::string& key, const char* expected, const nlohmann::json& got) const;
  nlohmann::json config_;
  std::string type_;
  mutable std::set<std::string> read_;
};

}  // namespace shrink
