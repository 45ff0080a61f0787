#include "layers/Sequential.h"

#include <algorithm>
#include <map>

#include "core/Check.h"
#include "layers/Config.h"

namespace shrink {

namespace {

int64_t bufferCount(const Module& m) {
  int64_t n = 0;
  for (auto& [name, b] : m.namedBuffers(true)) n += b->numel();
  return n;
}

/// "(None, 20, 24, 24)"
std::string batchlessShape(const Shape& s) {
  std::string out = "(None";
  for (size_t i = 1; i < s.rank(); ++i) out += fmt::format(", {}", s[i]);
  return out + (s.rank() == 1 ? ",)" : ")");
}

/// 266610 -> "266,610"
std::string withCommas(int64_t n) {
  std::string digits = std::to_string(n < 0 ? -n : n);
  std::string out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return n < 0 ? "-" + out : out;
}

/// Runs one child, prefixing an invalid_argument from it with where it happened.
Variable runChild(Module& child, size_t i, const std::string& name, const Variable& x) {
  try {
    return child.forward(x);
  } catch (const std::invalid_argument& e) {
    throw std::invalid_argument(
        fmt::format("Sequential: layer {} '{}' ({}): {}", i, name, child.typeName(), e.what()));
  }
}

}  // namespace

std::string Sequential::defaultBaseName(const std::string& type) {
  static const std::map<std::string, std::string> keras = {{"BatchNorm", "batch_normalization"},
                                                           {"MaxPool2D", "max_pooling2d"},
                                                           {"AvgPool2D", "average_pooling2d"}};
  auto it = keras.find(type);
  return it != keras.end() ? it->second : toSnakeCase(type);
}

Module& Sequential::add(std::unique_ptr<Module> module, std::string name) {
  SHRINK_CHECK(module != nullptr, "Sequential::add: null module");
  auto taken = [&](const std::string& n) {
    return std::any_of(layers_.begin(), layers_.end(), [&](const auto& l) { return l.first == n; });
  };
  if (name.empty()) {
    const std::string base = defaultBaseName(module->typeName());
    name = base;
    for (int k = 1; taken(name); ++k) name = fmt::format("{}_{}", base, k);
  }
  SHRINK_CHECK(!taken(name), "Sequential::add: a layer named '{}' already exists", name);
  module->train(isTraining());
  Module& m = registerModule(name, std::move(module));
  layers_.emplace_back(std::move(name), &m);
  return m;
}

Module& Sequential::insert(size_t i, std::unique_ptr<Module> module, std::string name) {
  SHRINK_CHECK(i <= layers_.size(), "Sequential::insert: index {} out of range (size {})", i, layers_.size());
  Module& m = add(std::move(module), std::move(name));
  auto children = releaseModules();
  std::rotate(children.begin() + static_cast<std::ptrdiff_t>(i), children.end() - 1, children.end());
  reregister(std::move(children));
  return m;
}

std::unique_ptr<Module> Sequential::remove(size_t i) {
  SHRINK_CHECK(i < layers_.size(), "Sequential::remove: index {} out of range (size {})", i, layers_.size());
  auto children = releaseModules();
  std::unique_ptr<Module> removed = std::move(children[i].second);
  children.erase(children.begin() + static_cast<std::ptrdiff_t>(i));
  reregister(std::move(children));
  return removed;
}

void Sequential::reregister(std::vector<std::pair<std::string, std::unique_ptr<Module>>> children) {
  // Children are registered in layer order, so parameter and buffer order follow it.
  layers_.clear();
  for (auto& [n, child] : children) layers_.emplace_back(n, &registerModule(n, std::move(child)));
}

Module& Sequential::at(size_t i) {
  SHRINK_CHECK(i < layers_.size(), "Sequential::at: index {} out of range (size {})", i, layers_.size());
  return *layers_[i].second;
}

const Module& Sequential::at(size_t i) const {
  SHRINK_CHECK(i < layers_.size(), "Sequential::at: index {} out of range (size {})", i, layers_.size());
  return *layers_[i].second;
}

const std::string& Sequential::name(size_t i) const {
  SHRINK_CHECK(i < layers_.size(), "Sequential::name: index {} out of range (size {})", i, layers_.size());
  return layers_[i].first;
}

size_t Sequential::indexOf(const std::string& name) const {
  for (size_t i = 0; i < layers_.size(); ++i)
    if (layers_[i].first == name) return i;
  std::vector<std::string> names;
  for (const auto& l : layers_) names.push_back(l.first);
  throw std::invalid_argument(
      fmt::format("Sequential: no layer named '{}' (layers: {})", name, fmt::join(names, ", ")));
}

std::unique_ptr<Module> Sequential::replace(size_t i, std::unique_ptr<Module> module) {
  SHRINK_CHECK(i < layers_.size(), "Sequential::replace: index {} out of range (size {})", i, layers_.size());
  SHRINK_CHECK(module != nullptr, "Sequential::replace: null module for layer {} '{}'", i, layers_[i].first);
  Module* incoming = module.get();
  incoming->train(isTraining());
  std::unique_ptr<Module> old = replaceModule(layers_[i].first, std::move(module));
  layers_[i].second = incoming;
  return old;
}

namespace {

/// Holds a child's place while wrap() hands the child to its function.
class Vacant : public Module {
 public:
  Variable forward(const Variable&) override {
    throw std::logic_error("Sequential: this layer was lost when a wrap() function threw after taking it");
  }
  std::string typeName() const override { return "Vacant"; }
};

}  // namespace

Module& Sequential::wrap(size_t i,
                         const std::function<std::unique_ptr<Module>(std::unique_ptr<Module>& child)>& fn) {
  SHRINK_CHECK(i < layers_.size(), "Sequential::wrap: index {} out of range (size {})", i, layers_.size());
  const std::string name = layers_[i].first;
  auto vacant = std::make_unique<Vacant>();
  layers_[i].second = vacant.get();
  std::unique_ptr<Module> child = replaceModule(name, std::move(vacant));
  auto putBack = [&] {
    if (!child) return;  // fn took it: the place stays Vacant
    layers_[i].second = child.get();
    replaceModule(name, std::move(child));
  };
  std::unique_ptr<Module> result;
  try {
    result = fn(child);
  } catch (...) {
    putBack();
    throw;
  }
  if (!result) {
    putBack();
    throw std::invalid_argument(
        fmt::format("Sequential::wrap: the function returned no module for layer {} '{}'", i, name));
  }
  result->train(isTraining());
  Module& m = *result;
  layers_[i].second = result.get();
  replaceModule(name, std::move(result));
  return m;
}

Variable Sequential::forward(const Variable& x) {
  Variable h = x;
  for (size_t i = 0; i < layers_.size(); ++i) h = runChild(*layers_[i].second, i, layers_[i].first, h);
  return h;
}

std::vector<Shape> Sequential::outputShapes(const Shape& inputShape) {
  SHRINK_CHECK(inputShape.rank() >= 1, "Sequential::summary: the input shape needs a batch dimension, got {}",
               inputShape.str());
  std::vector<int64_t> dims = inputShape.dims();
  dims[0] = 1;
  // Every module's own flag, parents first, so restoring in this order reproduces mixed modes.
  std::vector<std::pair<Module*, bool>> modes;
  visit([&](Module& m) { modes.emplace_back(&m, m.isTraining()); });
  struct Restore {
    std::vector<std::pair<Module*, bool>>& modes;
    ~Restore() {
      for (auto& [m, on] : modes) m->train(on);
    }
  } restore{modes};
  eval();
  NoGradGuard noGrad;
  std::vector<Shape> shapes;
  Variable h(Tensor::zeros(Shape(dims)));
  for (size_t i = 0; i < layers_.size(); ++i) {
    h = runChild(*layers_[i].second, i, layers_[i].first, h);
    shapes.push_back(h.shape());
  }
  return shapes;
}

std::string Sequential::summary(const Shape& inputShape) {
  const std::vector<Shape> shapes = outputShapes(inputShape);
  struct Row {
    std::string layer, shape, params;
  };
  std::vector<Row> rows;
  size_t w0 = 28, w1 = 25, w2 = 10;
  for (size_t i = 0; i < layers_.size(); ++i) {
    const Module& m = *layers_[i].second;
    rows.push_back({fmt::format("{} ({})", layers_[i].first, m.typeName()), batchlessShape(shapes[i]),
                    std::to_string(m.parameterCount() + bufferCount(m))});
    w0 = std::max(w0, rows.back().layer.size() + 2);
    w1 = std::max(w1, rows.back().shape.size() + 2);
    w2 = std::max(w2, rows.back().params.size() + 2);
  }
  const size_t width = 1 + w0 + w1 + w2;
  const std::string thin(width, '_'), thick(width, '=');
  std::string out = thin + "\n";
  out += fmt::format(" {:<{}}{:<{}}{}\n", "Layer (type)", w0, "Output Shape", w1, "Param #");
  out += thick + "\n";
  for (size_t i = 0; i < rows.size(); ++i) {
    out += fmt::format(" {:<{}}{:<{}}{}\n", rows[i].layer, w0, rows[i].shape, w1, rows[i].params);
    if (i + 1 < rows.size()) out += thin + "\n";
  }
  const int64_t total = parameterCount() + bufferCount(*this);
  const int64_t trainable = trainableParameterCount();
  out += thick + "\n";
  out += fmt::format("Total params: {}\n", withCommas(total));
  out += fmt::format("Trainable params: {}\n", withCommas(trainable));
  out += fmt::format("Non-trainable params: {}\n", withCommas(total - trainable));
  out += thin + "\n";
  return out;
}

}  // namespace shrink
