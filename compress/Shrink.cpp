#include "compress/Shrink.h"

#include <algorithm>
#include <memory>
#include <numeric>

#include "compress/ChannelGraph.h"
#include "core/Check.h"
#include "core/Random.h"
#include "layers/Conv2D.h"
#include "layers/Dense.h"

namespace shrink {

namespace {

using Index = std::vector<int64_t>;

Index iota(int64_t n) {
  Index out(static_cast<size_t>(n));
  std::iota(out.begin(), out.end(), 0);
  return out;
}

/// The units of a non-output layer that reach the next layer as an exact 0 (judged on the values
/// through every transform); keeps at least one. Runs under NoGradGuard.
Index keptUnits(const ChannelLayer& cl) {
  if (cl.isOutput || !cl.zeroBlocker.empty()) return iota(cl.units);
  const Tensor w = cl.weight->value().value();
  std::vector<Tensor> perUnit;  // bias, gammas, betas: [units] each
  if (cl.bias) perUnit.push_back(cl.bias->value().value());
  for (BatchNorm* bn : cl.batchNorms) {
    perUnit.push_back(bn->gamma().value().value());
    perUnit.push_back(bn->beta().value().value());
  }
  const int64_t rest = w.numel() / cl.units;
  Index kept;
  for (int64_t j = 0; j < cl.units; ++j) {
    const float* row = w.data() + j * rest;
    bool dead = std::all_of(row, row + rest, [](float v) { return v == 0.0f; });
    for (const Tensor& t : perUnit) dead = dead && t[j] == 0.0f;
    if (!dead) kept.push_back(j);
  }
  if (kept.empty()) kept.push_back(0);
  return kept;
}

/// Rows `rows` of a tensor viewed as [dim0, inner, block] restricted to inner indices `cols`:
/// Dense [out, in] (block 1), Conv2D [out, in, kh*kw], vectors [n] (inner 1, block 1).
Tensor select(const Tensor& t, const Index& rows, const Index& cols, int64_t inner, std::vector<int64_t> dims) {
  const int64_t block = t.numel() / (t.dim(0) * inner);
  Tensor out{Shape(std::move(dims))};
  float* dst = out.data();
  for (int64_t r : rows)
    for (int64_t c : cols) {
      const float* src = t.data() + (r * inner + c) * block;
      dst = std::copy(src, src + block, dst);
    }
  SHRINK_ASSERT(dst == out.data() + out.numel(), "shrinkStructured: selection does not fill {}", out.shape().str());
  return out;
}

Tensor selectVector(const Tensor& t, const Index& keep) {
  return select(t, keep, Index{0}, 1, {static_cast<int64_t>(keep.size())});
}

void copyInto(Parameter& dst, Tensor value, const Parameter& src) {
  dst.leaf().mutableValue() = std::move(value);
  dst.setTrainable(src.trainable());
}

void bakeAll(Module& m) {
  for (Parameter* p : m.parameters()) p->bake();
}

/// The producer layer rebuilt with rows `out` and input features/channels `in`.
std::unique_ptr<Module> rebuildLayer(const ChannelLayer& cl, const Index& out, const Index& in, Generator& scratch) {
  const auto nOut = static_cast<int64_t>(out.size());
  const auto nIn = static_cast<int64_t>(in.size());
  const Tensor& w = cl.weight->leaf().value();
  std::unique_ptr<Module> fresh;
  Parameter* weight = nullptr;
  Parameter* bias = nullptr;
  if (cl.isConv) {
    Conv2DOptions o = static_cast<Conv2D*>(cl.layer)->options();
    o.out = nOut;
    o.in = nIn;
    o.generator = &scratch;
    auto conv = std::make_unique<Conv2D>(o);
    conv->weight().leaf().mutableValue() = select(w, out, in, cl.inputs, {nOut, nIn, o.kernel.h, o.kernel.w});
    weight = &conv->weight();
    bias = conv->bias();
    fresh = std::move(conv);
  } else {
    DenseOptions o = static_cast<Dense*>(cl.layer)->options();
    o.out = nOut;
    o.in = nIn;
    o.generator = &scratch;
    auto dense = std::make_unique<Dense>(o);
    dense->weight().leaf().mutableValue() = select(w, out, in, cl.inputs, {nOut, nIn});
    weight = &dense->weight();
    bias = dense->bias();
    fresh = std::move(dense);
  }
  weight->setTrainable(cl.weight->trainable());
  if (bias) copyInto(*bias, selectVector(cl.bias->leaf().value(), out), *cl.bias);
  return fresh;
}

std::unique_ptr<Module> rebuildBatchNorm(BatchNorm& bn, const Index& keep) {
  BatchNormLayerOptions o = bn.options();
  o.features = static_cast<int64_t>(keep.size());
  auto fresh = std::make_unique<BatchNorm>(o);
  copyInto(fresh->gamma(), selectVector(bn.gamma().leaf().value(), keep), bn.gamma());
  copyInto(fresh->beta(), selectVector(bn.beta().leaf().value(), keep), bn.beta());
  fresh->runningMean() = selectVector(bn.runningMean(), keep);
  fresh->runningVar() = selectVector(bn.runningVar(), keep);
  return fresh;
}

void replaceKeepingMode(Sequential& model, size_t i, std::unique_ptr<Module> fresh) {
  const bool training = model.at(i).isTraining();
  Module& m = *fresh;
  model.replace(i, std::move(fresh));
  m.train(training);
}

std::vector<LayerShrink> layerSummaries(Sequential& model) {
  std::vector<LayerShrink> out;
  for (size_t i = 0; i < model.size(); ++i) {
    Module& m = model.at(i);
    int64_t units = -1;
    if (auto* d = dynamic_cast<Dense*>(&m)) units = d->options().out;
    if (auto* c = dynamic_cast<Conv2D*>(&m)) units = c->options().out;
    if (auto* b = dynamic_cast<BatchNorm*>(&m)) units = b->options().features;
    if (units < 0) continue;
    out.push_back({model.name(i), m.typeName(), units, units, m.parameterCount(), m.parameterCount(), false});
  }
  return out;
}

}  // namespace

int64_t ShrinkResult::unitsRemoved() const {
  int64_t n = 0;
  for (const LayerShrink& l : layers)
    if (l.type != "BatchNorm") n += l.unitsBefore - l.unitsAfter;
  return n;
}

ShrinkResult shrinkStructured(Sequential& model) {
  const std::vector<ChannelLayer> layers = channelLayers(model);
  for (const ChannelLayer& cl : layers)
    SHRINK_CHECK(!cl.wrapped,
                 "shrinkStructured: layer '{}' is a {} holding its {}; strip compression wrappers before shrinking",
                 cl.name, cl.module->typeName(), cl.layer->typeName());

  ShrinkResult result;
  result.layers = layerSummaries(model);
  result.paramsBefore = model.parameterCount();

  NoGradGuard noGrad;
  std::vector<Index> outKeep(layers.size());
  for (size_t k = 0; k < layers.size(); ++k) outKeep[k] = keptUnits(layers[k]);

  // Input features of each layer, following the previous layer's kept units.
  std::vector<Index> inKeep(layers.size());
  for (size_t k = 0; k < layers.size(); ++k) {
    const ChannelLayer& cl = layers[k];
    if (k == 0 || static_cast<int64_t>(outKeep[k - 1].size()) == layers[k - 1].units) {
      inKeep[k] = iota(cl.inputs);
      continue;
    }
    const int64_t channels = layers[k - 1].units;
    SHRINK_CHECK(cl.inputs % channels == 0,
                 "shrinkStructured: layer '{}' has {} inputs, not a whole number of positions for each of the {} "
                 "channels of layer '{}'",
                 cl.name, cl.inputs, channels, layers[k - 1].name);
    const int64_t positions = cl.isConv ? 1 : cl.inputs / channels;
    SHRINK_CHECK(!cl.isConv || cl.inputs == channels, "shrinkStructured: layer '{}' takes {} channels, '{}' gives {}",
                 cl.name, cl.inputs, layers[k - 1].name, channels);
    for (int64_t c : outKeep[k - 1])
      for (int64_t s = 0; s < positions; ++s) inKeep[k].push_back(c * positions + s);
  }

  std::vector<std::string> rebuilt;
  Generator scratch(0);  // the rebuilt layers' initial weights are overwritten; keeps defaultGenerator() untouched
  for (size_t k = 0; k < layers.size(); ++k) {
    const ChannelLayer& cl = layers[k];
    const bool rowsGo = static_cast<int64_t>(outKeep[k].size()) < cl.units;
    const bool colsGo = static_cast<int64_t>(inKeep[k].size()) < cl.inputs;
    if (rowsGo)
      for (size_t b = 0; b < cl.batchNorms.size(); ++b) {
        rebuilt.push_back(model.name(cl.batchNormIndices[b]));
        bakeAll(*cl.batchNorms[b]);
        replaceKeepingMode(model, cl.batchNormIndices[b], rebuildBatchNorm(*cl.batchNorms[b], outKeep[k]));
      }
    if (!rowsGo && !colsGo) continue;
    bakeAll(*cl.module);
    rebuilt.push_back(cl.name);
    replaceKeepingMode(model, cl.index, rebuildLayer(cl, outKeep[k], inKeep[k], scratch));
  }

  std::vector<LayerShrink> after = layerSummaries(model);
  SHRINK_ASSERT(after.size() == result.layers.size(), "shrinkStructured: the layer list changed");
  for (size_t i = 0; i < after.size(); ++i) {
    LayerShrink& l = result.layers[i];
    l.unitsAfter = after[i].unitsBefore;
    l.paramsAfter = after[i].paramsBefore;
    l.rebuilt = std::find(rebuilt.begin(), rebuilt.end(), l.name) != rebuilt.end();
  }
  result.paramsAfter = model.parameterCount();
  return result;
}

}  // namespace shrink
