// Where a step's time goes, op by op: with profiling on, every op that SGML_DISPATCH calls (engine/dispatch.h) adds
// its time to the op's total. On the CPU that is the op's wall time (CPU ops are synchronous). On a GPU it is the
// device time between two CUDA events recorded around the op's work on the stream, read when the profile is asked
// for: nothing waits inside the step, so the profiled step runs as fast as an unprofiled one and the device time
// not inside any op is the GPU's idle time (host work, launches) plus work outside the dispatched ops.
// Off by default: then an op pays one relaxed atomic load.
#pragma once
#include <atomic>
#include <chrono>
#include <string>
#include <vector>

#include "engine/device.h"

namespace sgml {

struct GpuEventPair;

struct OpTotal {
  std::string op;
  long long calls = 0;
  double seconds = 0;
};

void set_op_profiling(bool on);
bool op_profiling();
void reset_op_profile();
std::vector<OpTotal> op_profile();  // the slowest first; on a GPU, waits for the ops recorded so far

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
  std::chrono::steady_clock::time_point t0_;  // CPU ops
  GpuEventPair* events_ = nullptr;             // GPU ops
};

}  // namespace sgml
