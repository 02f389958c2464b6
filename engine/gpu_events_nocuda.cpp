// Built only without CUDA: there is no device work to time.
#include "engine/check.h"
#include "engine/gpu_events.h"

namespace sgml {

GpuEventPair* gpu_event_begin(int) { SGML_FAIL("this build of the engine has no CUDA backend: no GPU work to time"); }
void gpu_event_end(GpuEventPair*) {}
double gpu_event_seconds(GpuEventPair*) { return 0.0; }
void gpu_event_release(GpuEventPair*) noexcept {}

}  // namespace sgml
