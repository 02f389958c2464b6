#include "engine/op_profile.h"

#include <algorithm>
#include <map>
#include <mutex>

#include "engine/gpu_events.h"

namespace sgml {

namespace detail {
std::atomic<bool> g_op_profiling{false};
}

namespace {

struct Totals {
  std::mutex mutex;
  std::map<std::string, OpTotal> by_op;
  std::vector<std::pair<std::string, GpuEventPair*>> pending;  // GPU ops whose time is not read yet
};

Totals& totals() {
  static Totals* t = new Totals();  // never destroyed: ops may run during static destruction
  return *t;
}

}  // namespace

void set_op_profiling(bool on) { detail::g_op_profiling.store(on); }
bool op_profiling() { return detail::g_op_profiling.load(); }

namespace {
// Adds the device time of the recorded GPU ops to their totals (waiting for them). Called with the mutex held.
void read_pending(Totals& t) {
  // Each pair is taken off the list before it is read: gpu_event_seconds releases it even when it throws.
  while (!t.pending.empty()) {
    auto [op, events] = t.pending.back();
    t.pending.pop_back();
    t.by_op[op].seconds += gpu_event_seconds(events);
  }
}
}  // namespace

void reset_op_profile() {
  std::lock_guard<std::mutex> lock(totals().mutex);
  read_pending(totals());  // gives the events back
  totals().by_op.clear();
}

std::vector<OpTotal> op_profile() {
  std::vector<OpTotal> out;
  {
    std::lock_guard<std::mutex> lock(totals().mutex);
    read_pending(totals());
    for (const auto& [op, total] : totals().by_op) out.push_back(total);
  }
  std::sort(out.begin(), out.end(), [](const OpTotal& a, const OpTotal& b) { return a.seconds > b.seconds; });
  return out;
}

void OpTimer::start(const char* op, Device device) {
  op_ = op;
  device_ = device;
  if (device.is_cuda())
    events_ = gpu_event_begin(device.index);
  else
    t0_ = std::chrono::steady_clock::now();
}

void OpTimer::stop() {
  double seconds = 0;
  // A destructor must not throw: an op that failed has its error in flight already.
  try {
    if (events_)
      gpu_event_end(events_);
    else
      seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0_).count();
  } catch (...) {
    if (events_) gpu_event_release(events_);
    return;
  }
  std::lock_guard<std::mutex> lock(totals().mutex);
  try {  // the map and the list allocate: out of memory, the call goes unrecorded rather than ending the process
    OpTotal& t = totals().by_op[op_];
    t.op = op_;
    t.calls += 1;
    t.seconds += seconds;
    if (events_) totals().pending.emplace_back(op_, events_);
  } catch (...) {
    if (events_) gpu_event_release(events_);
  }
}

}  // namespace sgml
