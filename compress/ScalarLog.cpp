#include "compress/ScalarLog.h"

#include <cerrno>
#include <cstring>
#include <filesystem>

#include <fmt/format.h>

#include "core/Check.h"

namespace shrink {

namespace {

std::string csvField(const std::string& s) {
  if (s.find_first_of(",\"\r\n") == std::string::npos) return s;
  std::string out = "\"";
  for (char c : s) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

}  // namespace

ScalarCsvLog::ScalarCsvLog(std::string path, bool append) : path_(std::move(path)) {
  std::error_code ec;
  const bool fresh = !append || !std::filesystem::exists(path_, ec) || std::filesystem::file_size(path_, ec) == 0;
  out_.open(path_, append ? std::ios::app : std::ios::trunc);
  if (!out_) throw std::runtime_error(fmt::format("ScalarCsvLog: cannot open {} ({})", path_, std::strerror(errno)));
  if (fresh) out_ << "step,tag,value\n";
}

ScalarCsvLog::~ScalarCsvLog() { out_.flush(); }

void ScalarCsvLog::addScalar(const std::string& tag, double value, int64_t step) {
  SHRINK_CHECK(!tag.empty(), "ScalarCsvLog::addScalar: empty tag (step {}, value {})", step, value);
  out_ << fmt::format("{},{},{}\n", step, csvField(tag), value);
  if (!out_) throw std::runtime_error(fmt::format("ScalarCsvLog: cannot write to {}", path_));
}

void ScalarCsvLog::flush() {
  out_.flush();
  if (!out_) throw std::runtime_error(fmt::format("ScalarCsvLog: cannot write to {}", path_));
}

}  // namespace shrink
