// The autograd tape (after flashlight): a Variable is a tensor plus, when it was computed from others, the
// inputs and a backward closure that keeps only what the gradient needs. backward() walks the graph in reverse
// topological order; gradients add up where a value fans out (residual connections).
// The value belongs to the Variable handles (all copies of one share it), not to the graph: a node's inputs are
// held without their values. So an intermediate that no backward needs (a downsample branch's output once it is
// added, the stem's ReLU output once pooled) is freed when its last handle goes, and in the backward every value
// is freed as soon as the closures that keep it have run, as in PyTorch (before, the graph held every value until
// the whole backward ended).
#pragma once
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "engine/tensor.h"

namespace sgml {

class Variable {
 public:
  // Receives the gradient of the output and adds the inputs' gradients with inputs[i].add_grad(). The inputs are
  // the graph's edges: their gradients, shapes and devices, not their values (what the gradient needs from a value,
  // the closure keeps itself).
  using BackwardFn = std::function<void(std::vector<Variable>& inputs, const Tensor& grad_output)>;

  Variable() = default;
  // A leaf: a parameter (requires_grad) or a constant input.
  explicit Variable(Tensor value, bool requires_grad = false);
  // The result of an op. Records the inputs and closure only when grad mode is on and an input requires grad.
  Variable(Tensor value, std::vector<Variable> inputs, BackwardFn backward);

  bool defined() const { return node_ != nullptr; }
  // The value; an error on a graph edge (an input inside a backward closure).
  const Tensor& value() const;
  Tensor& value();
  bool requires_grad() const;
  // The accumulated gradient (undefined until one arrives, unless set with set_grad_buffer).
  const Tensor& grad() const;
  bool has_grad() const;
  // Adds g into the gradient: the first contribution is taken as it is, later ones are summed.
  void add_grad(const Tensor& g);
  // Adds the gradient that `write` computes, letting the op sum it into the gradient in its own kernel (the
  // convolutions: cuDNN's beta = 1) instead of returning a tensor that add_grad then adds: write(out, accumulate)
  // stores into `out` (value-shaped, uninitialised) when accumulate is false, and adds into it when true.
  using GradWriter = std::function<void(Tensor& out, bool accumulate)>;
  void add_grad_with(const GradWriter& write);
  // Makes the gradient accumulate into `buffer` (e.g. a view into a flat gradient buffer); zeroes nothing.
  void set_grad_buffer(Tensor buffer);
  void clear_grad();

  // Seeds this variable's gradient with `seed` (ones of a one-element value when undefined) and runs the tape.
  // The graph is released as it is consumed, so backward runs once per forward: a second backward through any
  // node of a consumed graph is an error, not gradients that silently stop there.
  void backward(const Tensor& seed = Tensor());

 private:
  struct Node {
    // The value's handles' shared tensor while any handle exists (a parameter's value may be replaced, moved to a
    // device or into a flat buffer); then the shape and device it had when the node was made.
    std::weak_ptr<Tensor> value;
    Shape shape;
    Device device;
    Shape value_shape() const;
    Device value_device() const;
    Tensor grad;
    bool grad_is_buffer = false;  // grad is a caller's buffer: accumulate into it, never replace it
    bool grad_owned = false;      // grad is ours to add into (else it may alias a tensor of someone else)
    // Whether grad may be added into where it is: ours, a caller's buffer, or a borrowed gradient that no one else
    // refers to any more (adopted).
    bool grad_addable() const { return grad_is_buffer || grad_owned || grad.storage_unshared(); }
    // Makes grad safe to add into: adopted when addable, else (still shared) copied.
    void own_grad();
    bool requires_grad = false;
    std::vector<Variable> inputs;
    BackwardFn backward;
    // An op's node whose backward has run (and whose closure and inputs are gone): a second backward through it
    // would stop here without a word, as at a leaf.
    bool released = false;
  };
  // The graph's edge to this value: the node without the value.
  Variable edge() const;

  std::shared_ptr<Node> node_;
  std::shared_ptr<Tensor> value_;  // null on an edge
};

// Whether ops record the tape. Off inside a NoGradGuard (evaluation, feature extraction).
bool grad_enabled();

class NoGradGuard {
 public:
  NoGradGuard();
  ~NoGradGuard();
  NoGradGuard(const NoGradGuard&) = delete;
  NoGradGuard& operator=(const NoGradGuard&) = delete;

 private:
  bool previous_;
};

}  // namespace sgml
