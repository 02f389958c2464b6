#include "data/worker_errors.h"

#include <algorithm>
#include <exception>
#include <filesystem>
#include <new>
#include <system_error>
#include <thread>

#include "engine/check.h"

namespace sgml {

namespace {

// What is wrong with a path that a read failed on, in plain words; "" when nothing shows from outside.
std::string path_problem(const std::string& path) {
  namespace fs = std::filesystem;
  std::error_code ec;
  const fs::file_status status = fs::status(path, ec);
  if (status.type() == fs::file_type::not_found) return "no such file";
  if (status.type() == fs::file_type::directory) return "it is a directory, not an image file";
  if (ec) return ec.message();
  if (status.type() != fs::file_type::regular) return "it is not a regular file";
  return "";
}

}  // namespace

std::string current_error_message() {
  try {
    throw;
  } catch (const std::exception& e) {
    return e.what();
  } catch (...) {
    return "unknown error";
  }
}

std::string current_image_error(const std::string& path) {
  try {
    throw;
  } catch (const Error& e) {
    const std::string what = e.what();
    return what.find(path) != std::string::npos ? what : "image '" + path + "': " + what;
  } catch (const std::bad_alloc&) {
    return "cannot read image '" + path + "': not enough memory to decode it";
  } catch (...) {
    const std::string problem = path_problem(path);
    return "cannot read image '" + path + "': " + (problem.empty() ? current_error_message() : problem);
  }
}

void record_image_error(std::string& slot, const std::string& path) noexcept {
  try {
    slot = current_image_error(path);
  } catch (...) {
    slot = "out of memory";
  }
}

std::string first_error(const std::vector<std::string>& errors_by_position) {
  for (const std::string& e : errors_by_position)
    if (!e.empty()) return e;
  return "";
}

std::string thread_start_error(const std::string& what, int started, int wanted, const std::system_error& why,
                               const std::string& option) {
  return str_cat("could not start ", wanted - started, " of ", wanted, " ", what, " (", why.what(),
                 "; the system's limit on threads or memory): use a smaller ", option);
}

void run_threads(int count, const std::function<void()>& work, std::atomic<bool>& stop, const std::string& what) {
  count = std::max(1, count);
  std::vector<std::thread> threads;
  std::string failure;
  for (int t = 0; t < count; ++t) {
    try {
      threads.emplace_back(work);
    } catch (const std::system_error& e) {
      failure = thread_start_error(what, t, count, e);
      break;
    } catch (...) {  // e.g. std::bad_alloc growing the vector: the threads started must still be joined
      failure = str_cat("could not start ", count - t, " of ", count, " ", what, ": ", current_error_message());
      break;
    }
  }
  if (!failure.empty()) stop = true;
  for (std::thread& t : threads) t.join();
  if (!failure.empty()) SGML_FAIL(failure);
}

}  // namespace sgml
