#include "core/Module.h"

#include "core/Check.h"

namespace shrink {

void Module::train(bool on) {
  training_ = on;
  onModeChange();
  for (auto& [name, child] : children_) child->train(on);
}

void Module::checkNewName(const std::string& name) const {
  SHRINK_CHECK(!name.empty() && name.find('.') == std::string::npos,
               "{}: invalid entry name '{}' (non-empty, no dots)", typeName(), name);
  auto taken = [&](const auto& list) {
    for (const auto& [n, _] : list)
      if (n == name) return true;
    return false;
  };
  SHRINK_CHECK(!taken(parameters_) && !taken(buffers_) && !taken(children_),
               "{}: name '{}' is already registered", typeName(), name);
}

Parameter& Module::registerParameter(std::string name, Tensor init, bool trainable) {
  checkNewName(name);
  parameters_.emplace_back(std::move(name), std::make_unique<Parameter>(std::move(init), trainable));
  return *parameters_.back().second;
}

Tensor& Module::registerBuffer(std::string name, Tensor init) {
  checkNewName(name);
  buffers_.emplace_back(std::move(name), std::make_unique<Tensor>(std::move(init)));
  return *buffers_.back().second;
}

Module& Module::registerModule(std::string name, std::unique_ptr<Module> module) {
  SHRINK_CHECK(module != nullptr, "{}: registerModule('{}') with a null module", typeName(), name);
  checkNewName(name);
  children_.emplace_back(std::move(name), std::move(module));
  return *children_.back().second;
}

std::unique_ptr<Module> Module::replaceModule(const std::string& name, std::unique_ptr<Module> module) {
  SHRINK_CHECK(module != nullptr, "{}: replaceModule('{}') with a null module", typeName(), name);
  for (auto& [n, child] : children_)
    if (n == name) {
      std::swap(child, module);
      return module;
    }
  throw std::invalid_argument(fmt::format("{}: no child named '{}'", typeName(), name));
}

std::vector<std::pair<std::string, std::unique_ptr<Module>>> Module::releaseModules() {
  return std::exchange(children_, {});
}

std::vector<std::pair<std::string, Parameter*>> Module::namedParameters(bool recurse) const {
  std::vector<std::pair<std::string, Parameter*>> out;
  for (const auto& [n, p] : parameters_) out.emplace_back(n, p.get());
  if (recurse)
    for (const auto& [cn, child] : children_)
      for (auto& [n, p] : child->namedParameters(true)) out.emplace_back(cn + "." + n, p);
  return out;
}

std::vector<Parameter*> Module::parameters(bool recurse) const {
  std::vector<Parameter*> out;
  for (auto& [n, p] : namedParameters(recurse)) out.push_back(p);
  return out;
}

std::vector<Parameter*> Module::trainableParameters() const {
  std::vector<Parameter*> out;
  for (auto& [n, p] : namedParameters(true))
    if (p->trainable()) out.push_back(p);
  return out;
}

std::vector<std::pair<std::string, Tensor*>> Module::namedBuffers(bool recurse) const {
  std::vector<std::pair<std::string, Tensor*>> out;
  for (const auto& [n, b] : buffers_) out.emplace_back(n, b.get());
  if (recurse)
    for (const auto& [cn, child] : children_)
      for (auto& [n, b] : child->namedBuffers(true)) out.emplace_back(cn + "." + n, b);
  return out;
}

std::vector<std::pair<std::string, Module*>> Module::namedChildren() const {
  std::vector<std::pair<std::string, Module*>> out;
  for (const auto& [n, c] : children_) out.emplace_back(n, c.get());
  return out;
}

std::vector<std::pair<std::string, Module*>> Module::namedModules() const {
  std::vector<std::pair<std::string, Module*>> out;
  for (const auto& [cn, child] : children_) {
    out.emplace_back(cn, child.get());
    for (auto& [n, m] : child->namedModules()) out.emplace_back(cn + "." + n, m);
  }
  return out;
}

void Module::visit(const std::function<void(Module&)>& fn) {
  fn(*this);
  for (auto& [n, child] : children_) child->visit(fn);
}

int64_t Module::parameterCount() const {
  int64_t n = 0;
  for (auto& [name, p] : namedParameters(true)) n += p->numel();
  return n;
}

int64_t Module::trainableParameterCount() const {
  int64_t n = 0;
  for (Parameter* p : trainableParameters()) n += p->numel();
  return n;
}

void Module::zeroGrad() {
  for (auto& [n, p] : namedParameters(true)) p->leaf().zeroGrad();
}

}  // namespace shrink
