#pragma once

#include <cstdint>
#include <fstream>
#include <string>

namespace shrink {

/// Something that records named scalars against a step: sparsity per layer, loss, learning rate.
/// EventWriter (TensorBoard) and ScalarCsvLog implement it, so a callback can log to either.
class ScalarLogger {
 public:
  virtual ~ScalarLogger() = default;
  /// Records `value` under `tag` at `step`. Tags are non-empty; TensorBoard groups them by the part
  /// before the first '/'.
  virtual void addScalar(const std::string& tag, double value, int64_t step) = 0;
  /// Pushes what was recorded so far to the operating system (readers see it).
  virtual void flush() = 0;
};

/// Scalars as a long-format CSV table with the header "step,tag,value" and one row per scalar, in
/// the order recorded. Values are written with the shortest decimal form that reads back to the
/// same double ("nan", "inf", "-inf" for non-finite ones). A tag containing a comma, a quote or a
/// line break is quoted as RFC 4180 says (quotes doubled). Rows are flushed on flush() and when
/// the log is destroyed.
class ScalarCsvLog : public ScalarLogger {
 public:
  /// Opens `path` for writing (its directory must exist). append = false truncates the file;
  /// append = true adds rows to it and writes the header only when the file is empty or new.
  /// Throws std::runtime_error naming the path when the file cannot be opened.
  explicit ScalarCsvLog(std::string path, bool append = false);
  ScalarCsvLog(const ScalarCsvLog&) = delete;
  ScalarCsvLog& operator=(const ScalarCsvLog&) = delete;
  ~ScalarCsvLog() override;

  /// Throws std::invalid_argument for an empty tag, std::runtime_error naming the path when the
  /// row cannot be written.
  void addScalar(const std::string& tag, double value, int64_t step) override;
  void flush() override;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  std::ofstream out_;
};

}  // namespace shrink
