// Errors and checks. One exception type for the whole engine; every message names what failed and where.
#pragma once
#include <sstream>
#include <stdexcept>
#include <string>

namespace sgml {

// Thrown for every user-visible failure: bad input, bad shapes, failed CUDA/cuDNN/cuBLAS calls.
class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& what) : std::runtime_error(what) {}
};

// The op being executed, so that an asynchronous GPU fault or a failed library call can name it.
// Set by OpScope around each op; empty outside ops.
const char* current_op();

class OpScope {
 public:
  explicit OpScope(const char* name);
  ~OpScope();
  OpScope(const OpScope&) = delete;
  OpScope& operator=(const OpScope&) = delete;

 private:
  const char* previous_;
};

// Messages are written for users: the C++ source location ("[file.cpp:81, op conv2d]") and the failed condition
// of an SGML_CHECK are added only when SGML_ERROR_LOCATIONS is set (to anything but 0), for debugging and in the
// test suite.
bool error_locations_enabled();
[[noreturn]] void throw_error(const std::string& message, const char* file, int line);
[[noreturn]] void throw_check_error(const char* condition, const std::string& message, const char* file, int line);

namespace detail {
inline void append(std::ostringstream&) {}
template <class T, class... Rest>
void append(std::ostringstream& os, const T& first, const Rest&... rest) {
  os << first;
  append(os, rest...);
}
}  // namespace detail

template <class... Parts>
std::string str_cat(const Parts&... parts) {
  std::ostringstream os;
  detail::append(os, parts...);
  return os.str();
}

}  // namespace sgml

// SGML_CHECK(condition, message parts...): throws sgml::Error with the message (and, when SGML_ERROR_LOCATIONS is
// set, the failed condition, file:line and op).
#define SGML_CHECK(cond, ...)                                                                                \
  do {                                                                                                       \
    if (!(cond)) ::sgml::throw_check_error(#cond, ::sgml::str_cat(__VA_ARGS__), __FILE__, __LINE__);         \
  } while (0)

#define SGML_FAIL(...) ::sgml::throw_error(::sgml::str_cat(__VA_ARGS__), __FILE__, __LINE__)
