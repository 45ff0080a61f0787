#pragma once

#include <cstdint>
#include <filesystem>
#include <string>

#include "datasets/Dataset.h"

namespace shrink::data {

struct CsvOptions {
  /// Name of the target column in the header; when empty, targetIndex is used.
  std::string targetName{};
  /// Index of the target column; negative counts from the end (-1 is the last column).
  int64_t targetIndex = -1;
  char delimiter = ',';
  /// The first line names the columns.
  bool header = true;
  /// Targets are class ids (whole numbers >= 0) returned as [N]; otherwise regression values [N, 1].
  bool classTargets = false;
};

/// Reads a numeric CSV file: every cell of every data row must parse as a finite number, every row
/// must have as many cells as the first, blank lines are skipped, "\r\n" line ends and spaces
/// around cells are accepted, header names may be double-quoted. The target column becomes the
/// targets; all other columns, in file order, the inputs [N, columns - 1]. Throws
/// std::runtime_error naming the file (and the line and column where a cell is wrong) for a
/// missing or empty file, a ragged row, a non-numeric cell or an unknown target column (line and
/// column numbers count from 1).
TensorDataset loadCsv(const std::filesystem::path& path, const CsvOptions& options = {});

}  // namespace shrink::data
