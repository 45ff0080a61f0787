#include "optim/ModelFile.h"

#include "core/Check.h"
#include "layers/Registry.h"

namespace shrink {

ModelState captureState(const Module& model) {
  ModelState s;
  for (auto& [name, p] : model.namedParameters()) s.parameters.push_back(p->leaf().value());
  for (auto& [name, b] : model.namedBuffers()) s.buffers.push_back(*b);
  return s;
}

void restoreState(Module& model, const ModelState& state) {
  auto params = model.namedParameters();
  auto buffers = model.namedBuffers();
  SHRINK_CHECK(params.size() == state.parameters.size() && buffers.size() == state.buffers.size(),
               "restoreState: the state holds {} parameters and {} buffers, the model {} and {}",
               state.parameters.size(), state.buffers.size(), params.size(), buffers.size());
  NoGradGuard guard;
  for (size_t i = 0; i < params.size(); ++i) {
    SHRINK_CHECK(params[i].second->shape() == state.parameters[i].shape(), "restoreState: '{}' is {}, state has {}",
                 params[i].first, params[i].second->shape().str(), state.parameters[i].shape().str());
    params[i].second->leaf().mutableValue() = state.parameters[i];
  }
  for (size_t i = 0; i < buffers.size(); ++i) *buffers[i].second = state.buffers[i];
}

std::unique_ptr<Module> cloneModel(const Module& model) {
  std::unique_ptr<Module> copy = buildModule(architectureOf(model));
  restoreState(*copy, captureState(model));
  copy->train(model.isTraining());
  return copy;
}

Archive modelArchive(const Module& model, const SaveOptions& options) {
  Archive a;
  a.meta()["kind"] = "shrink-model";
  a.meta()["architecture"] = architectureOf(model);
  a.meta()["info"] = options.info;
  for (auto& [name, p] : model.namedParameters()) a.put("param/" + name, p->leaf().value());
  for (auto& [name, b] : model.namedBuffers()) a.put("buffer/" + name, *b);
  if (options.optimizer) {
    OptimizerState st = options.optimizer->exportState();
    a.meta()["optimizer"] = {{"type", st.type}, {"scalars", st.scalars}};
    nlohmann::json names = nlohmann::json::array();
    for (auto& [name, t] : st.tensors) {
      a.put("optim/" + name, t);
      names.push_back(name);
    }
    a.meta()["optimizer"]["tensors"] = names;
  }
  return a;
}

void saveModel(const Module& model, const std::string& path, const SaveOptions& options) {
  modelArchive(model, options).save(path, options.compressionLevel);
}

namespace {

void loadInto(Module& model, const Archive& a, const std::string& path) {
  auto fail = [&](const std::string& problem) { throw std::runtime_error(fmt::format("{}: {}", path, problem)); };
  NoGradGuard guard;
  for (auto& [name, p] : model.namedParameters()) {
    const std::string key = "param/" + name;
    if (!a.contains(key)) fail(fmt::format("no weight for '{}'", name));
    Tensor t = a.tensor(key);
    if (!(t.shape() == p->shape()))
      fail(fmt::format("weight '{}' has shape {}, the model expects {}", name, t.shape().str(), p->shape().str()));
    p->leaf().mutableValue() = std::move(t);
  }
  for (auto& [name, b] : model.namedBuffers()) {
    const std::string key = "buffer/" + name;
    if (!a.contains(key)) fail(fmt::format("no buffer for '{}'", name));
    Tensor t = a.tensor(key);
    if (!(t.shape() == b->shape()))
      fail(fmt::format("buffer '{}' has shape {}, the model expects {}", name, t.shape().str(), b->shape().str()));
    *b = std::move(t);
  }
}

}  // namespace

LoadedModel loadModel(const std::string& path) {
  LoadedModel out;
  out.archive = Archive::load(path);
  const nlohmann::json& meta = out.archive.meta();
  if (!meta.contains("kind") || meta["kind"] != "shrink-model" || !meta.contains("architecture"))
    throw std::runtime_error(fmt::format("{}: a shrink file, but not a model", path));
  try {
    out.model = buildModule(meta["architecture"]);
  } catch (const std::exception& e) {
    throw std::runtime_error(fmt::format("{}: cannot rebuild the model: {}", path, e.what()));
  }
  loadInto(*out.model, out.archive, path);
  out.info = meta.value("info", nlohmann::json::object());
  return out;
}

void loadWeights(Module& model, const std::string& path) { loadInto(model, Archive::load(path), path); }

void loadOptimizerState(Optimizer& optimizer, const Archive& archive, const std::string& path) {
  const nlohmann::json& meta = archive.meta();
  if (!meta.contains("optimizer")) throw std::runtime_error(fmt::format("{}: holds no optimizer state", path));
  OptimizerState st;
  st.type = meta["optimizer"]["type"].get<std::string>();
  st.scalars = meta["optimizer"]["scalars"];
  for (const auto& name : meta["optimizer"]["tensors"])
    st.tensors.emplace_back(name.get<std::string>(), archive.tensor("optim/" + name.get<std::string>()));
  try {
    optimizer.importState(st);
  } catch (const std::invalid_argument& e) {
    throw std::runtime_error(fmt::format("{}: {}", path, e.what()));
  }
}

}  // namespace shrink
