// Stopping a training run cleanly: Ctrl-C (SIGINT) or SIGTERM (what SLURM and Kubernetes send before they kill).
// After install_interrupt_handler() the first such signal is recorded; the trainer checkpoints and stops before its
// next step, and the long passes between steps (the feature extraction of an evaluation or of a re-clustering) stop
// early by throwing Interrupted, so that a stop does not wait for minutes of evaluation. A second signal of the kind
// ends the process at once, as without the handler. Without the handler (sgml eval, embed) nothing is recorded and
// nothing throws.
#pragma once
#include <stdexcept>

namespace sgml {

// Thrown by throw_if_interrupted(): the trainer catches it (anything else that sees it lets it pass).
struct Interrupted : std::runtime_error {
  Interrupted() : std::runtime_error("interrupted by a signal") {}
};

void install_interrupt_handler();
bool interrupt_requested();   // a SIGINT or SIGTERM arrived since install_interrupt_handler()
int interrupt_signal();       // the first that arrived (0: none)
void throw_if_interrupted();  // throws Interrupted once interrupt_requested()

}  // namespace sgml
