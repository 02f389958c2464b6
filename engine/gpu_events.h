// Timing of work queued on a device's stream, for op profiling: an event recorded in stream order now, and the
// device time between two events once the later one has completed. Implemented with CUDA events in
// gpu_events_cuda.cpp, and by stubs that throw in gpu_events_nocuda.cpp when the engine is built without CUDA.
#pragma once

namespace sgml {

struct GpuEventPair;  // opaque: a start and an end event

// A pair whose start is recorded now on the device's stream; gpu_event_end records its end.
GpuEventPair* gpu_event_begin(int device);
void gpu_event_end(GpuEventPair* pair);
// Seconds of device time between start and end; waits for the end. Releases the pair, also when it throws.
double gpu_event_seconds(GpuEventPair* pair);
// Gives back a pair whose time will not be read (its op failed). Never throws.
void gpu_event_release(GpuEventPair* pair) noexcept;

}  // namespace sgml
