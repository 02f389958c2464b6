// Errors met on worker threads, handed to the caller. No exception may leave a worker: one escaping a std::thread
// or an OpenMP parallel region ends the process (std::terminate, "terminate called ..."). Workers therefore catch
// everything, record a message for the position they were working on, and the caller reports the first one by
// position once the threads are done, so that which error is reported does not depend on thread timing.
#pragma once
#include <atomic>
#include <functional>
#include <string>
#include <system_error>
#include <vector>

namespace sgml {

// Call inside a catch block for an image that could not be loaded: the message of the exception being handled,
// naming `path`. An sgml::Error from the decoder already names the file and is kept as it is; one that does not (the
// transform's, e.g. a bounding box outside the image) gets "image 'PATH': " before it; a library exception (e.g.
// std::ios_base::failure "basic_filebuf::underflow" for a directory) is put in plain words around it.
std::string current_image_error(const std::string& path);

// Call inside a catch block in a worker: stores current_image_error(path) in `slot` and never throws (when even the
// message cannot be made, it stores "out of memory", which fits in the string without allocating).
void record_image_error(std::string& slot, const std::string& path) noexcept;

// Call inside a catch block: the message of the exception being handled ("unknown error" for a non-std one).
std::string current_error_message();

// The first non-empty message by position, or "" when there is none.
std::string first_error(const std::vector<std::string>& errors_by_position);

// The error for a thread pool of which only `started` of `wanted` threads could be created (`why`: the system's
// reason), naming `option` (e.g. "--workers") as the thing to lower.
std::string thread_start_error(const std::string& what, int started, int wanted, const std::system_error& why,
                               const std::string& option = "--workers");

// Runs `work` on `count` threads (0 or less: one) and joins them all. `work` must catch everything itself (see
// above). When a thread cannot be started (the system's limit on threads or memory), `stop` is set so that the
// running threads can finish early, they are joined, and an sgml::Error says how many of the `count` `what`
// (e.g. "decoding threads") could not be started.
void run_threads(int count, const std::function<void()>& work, std::atomic<bool>& stop, const std::string& what);

}  // namespace sgml
