#pragma once

#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/Archive.h"
#include "core/Module.h"
#include "optim/Optimizer.h"

namespace shrink {

/// The values of a model's parameters (leaves) and buffers, in registry order.
struct ModelState {
  std::vector<Tensor> parameters;
  std::vector<Tensor> buffers;
};
ModelState captureState(const Module& model);
/// Puts back a state captured from the same architecture.
void restoreState(Module& model, const ModelState& state);
/// A deep copy: the same architecture, parameter and buffer values, and mode. Wrapper types
/// (compression) must be registered, as for loadModel.
std::unique_ptr<Module> cloneModel(const Module& model);

/// What saveModel writes besides the model itself.
struct SaveOptions {
  /// When given, the optimizer's state and step counters are saved too, to resume training exactly.
  const Optimizer* optimizer = nullptr;
  /// Free-form metadata (dataset, epoch, metrics ...), stored under "info".
  nlohmann::json info = nlohmann::json::object();
  int compressionLevel = 6;
};

/// Writes the whole model — architecture, parameters, buffers (BatchNorm statistics, compression
/// masks, steps, ranges ...) and optionally the optimizer state — as one archive (core/Archive.h:
/// versioned, zlib-compressed, checksummed, saved atomically).
void saveModel(const Module& model, const std::string& path, const SaveOptions& options = {});
/// The same archive in memory.
Archive modelArchive(const Module& model, const SaveOptions& options = {});

/// A model read back from a file, with what else the file held.
struct LoadedModel {
  std::unique_ptr<Module> model;
  nlohmann::json info;
  Archive archive;  ///< the raw file contents, e.g. for loadOptimizerState
};
/// Rebuilds the model from the architecture in the file and loads its weights and buffers.
/// Errors (a missing, truncated, corrupted, foreign or newer file; a weight of the wrong shape)
/// are std::runtime_error naming the file and the problem.
LoadedModel loadModel(const std::string& path);
/// Loads weights and buffers from `path` into an existing model of the same architecture.
void loadWeights(Module& model, const std::string& path);
/// Restores an optimizer state saved with SaveOptions::optimizer; throws if the file has none.
void loadOptimizerState(Optimizer& optimizer, const Archive& archive, const std::string& path);

}  // namespace shrink
