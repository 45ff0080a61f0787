#include "compress/EventWriter.h"

#include <array>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <ctime>
#include <filesystem>

#include <fmt/format.h>
#include <unistd.h>

#include "core/Check.h"

namespace shrink {

namespace {

constexpr std::array<uint32_t, 256> makeCrc32cTable() {
  std::array<uint32_t, 256> table{};
  for (uint32_t i = 0; i < 256; ++i) {
    uint32_t c = i;
    for (int k = 0; k < 8; ++k) c = (c & 1) ? (c >> 1) ^ 0x82F63B78u : c >> 1;
    table[i] = c;
  }
  return table;
}
constexpr std::array<uint32_t, 256> kCrc32cTable = makeCrc32cTable();

// Protobuf wire format: a field key is (number << 3 | wire type).
enum WireType : uint8_t { kVarint = 0, kFixed64 = 1, kLengthDelimited = 2, kFixed32 = 5 };

void putVarint(std::string& out, uint64_t v) {
  while (v >= 0x80) {
    out += static_cast<char>((v & 0x7F) | 0x80);
    v >>= 7;
  }
  out += static_cast<char>(v);
}

void putKey(std::string& out, uint32_t field, WireType type) { putVarint(out, (uint64_t(field) << 3) | type); }

template <class T>
void putLittleEndian(std::string& out, T v) {
  for (size_t i = 0; i < sizeof(T); ++i) out += static_cast<char>((v >> (8 * i)) & 0xFF);
}

void putDouble(std::string& out, uint32_t field, double v) {
  uint64_t bits;
  std::memcpy(&bits, &v, 8);
  putKey(out, field, kFixed64);
  putLittleEndian(out, bits);
}

void putFloat(std::string& out, uint32_t field, float v) {
  uint32_t bits;
  std::memcpy(&bits, &v, 4);
  putKey(out, field, kFixed32);
  putLittleEndian(out, bits);
}

void putBytes(std::string& out, uint32_t field, std::string_view bytes) {
  putKey(out, field, kLengthDelimited);
  putVarint(out, bytes.size());
  out.append(bytes);
}

// Field numbers of tensorflow/core/util/event.proto and tensorflow/core/framework/summary.proto.
constexpr uint32_t kEventWallTime = 1, kEventStep = 2, kEventFileVersion = 3, kEventSummary = 5;
constexpr uint32_t kSummaryValue = 1;
constexpr uint32_t kValueTag = 1, kValueSimpleValue = 2;

double wallTime() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

std::string hostName() {
  char buf[256] = {};
  if (::gethostname(buf, sizeof(buf) - 1) != 0 || buf[0] == '\0') return "localhost";
  return buf;
}

}  // namespace

uint32_t crc32c(std::string_view data) {
  uint32_t c = 0xFFFFFFFFu;
  for (unsigned char b : data) c = kCrc32cTable[(c ^ b) & 0xFF] ^ (c >> 8);
  return c ^ 0xFFFFFFFFu;
}

uint32_t maskedCrc32c(std::string_view data) {
  const uint32_t c = crc32c(data);
  return ((c >> 15) | (c << 17)) + 0xA282EAD8u;
}

std::string tfRecord(std::string_view data) {
  std::string length;
  putLittleEndian(length, static_cast<uint64_t>(data.size()));
  std::string out = length;
  putLittleEndian(out, maskedCrc32c(length));
  out.append(data);
  putLittleEndian(out, maskedCrc32c(data));
  return out;
}

EventWriter::EventWriter(std::string dir) : dir_(std::move(dir)) {
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::create_directories(dir_, ec);
  if (ec || !fs::is_directory(dir_))
    throw std::runtime_error(fmt::format("EventWriter: cannot create the directory {} ({})", dir_,
                                         ec ? ec.message() : "not a directory"));
  const std::string base =
      (fs::path(dir_) / fmt::format("events.out.tfevents.{}.{}", static_cast<long long>(std::time(nullptr)),
                                    hostName()))
          .string();
  for (int suffix = 0; !file_; ++suffix) {
    path_ = suffix == 0 ? base : fmt::format("{}.{}", base, suffix);
    file_ = std::fopen(path_.c_str(), "wbx");  // exclusive: never overwrite another writer's file
    if (!file_ && errno != EEXIST)
      throw std::runtime_error(fmt::format("EventWriter: cannot create {} ({})", path_, std::strerror(errno)));
  }
  std::string event;
  putDouble(event, kEventWallTime, wallTime());
  putBytes(event, kEventFileVersion, "brain.Event:2");
  try {
    write(event);
    flush();
  } catch (...) {
    std::fclose(file_);
    throw;
  }
}

EventWriter::~EventWriter() {
  if (file_) std::fclose(file_);
}

void EventWriter::addScalar(const std::string& tag, double value, int64_t step) {
  SHRINK_CHECK(!tag.empty(), "EventWriter::addScalar: empty tag (step {}, value {})", step, value);
  std::string v;
  putBytes(v, kValueTag, tag);
  putFloat(v, kValueSimpleValue, static_cast<float>(value));
  std::string summary;
  putBytes(summary, kSummaryValue, v);
  std::string event;
  putDouble(event, kEventWallTime, wallTime());
  putKey(event, kEventStep, kVarint);
  putVarint(event, static_cast<uint64_t>(step));  // int64: negatives take ten bytes, two's complement
  putBytes(event, kEventSummary, summary);
  write(event);
}

void EventWriter::write(const std::string& event) {
  const std::string record = tfRecord(event);
  if (std::fwrite(record.data(), 1, record.size(), file_) != record.size())
    throw std::runtime_error(fmt::format("EventWriter: cannot write to {} ({})", path_, std::strerror(errno)));
}

void EventWriter::flush() {
  if (std::fflush(file_) != 0)
    throw std::runtime_error(fmt::format("EventWriter: cannot write to {} ({})", path_, std::strerror(errno)));
}

}  // namespace shrink
