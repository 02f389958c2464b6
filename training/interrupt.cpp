#include "training/interrupt.h"

#include <atomic>
#include <csignal>

namespace sgml {

namespace {
std::atomic<int> g_interrupt_signal{0};  // the first SIGINT or SIGTERM that arrived; 0: none
void on_interrupt(int signal) {
  int none = 0;
  g_interrupt_signal.compare_exchange_strong(none, signal);
  // The run stops before its next step: a second signal of the kind ends it at once, as without the handler.
  std::signal(signal, SIG_DFL);
}
}  // namespace

void install_interrupt_handler() {
  std::signal(SIGINT, on_interrupt);
  std::signal(SIGTERM, on_interrupt);
}
bool interrupt_requested() { return g_interrupt_signal != 0; }
int interrupt_signal() { return g_interrupt_signal; }
void throw_if_interrupted() {
  if (interrupt_requested()) throw Interrupted();
}

}  // namespace sgml
