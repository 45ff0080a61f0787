#include "compress/Strip.h"

#include <functional>

#include "compress/Cluster.h"
#include "compress/PruneLowMagnitude.h"
#include "compress/QuantNoise.h"
#include "compress/QuantizeWrapper.h"
#include "compress/Wrapping.h"

namespace shrink {

namespace {

/// Replaces every W wrapped inside another wrapper at `top` (the ClusterWeights of a QuantizeWrapper
/// around it) by its layer; returns how many.
template <class W>
int stripInner(Module& top) {
  int stripped = 0;
  auto* outer = dynamic_cast<LayerWrapper*>(&top);
  while (outer != nullptr) {
    auto* inner = dynamic_cast<LayerWrapper*>(&outer->layer());
    if (auto* w = dynamic_cast<W*>(inner)) {
      outer->replaceLayer(w->releaseLayer());  // the emptied wrapper dies here
      ++stripped;
    } else {
      outer = inner;
    }
  }
  return stripped;
}

/// Calls strip(seq, i) for every W at place i of `model` and of its nested Sequentials; strip
/// replaces it and may insert after it, moving i to the last place it filled. A W inside another
/// wrapper is replaced by its layer when W can give it up alone (releaseLayer).
template <class W>
int stripEvery(Sequential& model, const std::function<void(Sequential&, size_t&)>& strip) {
  int stripped = 0;
  for (size_t i = 0; i < model.size(); ++i) {
    if (auto* nested = dynamic_cast<Sequential*>(&model.at(i))) {
      stripped += stripEvery<W>(*nested, strip);
    } else if (dynamic_cast<W*>(&model.at(i)) != nullptr) {
      strip(model, i);
      ++stripped;
    } else if constexpr (requires(W& w) { w.releaseLayer(); }) {
      stripped += stripInner<W>(model.at(i));
    }
  }
  return stripped;
}

}  // namespace

int stripPruningInPlace(Sequential& model) {
  return stripEvery<PruneLowMagnitude>(model, [](Sequential& seq, size_t& i) {
    seq.wrap(i, [](std::unique_ptr<Module>& wrapper) { return static_cast<PruneLowMagnitude&>(*wrapper).releaseLayer(); });
  });
}

int stripQuantizationInPlace(Sequential& model) {
  return stripEvery<QuantizeWrapper>(model, [](Sequential& seq, size_t& i) {
    std::unique_ptr<Module> outputQuantizer;
    seq.wrap(i, [&](std::unique_ptr<Module>& wrapper) {
      // Quantized values are not centroids of the codebook: a clustering inside is baked first.
      stripInner<ClusterWeights>(*wrapper);
      QuantizeWrapper::Released parts = static_cast<QuantizeWrapper&>(*wrapper).release();
      outputQuantizer = std::move(parts.outputQuantizer);
      return std::move(parts.layer);
    });
    if (outputQuantizer) {
      seq.insert(i + 1, std::move(outputQuantizer), seq.name(i) + "_quantizer");
      ++i;
    }
  });
}

int stripQuantNoiseInPlace(Sequential& model) {
  return stripEvery<QuantNoiseWrapper>(model, [](Sequential& seq, size_t& i) {
    seq.wrap(i, [](std::unique_ptr<Module>& wrapper) { return static_cast<QuantNoiseWrapper&>(*wrapper).releaseLayer(); });
  });
}

int stripClusteringInPlace(Sequential& model) {
  return stripEvery<ClusterWeights>(model, [](Sequential& seq, size_t& i) {
    seq.wrap(i, [](std::unique_ptr<Module>& wrapper) { return static_cast<ClusterWeights&>(*wrapper).releaseLayer(); });
  });
}

std::unique_ptr<Sequential> stripClustering(const Sequential& model) {
  std::unique_ptr<Sequential> out = copyModel(model);
  stripClusteringInPlace(*out);
  return out;
}

std::unique_ptr<Sequential> stripQuantization(const Sequential& model) {
  std::unique_ptr<Sequential> out = copyModel(model);
  stripQuantizationInPlace(*out);
  return out;
}

std::unique_ptr<Sequential> stripPruning(const Sequential& model) {
  std::unique_ptr<Sequential> out = copyModel(model);
  stripPruningInPlace(*out);
  return out;
}

}  // namespace shrink
