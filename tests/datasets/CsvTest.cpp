#include "datasets/Csv.h"

#include <fstream>

#include <gtest/gtest.h>

#include "TestUtils.h"
#include "datasets/DatasetTestUtils.h"

namespace shrink::data {
namespace {

using test::contains;
using test::runtimeErrorOf;
using test::TempDir;

std::filesystem::path writeText(const TempDir& dir, const std::string& name, const std::string& text) {
  const auto p = dir / name;
  std::ofstream(p, std::ios::binary) << text;
  return p;
}

TEST(CsvTest, ReadsTargetByNameAndIndex) {
  TempDir dir;
  const auto p = writeText(dir, "houses.csv",
                           "a, \"b\" ,price,c\r\n"
                           "1,2,3,4\r\n"
                           "\r\n"
                           " -5.5 , 6e2 ,+7,.25\r\n"
                           "9,10,11,12\n");
  const TensorDataset byName = loadCsv(p, {.targetName = "price"});
  EXPECT_TRUE(test::allClose(byName.inputs(), Tensor(Shape{3, 3}, {1, 2, 4, -5.5f, 600, 0.25f, 9, 10, 12}), 0, 0));
  EXPECT_TRUE(test::allClose(byName.targets(), Tensor(Shape{3, 1}, {3, 7, 11}), 0, 0));
  const TensorDataset quoted = loadCsv(p, {.targetName = "b"});
  EXPECT_TRUE(test::allClose(quoted.targets(), Tensor(Shape{3, 1}, {2, 600, 10}), 0, 0));
  const TensorDataset first = loadCsv(p, {.targetIndex = 0});
  EXPECT_TRUE(test::allClose(first.inputs(), Tensor(Shape{3, 3}, {2, 3, 4, 600, 7, 0.25f, 10, 11, 12}), 0, 0));
  EXPECT_TRUE(test::allClose(first.targets(), Tensor(Shape{3, 1}, {1, -5.5f, 9}), 0, 0));
  const TensorDataset last = loadCsv(p);  // default: the last column
  EXPECT_TRUE(test::allClose(last.targets(), Tensor(Shape{3, 1}, {4, 0.25f, 12}), 0, 0));
  const TensorDataset fromEnd = loadCsv(p, {.targetIndex = -2});
  EXPECT_TRUE(test::allClose(fromEnd.targets(), byName.targets(), 0, 0));
}

TEST(CsvTest, ClassTargetsAndOtherDelimiters) {
  TempDir dir;
  const auto p = writeText(dir, "iris.tsv", "label\tx\ty\n2\t0.5\t1\n0\t1.5\t2\n1\t2.5\t3\n");
  const TensorDataset d = loadCsv(p, {.targetName = "label", .delimiter = '\t', .classTargets = true});
  EXPECT_EQ(d.targetShape(), (Shape{}));
  EXPECT_TRUE(test::allClose(d.targets(), Tensor(Shape{3}, {2, 0, 1}), 0, 0));
  EXPECT_TRUE(test::allClose(d.inputs(), Tensor(Shape{3, 2}, {0.5f, 1, 1.5f, 2, 2.5f, 3}), 0, 0));
  const auto bad = writeText(dir, "bad.csv", "x,label\n1,0\n2,1.5\n");
  const std::string msg = runtimeErrorOf([&] { loadCsv(bad, {.classTargets = true}); });
  EXPECT_TRUE(contains(msg, bad.string() + ": line 3, column 2: target 1.5 is not a class id"));
}

TEST(CsvTest, WithoutHeader) {
  TempDir dir;
  const auto p = writeText(dir, "raw.csv", "1,2,3\n4,5,6\n");
  const TensorDataset d = loadCsv(p, {.header = false});
  EXPECT_EQ(d.size(), 2);
  EXPECT_TRUE(test::allClose(d.targets(), Tensor(Shape{2, 1}, {3, 6}), 0, 0));
  EXPECT_THROW(loadCsv(p, {.targetName = "x", .header = false}), std::invalid_argument);
}

TEST(CsvTest, NonNumericCellNamesFileLineAndColumn) {
  TempDir dir;
  const auto p = writeText(dir, "bad.csv", "a,b,c\n1,2,3\n4,abc,6\n");
  EXPECT_TRUE(contains(runtimeErrorOf([&] { loadCsv(p); }),
                       p.string() + ": line 3, column 2 ('b'): 'abc' is not a finite number"));
  const auto empty = writeText(dir, "empty-cell.csv", "a,b,c\n1,,3\n");
  EXPECT_TRUE(contains(runtimeErrorOf([&] { loadCsv(empty); }), empty.string() + ": line 2, column 2 ('b'): ''"));
  const auto partial = writeText(dir, "partial.csv", "a,b\n1.5x,2\n");
  EXPECT_TRUE(contains(runtimeErrorOf([&] { loadCsv(partial); }), partial.string() + ": line 2, column 1 ('a')"));
  const auto nan = writeText(dir, "nan.csv", "a,b\n1,nan\n");
  EXPECT_TRUE(contains(runtimeErrorOf([&] { loadCsv(nan); }), nan.string() + ": line 2, column 2 ('b'): 'nan'"));
}

TEST(CsvTest, RaggedRowNamesFileAndLine) {
  TempDir dir;
  const auto shortRow = writeText(dir, "short.csv", "a,b,c\n1,2,3\n\n4,5\n");
  EXPECT_TRUE(contains(runtimeErrorOf([&] { loadCsv(shortRow); }),
                       shortRow.string() + ": line 4: ragged row with 2 columns, expected 3"));
  const auto longRow = writeText(dir, "long.csv", "a,b\n1,2,3\n");
  EXPECT_TRUE(contains(runtimeErrorOf([&] { loadCsv(longRow); }),
                       longRow.string() + ": line 2: ragged row with 3 columns, expected 2"));
}

TEST(CsvTest, StructuralErrorsNameTheFile) {
  TempDir dir;
  const auto missing = dir / "missing.csv";
  EXPECT_TRUE(contains(runtimeErrorOf([&] { loadCsv(missing); }), missing.string() + ": cannot open"));
  const auto empty = writeText(dir, "empty.csv", "");
  EXPECT_TRUE(contains(runtimeErrorOf([&] { loadCsv(empty); }), empty.string() + ": empty file"));
  const auto headerOnly = writeText(dir, "header.csv", "a,b\n\n");
  EXPECT_TRUE(contains(runtimeErrorOf([&] { loadCsv(headerOnly); }), headerOnly.string() + ": no data rows"));
  const auto oneColumn = writeText(dir, "one.csv", "y\n1\n2\n");
  EXPECT_TRUE(contains(runtimeErrorOf([&] { loadCsv(oneColumn); }), oneColumn.string() + ": 1 column(s)"));
  const auto good = writeText(dir, "good.csv", "a,b\n1,2\n");
  EXPECT_TRUE(contains(runtimeErrorOf([&] { loadCsv(good, {.targetName = "price"}); }),
                       good.string() + ": no column named 'price' in the header (columns: a, b)"));
  EXPECT_TRUE(contains(runtimeErrorOf([&] { loadCsv(good, {.targetIndex = 2}); }),
                       good.string() + ": target column index 2 out of range for 2 columns"));
  EXPECT_TRUE(contains(runtimeErrorOf([&] { loadCsv(good, {.targetIndex = -3}); }), "out of range"));
}

}  // namespace
}  // namespace shrink::data
