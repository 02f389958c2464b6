// The autograd tape (after flashlight): a Variable is a tensor plus, when it was computed from others, the
// inputs and a backward closure that keeps only what the gradient needs. backward() walks the graph in reverse
// topological order; gradients add up where a value fans out (residual connections).
#pragma once
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "engine/tensor.h"

namespace sgml {

class Variable {
 public:
  // Receives the gradient of the output and adds the inputs' gradients with inputs[i].add_grad().
  using BackwardFn = std::function<void(std::vector<Variable>& inputs, const Tensor& grad_output)>;

  Variable() = default;
  // A leaf: a parameter (requires_grad) or a constant input.
  explicit Variable(Tensor value, bool requires_grad = false);
  // The result of an op. Records the inputs and closure only when grad mode is on and an input requires grad.
  Variable(Tensor value, std::vector<Variable> inputs, BackwardFn backward);

  bool defined() const { return node_ != nullptr; }
  const Tensor& value() const;
  Tensor& value();
  bool requires_grad() const;
  // The accumulated gradient (undefined until one arrives, unless set with set_grad_buffer).
  const Tensor& grad() const;
  bool has_grad() const;
  // Adds g into the gradient: the first contribution is taken as it is, later ones are summed.
  void add_grad(const Tensor& g);
  // Adds the gradient that `write` computes, letting the op sum it into the gradient in its own kernel (cuDNN's and
  // the GEMM's beta = 1) instead of returning a tensor that add_grad then adds: write(out, accumulate) stores into
  // `out` (value-shaped, uninitialised) when accumulate is false, and adds into it when true.
  using GradWriter = std::function<void(Tensor& out, bool accumulate)>;
  void add_grad_with(const GradWriter& write);
  // Makes the gradient accumulate into `buffer` (e.g. a view into a flat gradient buffer); zeroes nothing.
  void set_grad_buffer(Tensor buffer);
  void clear_grad();

  // Seeds this variable's gradient with `seed` (ones of a one-element value when undefined) and runs the tape.
  // The graph is released as it is consumed, so backward runs once per forward.
  void backward(const Tensor& seed = Tensor());

 private:
  struct Node {
    Tensor value;
    Tensor grad;
    bool grad_is_buffer = false;  // grad is a caller's buffer: accumulate into it, never replace it
    bool grad_owned = false;      // grad is ours to add into (else it may alias a tensor of someone else)
    // Makes grad safe to add into: a borrowed gradient that no one else refers to any more is adopted, one that is
    // still shared is copied.
    void own_grad();
    bool requires_grad = false;
    std::vector<Variable> inputs;
    BackwardFn backward;
  };
  std::shared_ptr<Node> node_;
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
