#include "engine/check.h"

#include <cstdlib>

namespace sgml {

namespace {
thread_local const char* g_current_op = "";
}

const char* current_op() { return g_current_op; }

OpScope::OpScope(const char* name) : previous_(g_current_op) { g_current_op = name; }
OpScope::~OpScope() { g_current_op = previous_; }

bool error_locations_enabled() {
  const char* v = std::getenv("SGML_ERROR_LOCATIONS");
  return v && *v && std::string(v) != "0";
}

void throw_error(const std::string& message, const char* file, int line) {
  if (!error_locations_enabled()) throw Error(message);
  std::string where = str_cat(" [", file, ":", line);
  if (*g_current_op) where += str_cat(", op ", g_current_op);
  where += "]";
  throw Error(message + where);
}

void throw_check_error(const char* condition, const std::string& message, const char* file, int line) {
  throw_error(error_locations_enabled() ? str_cat("check failed: ", condition, ": ", message) : message, file, line);
}

}  // namespace sgml
