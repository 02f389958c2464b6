#include "engine/check.h"

namespace sgml {

namespace {
thread_local const char* g_current_op = "";
}

const char* current_op() { return g_current_op; }

OpScope::OpScope(const char* name) : previous_(g_current_op) { g_current_op = name; }
OpScope::~OpScope() { g_current_op = previous_; }

void throw_error(const std::string& message, const char* file, int line) {
  std::string where = str_cat(" [", file, ":", line);
  if (*g_current_op) where += str_cat(", op ", g_current_op);
  where += "]";
  throw Error(message + where);
}

}  // namespace sgml
