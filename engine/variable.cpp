#include "engine/variable.h"

#include <unordered_set>

#include "engine/check.h"
#include "engine/tensor_math.h"

namespace sgml {

namespace {
thread_local bool g_grad_enabled = true;
}

bool grad_enabled() { return g_grad_enabled; }
NoGradGuard::NoGradGuard() : previous_(g_grad_enabled) { g_grad_enabled = false; }
NoGradGuard::~NoGradGuard() { g_grad_enabled = previous_; }

Variable::Variable(Tensor value, bool requires_grad)
    : node_(std::make_shared<Node>()), value_(std::make_shared<Tensor>(std::move(value))) {
  node_->value = value_;
  node_->shape = value_->shape();
  node_->device = value_->defined() ? value_->device() : Device::cpu();
  node_->requires_grad = requires_grad;
}

Variable::Variable(Tensor value, std::vector<Variable> inputs, BackwardFn backward)
    : Variable(std::move(value), false) {
  bool any = false;
  for (const auto& in : inputs) any = any || (in.defined() && in.requires_grad());
  if (any && g_grad_enabled) {
    node_->requires_grad = true;
    for (auto& in : inputs) in = in.edge();  // the values stay with their handles (and what the closure keeps)
    node_->inputs = std::move(inputs);
    node_->backward = std::move(backward);
  }
}

Variable Variable::edge() const {
  Variable e;
  e.node_ = node_;
  return e;
}

Shape Variable::Node::value_shape() const {
  const std::shared_ptr<Tensor> v = value.lock();
  return v ? v->shape() : shape;
}
Device Variable::Node::value_device() const {
  const std::shared_ptr<Tensor> v = value.lock();
  return v && v->defined() ? v->device() : device;
}

const Tensor& Variable::value() const {
  SGML_CHECK(node_, "use of an undefined variable");
  SGML_CHECK(value_, "the value of a graph edge (an op's input inside its backward) is not kept: the closure must "
                     "keep what its gradient needs");
  return *value_;
}
Tensor& Variable::value() {
  SGML_CHECK(node_, "use of an undefined variable");
  SGML_CHECK(value_, "the value of a graph edge (an op's input inside its backward) is not kept: the closure must "
                     "keep what its gradient needs");
  return *value_;
}
bool Variable::requires_grad() const { return node_ && node_->requires_grad; }
const Tensor& Variable::grad() const {
  SGML_CHECK(node_, "use of an undefined variable");
  return node_->grad;
}
bool Variable::has_grad() const { return node_ && node_->grad.defined(); }

void Variable::Node::own_grad() {
  if (!grad_addable()) grad = grad.clone();  // e.g. still another node's gradient or the caller's seed
  grad_owned = true;
}

void Variable::add_grad(const Tensor& g) {
  if (!requires_grad()) return;
  Node& n = *node_;
  const Shape shape = n.value_shape();
  SGML_CHECK(g.numel() == shape_numel(shape), "gradient ", g.str(), " for a value of shape ", shape_str(shape));
  if (!n.grad.defined()) {
    n.grad = g.reshape(shape);  // borrowed: g may be another node's gradient or the caller's seed
    n.grad_owned = false;
  } else if (n.grad_addable()) {
    add_inplace(n.grad, g.reshape(n.grad.shape()));
    n.grad_owned = true;
  } else {
    n.grad = add(n.grad, g.reshape(n.grad.shape()));  // a new tensor: the borrowed one stays untouched
    n.grad_owned = true;
  }
}

void Variable::add_grad_with(const GradWriter& write) {
  if (!requires_grad()) return;
  Node& n = *node_;
  if (!n.grad.defined()) {
    Tensor g = Tensor::empty(n.value_shape(), n.value_device());
    write(g, false);
    n.grad = std::move(g);
    n.grad_owned = true;
    return;
  }
  n.own_grad();
  write(n.grad, true);
}

void Variable::set_grad_buffer(Tensor buffer) {
  SGML_CHECK(node_, "use of an undefined variable");
  check_shape(buffer, node_->value_shape(), "gradient buffer");
  node_->grad = std::move(buffer);
  node_->grad_is_buffer = true;
  node_->grad_owned = true;
}

void Variable::clear_grad() {
  if (!node_) return;
  if (node_->grad_is_buffer)
    node_->grad.zero_();
  else
    node_->grad = Tensor();
}

void Variable::backward(const Tensor& seed) {
  SGML_CHECK(node_, "backward of an undefined variable");
  SGML_CHECK(node_->requires_grad, "backward of a value that does not require grad");
  // Reverse topological order by an iterative depth-first search (ResNet-152 is too deep for recursion to be wise).
  // `order` owns the nodes: clearing a node's inputs below must not free a node still to be visited.
  std::vector<std::shared_ptr<Node>> order;
  std::unordered_set<Node*> seen;
  std::vector<std::pair<std::shared_ptr<Node>, size_t>> stack{{node_, 0}};
  seen.insert(node_.get());
  while (!stack.empty()) {
    auto& [n, next] = stack.back();
    if (n->released)
      SGML_FAIL("backward() through a graph that an earlier backward() already consumed (each op's backward runs "
                "once and is then freed): run the forward again for another backward");
    if (next < n->inputs.size()) {
      std::shared_ptr<Node> child = n->inputs[next++].node_;
      if (child && child->requires_grad && !seen.count(child.get())) {
        seen.insert(child.get());
        stack.emplace_back(std::move(child), 0);
      }
    } else {
      order.push_back(std::move(n));
      stack.pop_back();
    }
  }
  if (seed.defined()) {
    add_grad(seed);
  } else {
    const Shape shape = node_->value_shape();
    SGML_CHECK(shape_numel(shape) == 1, "backward() without a seed needs a one-element value, got shape ",
               shape_str(shape));
    add_grad(Tensor::full(shape, 1.0f, node_->value_device()));
  }
  for (auto it = order.rbegin(); it != order.rend(); ++it) {
    Node* n = it->get();
    if (!n->backward) continue;  // a leaf: its gradient stays for the optimiser
    if (n->grad.defined()) n->backward(n->inputs, n->grad);
    // An intermediate is done: free its closure (and the tensors it saved) and its gradient.
    n->backward = nullptr;
    n->released = true;
    n->inputs.clear();
    n->grad = Tensor();
  }
}

}  // namespace sgml
