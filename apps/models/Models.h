#pragma once

#include <memory>
#include <string>
#include <vector>

#include "core/Shape.h"
#include "layers/Sequential.h"

namespace shrink::models {

/// The preset architectures of the papers we follow. Image models take NCHW input [N, 1, 28, 28];
/// the MLPs start with a Flatten, so they take it too.
///   lenet300     Dense 784-300-100-10, ReLU (LeCun et al. 1998; Han et al. 2015)
///   lenet5       Conv 20@5x5, MaxPool 2, Conv 50@5x5, MaxPool 2, Dense 500, Dense 10, ReLU
///   seed-cnn     Conv 32@5x5 same, MaxPool 2, BatchNorm, Conv 64@5x5 same, MaxPool 2, Flatten,
///                Dense 1024, Dropout 0.4, Dense 10 (tfmot's pruning examples)
///   mlp-deep     784-512-512-256-256-128-128-64-64-32-32-10, ReLU
///   friedman-mlp 10-128-1, ReLU (input [N, 10])
std::unique_ptr<Sequential> build(const std::string& name, uint64_t seed = 42);
/// Names accepted by build().
std::vector<std::string> presetNames();
/// The input shape of one example for a preset (without the batch dimension).
Shape inputShape(const std::string& name);

}  // namespace shrink::models
