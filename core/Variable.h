#pragma once

#include <functional>
#include <memory>
#include <vector>

#include "core/Tensor.h"

namespace shrink {

class Variable;

/// The backward of one op: given the op's inputs, the gradient of the loss with respect to the
/// op's output, and the output's value, *accumulate* into the gradients of the inputs that require
/// them (`inputs[i].requiresGrad()`), with `addGrad` or in place through `gradBuffer()`.
/// `gradOut` is the output's own gradient buffer, released right after the call: a backward may
/// overwrite it or move it into an input's gradient instead of allocating one (a lambda taking
/// `const Tensor&` binds too).
using BackwardFn = std::function<void(std::vector<Variable>& inputs, Tensor& gradOut, const Tensor& out)>;

namespace detail {
struct Node {
  Tensor value;
  Tensor grad;  // empty until something accumulates into it
  bool requiresGrad = false;
  bool released = false;
  std::vector<Variable> inputs;
  BackwardFn backward;
  const char* op = "leaf";
};
}  // namespace detail

/// A shared handle to a node of the define-by-run graph: a value, its gradient, and (for op results)
/// the inputs and backward that produced it. Copies share the node. Leaves are made by the user
/// (parameters, inputs); op results by `Variable::fromOp`. `backward()` on a scalar runs the reverse
/// topological sweep and then releases the graph behind it.
class Variable {
 public:
  /// An undefined variable (e.g. a missing bias).
  Variable() = default;
  explicit Variable(Tensor value, bool requiresGrad = false);

  bool defined() const { return node_ != nullptr; }
  const Tensor& value() const;
  /// Mutable access to the value, for leaves updated in place (optimizers, masks) under NoGradGuard.
  Tensor& mutableValue();
  const Shape& shape() const { return value().shape(); }
  int64_t numel() const { return value().numel(); }

  bool requiresGrad() const;
  void setRequiresGrad(bool on);
  bool isLeaf() const;
  const char* opName() const;

  bool hasGrad() const;
  /// The accumulated gradient; throws if none has been computed.
  const Tensor& grad() const;
  /// The gradient buffer, allocated as zeros of the value's shape on first use.
  Tensor& gradBuffer();
  void addGrad(const Tensor& g);
  void addGrad(Tensor&& g);
  /// Drops the gradient (the next accumulation starts from zero).
  void zeroGrad();

  /// Backpropagates from this scalar (gradient 1), or from a non-scalar with the given gradient.
  void backward();
  void backward(const Tensor& gradOut);

  /// A new leaf sharing nothing with the graph, holding a copy of the value.
  Variable detach() const;

  /// The result of an op: records `inputs` and `backward` when grad mode is on and some input
  /// requires a gradient; otherwise a plain leaf without a graph.
  static Variable fromOp(Tensor value, std::vector<Variable> inputs, BackwardFn backward,
                         const char* op);

  /// Identity of the underlying node (two handles to one node compare equal).
  bool sameNode(const Variable& other) const { return node_ == other.node_; }

 private:
  detail::Node& node() const;
  std::shared_ptr<detail::Node> node_;
};

/// Whether ops record a graph on this thread.
bool isGradEnabled();

/// RAII scope in which ops record no graph: evaluation, mask updates, optimizer steps.
class NoGradGuard {
 public:
  NoGradGuard();
  ~NoGradGuard();
  NoGradGuard(const NoGradGuard&) = delete;
  NoGradGuard& operator=(const NoGradGuard&) = delete;

 private:
  bool previous_;
};

}  // namespace shrink
