#pragma once

#include <cstdint>
#include <filesystem>

#include "datasets/Dataset.h"

namespace shrink::data {

/// Which half of a dataset with a fixed train/test partition.
enum class Split { Train, Test };

/// Input layout of image datasets.
enum class ImageLayout {
  Flat,  ///< [N, rows * cols]
  NCHW,  ///< [N, 1, rows, cols]
};

struct MnistOptions {
  /// Scale pixels from 0..255 to [0, 1]; otherwise keep the raw grey levels as floats.
  bool normalize = true;
  ImageLayout layout = ImageLayout::Flat;
  /// Keep at most this many examples (the first ones in file order); 0 keeps all.
  int64_t limit = 0;
};

/// Loads MNIST or Fashion-MNIST (same file names and format) from `dir`: the Train split from
/// train-images-idx3-ubyte / train-labels-idx1-ubyte, the Test split from the t10k-* files, each
/// gzip-compressed (".gz") or not; the dotted variant "train-images.idx3-ubyte" is accepted too.
/// Returns inputs per `options.layout` and targets [N] holding class ids 0..9 as floats.
/// Throws std::runtime_error naming the path and the expected files when the directory or a file
/// is missing, when an IDX file is malformed, when image and label counts differ, or when a label
/// is not in 0..9; std::invalid_argument for a negative limit.
TensorDataset loadMnist(const std::filesystem::path& dir, Split split, const MnistOptions& options = {});

/// Where the Debian package dataset-fashion-mnist installs the four gzipped IDX files.
std::filesystem::path defaultFashionMnistDir();

}  // namespace shrink::data
