#include "datasets/Csv.h"

#include <charconv>
#include <cmath>
#include <fstream>
#include <stdexcept>
#include <string_view>
#include <vector>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "core/Check.h"

namespace shrink::data {
namespace {

std::string_view trim(std::string_view s) {
  const auto first = s.find_first_not_of(" \t");
  if (first == std::string_view::npos) return {};
  const auto last = s.find_last_not_of(" \t");
  return s.substr(first, last - first + 1);
}

std::vector<std::string_view> splitCells(std::string_view line, char delimiter) {
  std::vector<std::string_view> cells;
  size_t start = 0;
  while (true) {
    const size_t pos = line.find(delimiter, start);
    cells.push_back(trim(line.substr(start, pos == std::string_view::npos ? std::string_view::npos : pos - start)));
    if (pos == std::string_view::npos) break;
    start = pos + 1;
  }
  return cells;
}

std::string unquote(std::string_view s) {
  if (s.size() >= 2 && s.front() == '"' && s.back() == '"') s = s.substr(1, s.size() - 2);
  return std::string(s);
}

}  // namespace

TensorDataset loadCsv(const std::filesystem::path& path, const CsvOptions& options) {
  SHRINK_CHECK(options.targetName.empty() || options.header, "loadCsv: targetName '{}' needs a header row",
               options.targetName);
  SHRINK_CHECK(options.delimiter != '"' && options.delimiter != '\n' && options.delimiter != '\r',
               "loadCsv: unusable delimiter");
  const std::string file = path.string();
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error(fmt::format("{}: cannot open CSV file", file));

  std::vector<std::string> names;
  std::vector<float> values;
  std::vector<int64_t> rowLines;
  int64_t columns = 0;
  int64_t rows = 0;
  int64_t lineNo = 0;
  std::string line;
  while (std::getline(in, line)) {
    ++lineNo;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (trim(line).empty()) continue;
    const std::vector<std::string_view> cells = splitCells(line, options.delimiter);
    const int64_t count = static_cast<int64_t>(cells.size());
    if (options.header && names.empty()) {
      for (std::string_view c : cells) names.push_back(unquote(c));
      columns = count;
      continue;
    }
    if (columns == 0) columns = count;
    if (count != columns)
      throw std::runtime_error(fmt::format("{}: line {}: ragged row with {} columns, expected {}", file, lineNo,
                                           count, columns));
    for (int64_t c = 0; c < count; ++c) {
      const std::string_view cell = cells[static_cast<size_t>(c)];
      std::string_view digits = cell;
      if (digits.size() > 1 && digits.front() == '+' && digits[1] != '-') digits.remove_prefix(1);
      float v = 0.0f;
      const char* end = digits.data() + digits.size();
      auto [ptr, ec] = std::from_chars(digits.data(), end, v);
      if (cell.empty() || ec != std::errc() || ptr != end || !std::isfinite(v)) {
        const std::string label = names.empty() ? "" : fmt::format(" ('{}')", names[static_cast<size_t>(c)]);
        throw std::runtime_error(fmt::format("{}: line {}, column {}{}: '{}' is not a finite number", file,
                                             lineNo, c + 1, label, cell));
      }
      values.push_back(v);
    }
    rowLines.push_back(lineNo);
    ++rows;
  }
  if (in.bad()) throw std::runtime_error(fmt::format("{}: read error", file));
  if (lineNo == 0 || (options.header && names.empty()))
    throw std::runtime_error(fmt::format("{}: empty file, expected {}", file,
                                         options.header ? "a header row and data rows" : "data rows"));
  if (rows == 0) throw std::runtime_error(fmt::format("{}: no data rows after the header", file));
  if (columns < 2)
    throw std::runtime_error(fmt::format("{}: {} column(s); need a target column and at least one feature",
                                         file, columns));

  int64_t target = 0;
  if (!options.targetName.empty()) {
    int64_t found = -1;
    for (size_t c = 0; c < names.size(); ++c)
      if (names[c] == options.targetName) {
        if (found >= 0)
          throw std::runtime_error(fmt::format("{}: target column '{}' appears more than once in the header",
                                               file, options.targetName));
        found = static_cast<int64_t>(c);
      }
    if (found < 0)
      throw std::runtime_error(fmt::format("{}: no column named '{}' in the header (columns: {})", file,
                                           options.targetName, fmt::join(names, ", ")));
    target = found;
  } else {
    target = options.targetIndex < 0 ? options.targetIndex + columns : options.targetIndex;
    if (target < 0 || target >= columns)
      throw std::runtime_error(fmt::format("{}: target column index {} out of range for {} columns", file,
                                           options.targetIndex, columns));
  }

  Tensor x(Shape{rows, columns - 1});
  Tensor y = options.classTargets ? Tensor(Shape{rows}) : Tensor(Shape{rows, 1});
  float* xp = x.data();
  for (int64_t r = 0; r < rows; ++r) {
    const float* row = values.data() + r * columns;
    for (int64_t c = 0; c < columns; ++c)
      if (c != target) *xp++ = row[c];
    const float t = row[target];
    if (options.classTargets && (t < 0.0f || t != std::floor(t)))
      throw std::runtime_error(fmt::format("{}: line {}, column {}: target {} is not a class id (a whole number >= 0)",
                                           file, rowLines[static_cast<size_t>(r)], target + 1, t));
    y[r] = t;
  }
  return TensorDataset(std::move(x), std::move(y));
}

}  // namespace shrink::data
