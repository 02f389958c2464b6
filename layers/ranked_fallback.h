// Tries ranked alternatives until one works, for choices that can fail only at run time (a cuDNN algorithm that
// the heuristics offered may still be refused, or its workspace may not fit beside the activations). Plain C++,
// so the order and the error are tested on the CPU.
#pragma once
#include <cstddef>
#include <string>

#include "engine/check.h"

namespace sgml {

// Calls attempt(i) for i = start, start + 1, ..., count - 1, 0, ..., start - 1 until one returns "" (it worked),
// and returns that i. attempt(i) returns why candidate i failed otherwise. When every candidate fails, throws
// sgml::Error with `what` and each candidate's reason, in the order tried.
template <class Attempt>
size_t first_that_works(size_t count, size_t start, Attempt&& attempt, const std::string& what) {
  std::string reasons;
  for (size_t tried = 0; tried < count; ++tried) {
    const size_t i = (start + tried) % count;
    const std::string why = attempt(i);
    if (why.empty()) return i;
    reasons += str_cat("\n  candidate ", i + 1, " of ", count, ": ", why);
  }
  SGML_FAIL(what, ": no candidate worked", count == 0 ? " (there were none)" : "", reasons);
}

}  // namespace sgml
