#include "compress/Strip.h"

#include "compress/PruneLowMagnitude.h"
#include "core/Check.h"
#include "layers/Registry.h"
#include "optim/ModelFile.h"

namespace shrink {

int stripPruningInPlace(Sequential& model) {
  int stripped = 0;
  for (size_t i = 0; i < model.size(); ++i) {
    if (auto* nested = dynamic_cast<Sequential*>(&model.at(i))) {
      stripped += stripPruningInPlace(*nested);
    } else if (dynamic_cast<PruneLowMagnitude*>(&model.at(i)) != nullptr) {
      model.wrap(i, [](std::unique_ptr<Module>& wrapper) {
        return static_cast<PruneLowMagnitude&>(*wrapper).releaseLayer();
      });
      ++stripped;
    }
  }
  return stripped;
}

std::unique_ptr<Sequential> stripPruning(const Sequential& model) {
  registerCompressionTypes();
  std::unique_ptr<Module> copy = cloneModel(model);
  auto* seq = dynamic_cast<Sequential*>(copy.get());
  SHRINK_ASSERT(seq != nullptr, "stripPruning: the copy of a Sequential is a {}", copy->typeName());
  copy.release();
  std::unique_ptr<Sequential> out(seq);
  stripPruningInPlace(*out);
  return out;
}

}  // namespace shrink
