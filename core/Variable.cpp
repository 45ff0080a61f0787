#include "core/Variable.h"

#include <unordered_set>

#include "core/Check.h"

namespace shrink {

namespace {
thread_local bool gGradEnabled = true;
}

bool isGradEnabled() { return gGradEnabled; }

NoGradGuard::NoGradGuard() : previous_(gGradEnabled) { gGradEnabled = false; }
NoGradGuard::~NoGradGuard() { gGradEnabled = previous_; }

Variable::Variable(Tensor value, bool requiresGrad) : node_(std::make_shared<detail::Node>()) {
  node_->value = std::move(value);
  node_->requiresGrad = requiresGrad;
}

detail::Node& Variable::node() const {
  SHRINK_ASSERT(node_ != nullptr, "Variable: use of an undefined variable");
  return *node_;
}

const Tensor& Variable::value() const { return node().value; }
Tensor& Variable::mutableValue() { return node().value; }
bool Variable::requiresGrad() const { return node_ && node_->requiresGrad; }
void Variable::setRequiresGrad(bool on) { node().requiresGrad = on; }
bool Variable::isLeaf() const { return !node().backward; }
const char* Variable::opName() const { return node().op; }
bool Variable::hasGrad() const { return node_ && node_->grad.numel() > 0; }

const Tensor& Variable::grad() const {
  SHRINK_CHECK(hasGrad(), "Variable::grad: no gradient has been computed for this {} of shape {}",
               node().op, shape().str());
  return node_->grad;
}

Tensor& Variable::gradBuffer() {
  detail::Node& n = node();
  if (n.grad.numel() != n.value.numel() || !(n.grad.shape() == n.value.shape()))
    n.grad = Tensor::zeros(n.value.shape());
  return n.grad;
}

void Variable::addGrad(const Tensor& g) {
  detail::Node& n = node();
  SHRINK_ASSERT(g.shape() == n.value.shape(), "Variable::addGrad: gradient {} for a value of shape {} ({})",
                g.shape().str(), n.value.shape().str(), n.op);
  if (n.grad.numel() == 0 && n.value.numel() > 0)
    n.grad = g;
  else
    n.grad += g;
}

void Variable::addGrad(Tensor&& g) {
  detail::Node& n = node();
  SHRINK_ASSERT(g.shape() == n.value.shape(), "Variable::addGrad: gradient {} for a value of shape {} ({})",
                g.shape().str(), n.value.shape().str(), n.op);
  if (n.grad.numel() == 0 && n.value.numel() > 0)
    n.grad = std::move(g);
  else
    n.grad += g;
}

void Variable::zeroGrad() {
  if (node_) node_->grad = Tensor();
}

void Variable::backward() {
  SHRINK_CHECK(numel() == 1, "Variable::backward: called without a gradient on a non-scalar of shape {}",
               shape().str());
  backward(Tensor::ones(shape()));
}

void Variable::backward(const Tensor& gradOut) {
  detail::Node& root = node();
  SHRINK_CHECK(!root.released, "Variable::backward: the graph behind this {} was already released by an "
               "earlier backward()", root.op);
  SHRINK_CHECK(root.requiresGrad, "Variable::backward: this {} does not require a gradient (no input "
               "requires one, or it was computed under NoGradGuard)", root.op);
  SHRINK_CHECK(gradOut.shape() == root.value.shape(), "Variable::backward: gradient of shape {} for a "
               "value of shape {}", gradOut.shape().str(), root.value.shape().str());

  // Iterative post-order DFS over the nodes that have a backward: a topological order.
  // Owning pointers: releasing a node's inputs must not free nodes still to be visited.
  std::vector<std::shared_ptr<detail::Node>> order;
  std::unordered_set<detail::Node*> seen;
  std::vector<std::pair<std::shared_ptr<detail::Node>, size_t>> stack{{node_, 0}};
  seen.insert(node_.get());
  while (!stack.empty()) {
    auto& [n, next] = stack.back();
    if (next < n->inputs.size()) {
      const std::shared_ptr<detail::Node>& child = n->inputs[next++].node_;
      if (child && child->requiresGrad && child->backward && seen.insert(child.get()).second)
        stack.emplace_back(child, 0);
    } else {
      order.push_back(std::move(n));
      stack.pop_back();
    }
  }

  addGrad(gradOut);
  for (auto it = order.rbegin(); it != order.rend(); ++it) {
    detail::Node* n = it->get();
    if (!n->backward) continue;  // a leaf root (backward() called on a parameter) keeps its gradient
    if (n->grad.numel() > 0) n->backward(n->inputs, n->grad, n->value);
    // Release the graph behind this node: its inputs, closure and intermediate gradient.
    n->inputs.clear();
    n->backward = nullptr;
    n->grad = Tensor();
    n->released = true;
  }
}

Variable Variable::detach() const { return Variable(value(), false); }

Variable Variable::fromOp(Tensor value, std::vector<Variable> inputs, BackwardFn backward, const char* op) {
  Variable out(std::move(value), false);
  out.node_->op = op;
  if (!gGradEnabled) return out;
  bool needs = false;
  for (const Variable& v : inputs) needs = needs || v.requiresGrad();
  if (!needs) return out;
  out.node_->requiresGrad = true;
  out.node_->inputs = std::move(inputs);
  out.node_->backward = std::move(backward);
  return out;
}

}  // namespace shrink
