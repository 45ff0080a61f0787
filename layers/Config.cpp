#include "layers/Config.h"

#include <cctype>
#include <cmath>
#include <limits>

#include "core/Check.h"

namespace shrink {

std::string initializerName(Initializer init) {
  switch (init) {
    case Initializer::GlorotUniform: return "glorot_uniform";
    case Initializer::HeNormal: return "he_normal";
    case Initializer::HeUniform: return "he_uniform";
    case Initializer::Zeros: return "zeros";
    case Initializer::Ones: return "ones";
  }
  SHRINK_ASSERT(false, "initializerName: unknown initializer {}", static_cast<int>(init));
}

Initializer parseInitializer(const std::string& name) {
  for (Initializer i : {Initializer::GlorotUniform, Initializer::HeNormal, Initializer::HeUniform,
                        Initializer::Zeros, Initializer::Ones})
    if (initializerName(i) == name) return i;
  throw std::invalid_argument(fmt::format(
      "unknown initializer '{}' (known: glorot_uniform, he_normal, he_uniform, zeros, ones)", name));
}

std::string paddingName(Padding padding) { return padding == Padding::Same ? "same" : "valid"; }

Padding parsePadding(const std::string& name) {
  if (name == "valid") return Padding::Valid;
  if (name == "same") return Padding::Same;
  throw std::invalid_argument(fmt::format("unknown padding '{}' (known: valid, same)", name));
}

double jsonFloat(float v) { return std::stod(fmt::format("{}", v)); }

std::string toSnakeCase(const std::string& camel) {
  // Keras: re.sub("(.)([A-Z][a-z]+)", r"\1_\2"), then re.sub("([a-z])([A-Z])", r"\1_\2"), lower.
  std::string a;
  for (size_t i = 0; i < camel.size(); ++i) {
    const bool wordStart = i > 0 && std::isupper(static_cast<unsigned char>(camel[i])) && i + 1 < camel.size() &&
                           std::islower(static_cast<unsigned char>(camel[i + 1]));
    if (wordStart) a += '_';
    a += camel[i];
  }
  std::string b;
  for (size_t i = 0; i < a.size(); ++i) {
    if (i > 0 && std::isupper(static_cast<unsigned char>(a[i])) && std::islower(static_cast<unsigned char>(a[i - 1])))
      b += '_';
    b += static_cast<char>(std::tolower(static_cast<unsigned char>(a[i])));
  }
  return b;
}

ConfigReader::ConfigReader(const nlohmann::json& config, std::string type)
    : config_(config.is_null() ? nlohmann::json::object() : config), type_(std::move(type)) {
  SHRINK_CHECK(config_.is_object(), "{} config: expected a JSON object, got {}", type_, config_.dump());
}

bool ConfigReader::has(const std::string& key) const {
  read_.insert(key);
  return config_.contains(key);
}

const nlohmann::json& ConfigReader::field(const std::string& key) const {
  read_.insert(key);
  SHRINK_CHECK(config_.contains(key), "{} config: missing required field '{}'", type_, key);
  return config_.at(key);
}

void ConfigReader::fail(const std::string& key, const char* expected, const nlohmann::json& got) const {
  throw std::invalid_argument(
      fmt::format("{} config: field '{}' must be {}, got {}", type_, key, expected, got.dump()));
}

int64_t ConfigReader::integer(const std::string& key) const {
  const nlohmann::json& v = field(key);
  if (v.is_number_integer()) return v.get<int64_t>();
  // 3.0 is accepted as 3 (JSON writers may emit whole floats); 2.5 is not.
  if (v.is_number_float() && std::floor(v.get<double>()) == v.get<double>() &&
      std::fabs(v.get<double>()) < 9.0e15)
    return static_cast<int64_t>(v.get<double>());
  fail(key, "an integer", v);
}

int64_t ConfigReader::integer(const std::string& key, int64_t fallback) const {
  return has(key) ? integer(key) : fallback;
}

uint64_t ConfigReader::unsignedInteger(const std::string& key) const {
  const nlohmann::json& v = field(key);
  if (v.is_number_unsigned()) return v.get<uint64_t>();
  if (v.is_number_integer() && v.get<int64_t>() >= 0) return static_cast<uint64_t>(v.get<int64_t>());
  fail(key, "a non-negative integer", v);
}

double ConfigReader::number(const std::string& key) const {
  const nlohmann::json& v = field(key);
  if (!v.is_number()) fail(key, "a number", v);
  return v.get<double>();
}

double ConfigReader::number(const std::string& key, double fallback) const {
  return has(key) ? number(key) : fallback;
}

bool ConfigReader::boolean(const std::string& key, bool fallback) const {
  if (!has(key)) return fallback;
  const nlohmann::json& v = field(key);
  if (!v.is_boolean()) fail(key, "true or false", v);
  return v.get<bool>();
}

std::string ConfigReader::string(const std::string& key) const {
  const nlohmann::json& v = field(key);
  if (!v.is_string()) fail(key, "a string", v);
  return v.get<std::string>();
}

std::string ConfigReader::string(const std::string& key, const std::string& fallback) const {
  return has(key) ? string(key) : fallback;
}

std::pair<int64_t, int64_t> ConfigReader::pair(const std::string& key) const {
  const nlohmann::json& v = field(key);
  auto positive = [](const nlohmann::json& e) { return e.is_number_integer() && e.get<int64_t>() > 0; };
  if (positive(v)) return {v.get<int64_t>(), v.get<int64_t>()};
  if (v.is_array() && v.size() == 2 && positive(v[0]) && positive(v[1]))
    return {v[0].get<int64_t>(), v[1].get<int64_t>()};
  fail(key, "a positive integer or a pair [h, w] of them", v);
}

std::pair<int64_t, int64_t> ConfigReader::pair(const std::string& key,
                                                std::pair<int64_t, int64_t> fallback) const {
  return has(key) ? pair(key) : fallback;
}

const nlohmann::json& ConfigReader::raw(const std::string& key) const { return field(key); }

void ConfigReader::finish() const {
  std::vector<std::string> unknown;
  for (const auto& [key, value] : config_.items())
    if (!read_.count(key)) unknown.push_back(key);
  if (unknown.empty()) return;
  std::vector<std::string> known(read_.begin(), read_.end());
  throw std::invalid_argument(fmt::format("{} config: unknown field{} '{}' (known: {})", type_,
                                          unknown.size() > 1 ? "s" : "", fmt::join(unknown, "', '"),
                                          fmt::join(known, ", ")));
}

}  // namespace shrink
