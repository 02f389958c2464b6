#include "engine/op_profile.h"

#include <algorithm>
#include <map>
#include <mutex>


namespace sgml {

namespace detail {
std::atomic<bool> g_op_profiling{false};
}

namespace {

struct Totals {
  std::mutex mutex;
  std::map<std::string, OpTotal> by_op;
};

Totals& totals() {
  static Totals* t = new Totals();  // never destroyed: ops may run during static destruction
  return *t;
}

}  // namespace

void set_op_profiling(bool on) { detail::g_op_profiling.store(on); }
bool op_profiling() { return detail::g_op_profiling.load(); }

void reset_op_profile() {
  std::lock_guard<std::mutex> lock(totals().mutex);
  totals().by_op.clear();
}

std::vector<OpTotal> op_profile() {
  std::vector<OpTotal> out;
  {
    std::lock_guard<std::mutex> lock(totals().mutex);
    for (const auto& [op, total] : totals().by_op) out.push_back(total);
  }
  std::sort(out.begin(), out.end(), [](const OpTotal& a, const OpTotal& b) { return a.seconds > b.seconds; });
  return out;
}

void OpTimer::start(const char* op, Device device) {
  synchronize(device);  // the time of earlier ops is not this one's
  op_ = op;
  device_ = device;
  t0_ = std::chrono::steady_clock::now();
}

void OpTimer::stop() {
  // A destructor must not throw: an op that failed has its error in flight already.
  try {
    synchronize(device_);
  } catch (...) {
    return;
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0_).count();
  std::lock_guard<std::mutex> lock(totals().mutex);
  OpTotal& t = totals().by_op[op_];
  t.op = op_;
  t.calls += 1;
  t.seconds += seconds;
}

}  // namespace sgml
