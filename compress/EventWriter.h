#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>

#include "compress/ScalarLog.h"

namespace shrink {

/// CRC-32C (Castagnoli, reflected polynomial 0x82F63B78, init and final xor 0xFFFFFFFF) of `data`;
/// crc32c("123456789") = 0xE3069283.
uint32_t crc32c(std::string_view data);
/// TFRecord's masked CRC: rotate the CRC-32C right by 15 bits and add 0xA282EAD8 (mod 2^32).
uint32_t maskedCrc32c(std::string_view data);
/// One TFRecord: uint64 length (little-endian), masked CRC of those 8 bytes, the data, masked CRC
/// of the data (both CRCs little-endian uint32).
std::string tfRecord(std::string_view data);

/// Writes scalars as a TensorBoard event file, `<dir>/events.out.tfevents.<unix-seconds>.<hostname>`
/// (".1", ".2" ... appended when a file of that name already exists), readable by TensorBoard and
/// its EventAccumulator (`Scalars(tag)`). The file is a sequence of TFRecords, each an Event
/// protobuf: first {wall_time, file_version "brain.Event:2"}, then one per addScalar call
/// {wall_time, step, summary {value {tag, simple_value}}} with the value rounded to float32 (as
/// TensorBoard stores it). Records reach the file on flush() and when the writer is destroyed;
/// TensorBoard reads files that are still being written.
class EventWriter : public ScalarLogger {
 public:
  /// Creates `dir` (and its parents) when missing and opens a new event file in it. Throws
  /// std::runtime_error naming the path when either fails.
  explicit EventWriter(std::string dir);
  EventWriter(const EventWriter&) = delete;
  EventWriter& operator=(const EventWriter&) = delete;
  ~EventWriter() override;

  /// Throws std::invalid_argument for an empty tag, std::runtime_error naming the file when the
  /// record cannot be written.
  void addScalar(const std::string& tag, double value, int64_t step) override;
  void flush() override;

  const std::string& dir() const { return dir_; }
  /// The event file being written.
  const std::string& path() const { return path_; }

 private:
  void write(const std::string& event);

  std::string dir_;
  std::string path_;
  std::FILE* file_ = nullptr;
};

}  // namespace shrink
