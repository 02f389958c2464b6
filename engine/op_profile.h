// Where a step's time goes, op by op: with profiling on, every op that SGML_DISPATCH calls (engine/dispatch.h)
// waits for the device before and after, and its wall time is added to the op's total. The waits make the step
// slower, so a profile says which ops dominate, not how fast the unprofiled step is (sgml bench train --profile).
// Off by default: then an op pays one relaxed atomic load.
#pragma once
#include <atomic>
#include <chrono>
#include <string>
#include <vector>

#include "engine/device.h"

namespace sgml {

struct OpTotal {
  std::string op;
  long long calls = 0;
  double seconds = 0;
};

void set_op_profiling(bool on);
bool op_profiling();
void reset_op_profile();
std::vector<OpTotal> op_profile();  // the slowest first

namespace detail {
extern std::atomic<bool> g_op_profiling;
}

// Lives for the dispatch expression of one op (a temporary of SGML_DISPATCH).
class OpTimer {
 public:
  OpTimer(const char* op, Device device) {
    if (!detail::g_op_profiling.load(std::memory_order_relaxed)) return;
    start(op, device);
  }
  ~OpTimer() {
    if (op_) stop();
  }
  OpTimer(const OpTimer&) = delete;
  OpTimer& operator=(const OpTimer&) = delete;

 private:
  void start(const char* op, Device device);
  void stop();
  const char* op_ = nullptr;
  Device device_;
  std::chrono::steady_clock::time_point t0_;
};

}  // namespace sgml
