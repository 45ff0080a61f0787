#include "compress/ChannelGraph.h"

#include "core/Check.h"
#include "layers/Conv2D.h"
#include "layers/Dense.h"

namespace shrink {

namespace {

bool isActivationLayer(const std::string& type) {
  return type == "ReLU" || type == "LeakyReLU" || type == "Tanh" || type == "Sigmoid";
}

bool fusedKeepsZero(Activation a) {
  return a == Activation::None || a == Activation::ReLU || a == Activation::LeakyReLU || a == Activation::Tanh;
}

/// Fills the layer-specific fields when `m` is a Dense or Conv2D; false otherwise.
bool describeLayer(Module& m, ChannelLayer& out) {
  if (auto* d = dynamic_cast<Dense*>(&m)) {
    out.layer = d;
    out.weight = &d->weight();
    out.bias = d->bias();
    out.units = d->options().out;
    out.inputs = d->options().in;
    out.activation = d->options().activation;
    return true;
  }
  if (auto* c = dynamic_cast<Conv2D*>(&m)) {
    out.layer = c;
    out.isConv = true;
    out.weight = &c->weight();
    out.bias = c->bias();
    out.units = c->options().out;
    out.inputs = c->options().in;
    out.activation = c->options().activation;
    return true;
  }
  return false;
}

/// The child as a producer layer: itself, or the single Dense/Conv2D child of a wrapper.
bool resolveProducer(Module& child, ChannelLayer& out) {
  out.module = &child;
  if (describeLayer(child, out)) return true;
  auto children = child.namedChildren();
  if (children.size() == 1 && describeLayer(*children[0].second, out)) {
    out.wrapped = true;
    return true;
  }
  return false;
}

}  // namespace

bool keepsZeroChannels(const std::string& type) {
  return type == "ReLU" || type == "LeakyReLU" || type == "Tanh" || type == "MaxPool2D" || type == "AvgPool2D" ||
         type == "Dropout" || type == "Flatten";
}

std::vector<ChannelLayer> channelLayers(Sequential& model) {
  std::vector<ChannelLayer> layers;
  for (size_t i = 0; i < model.size(); ++i) {
    Module& child = model.at(i);
    SHRINK_CHECK(child.typeName() != "Sequential",
                 "channelLayers: layer {} '{}' is a nested Sequential; structured pruning needs a flat Sequential",
                 i, model.name(i));
    ChannelLayer cl;
    if (!resolveProducer(child, cl)) continue;
    cl.index = i;
    cl.name = model.name(i);
    cl.tapIndex = i;
    while (cl.tapIndex + 1 < model.size() && isActivationLayer(model.at(cl.tapIndex + 1).typeName())) ++cl.tapIndex;
    layers.push_back(std::move(cl));
  }
  SHRINK_CHECK(!layers.empty(), "channelLayers: the model has no Dense or Conv2D layer");
  layers.back().isOutput = true;

  for (size_t k = 0; k + 1 < layers.size(); ++k) {
    ChannelLayer& cl = layers[k];
    if (!fusedKeepsZero(cl.activation))
      cl.zeroBlocker = fmt::format("activation '{}' of layer '{}'", activationName(cl.activation), cl.name);
    for (size_t j = cl.index + 1; j < layers[k + 1].index; ++j) {
      Module& m = model.at(j);
      const std::string type = m.typeName();
      if (type == "BatchNorm") {
        cl.batchNorms.push_back(dynamic_cast<BatchNorm*>(&m));
        cl.batchNormIndices.push_back(j);
        SHRINK_ASSERT(cl.batchNorms.back() != nullptr, "channelLayers: '{}' says BatchNorm but is not one",
                      model.name(j));
        const int64_t features = cl.batchNorms.back()->options().features;
        if (features != cl.units && cl.zeroBlocker.empty())
          cl.zeroBlocker = fmt::format("BatchNorm layer '{}' normalising {} features, not the {} channels of '{}',",
                                       model.name(j), features, cl.units, cl.name);
      } else if (type == "Sigmoid" || type == "Softmax") {
        if (cl.zeroBlocker.empty())
          cl.zeroBlocker = fmt::format("{} layer '{}' (f(0) != 0) after layer '{}'", type, model.name(j), cl.name);
      } else if (!keepsZeroChannels(type)) {
        throw std::invalid_argument(fmt::format(
            "channelLayers: layer {} '{}' ({}) between '{}' and '{}' is not supported by structured pruning "
            "(supported between Dense/Conv2D layers: BatchNorm, MaxPool2D, AvgPool2D, Dropout, Flatten, ReLU, "
            "LeakyReLU, Tanh, Sigmoid, Softmax)",
            j, model.name(j), type, cl.name, layers[k + 1].name));
      }
    }
  }
  return layers;
}

}  // namespace shrink
