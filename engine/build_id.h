// Which source this sgml was built from: the git commit (12 hex digits), "-modified" when tracked files differed
// from it, "unknown" outside a git checkout. Checkpoints record it (training/checkpoint.h) and `sgml --version`,
// `sgml train` and `sgml eval` print it, so a figure can be traced to the code that produced it.
#pragma once

namespace sgml {

const char* build_id();

}  // namespace sgml
