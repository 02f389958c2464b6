// CUDA events for op profiling. Events are reused from a free list: a profiled training step records about two
// thousand, and creating that many each step would add to the host time being measured.
#include <mutex>
#include <vector>

#include "engine/cuda_check.h"
#include "engine/cuda_context.h"
#include "engine/gpu_events.h"

namespace sgml {

struct GpuEventPair {
  int device;
  cudaEvent_t start, end;
};

namespace {

std::mutex g_mutex;
std::vector<GpuEventPair*>& free_pairs() {
  static auto* pairs = new std::vector<GpuEventPair*>();  // never destroyed: events may outlive static destruction
  return *pairs;
}

// For a pair that failed: its events may be in any state, so they are destroyed rather than reused (errors ignored:
// this runs on a path that is already reporting one).
void destroy_pair(GpuEventPair* p) noexcept {
  if (p->start) (void)cudaEventDestroy(p->start);
  if (p->end) (void)cudaEventDestroy(p->end);
  (void)cudaGetLastError();  // a failed destroy must not be reported later as the next kernel's launch failure
  delete p;
}

GpuEventPair* take_pair(int device) {
  {
    std::lock_guard<std::mutex> lock(g_mutex);
    auto& pairs = free_pairs();
    for (size_t i = pairs.size(); i-- > 0;)
      if (pairs[i]->device == device) {
        GpuEventPair* p = pairs[i];
        pairs.erase(pairs.begin() + long(i));
        return p;
      }
  }
  auto* p = new GpuEventPair{device, nullptr, nullptr};
  try {
    CudaDeviceGuard on_device(device);  // events belong to the device current at their creation
    SGML_CUDA_CHECK(cudaEventCreate(&p->start));
    SGML_CUDA_CHECK(cudaEventCreate(&p->end));
  } catch (...) {
    destroy_pair(p);
    throw;
  }
  return p;
}

}  // namespace

GpuEventPair* gpu_event_begin(int device) {
  GpuEventPair* p = take_pair(device);
  try {
    SGML_CUDA_CHECK(cudaEventRecord(p->start, CudaContext::get(device).stream()));
  } catch (...) {
    destroy_pair(p);
    throw;
  }
  return p;
}

void gpu_event_end(GpuEventPair* pair) {
  SGML_CUDA_CHECK(cudaEventRecord(pair->end, CudaContext::get(pair->device).stream()));
}

double gpu_event_seconds(GpuEventPair* pair) {
  float ms = 0.0f;
  try {
    SGML_CUDA_CHECK(cudaEventSynchronize(pair->end));
    SGML_CUDA_CHECK(cudaEventElapsedTime(&ms, pair->start, pair->end));
  } catch (...) {
    destroy_pair(pair);
    throw;
  }
  gpu_event_release(pair);
  return ms * 1e-3;
}

void gpu_event_release(GpuEventPair* pair) noexcept {
  try {
    std::lock_guard<std::mutex> lock(g_mutex);
    free_pairs().push_back(pair);
  } catch (...) {  // no memory to keep it: not worth failing for
    destroy_pair(pair);
  }
}

}  // namespace sgml
