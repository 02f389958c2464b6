// Output files named on the command line (--save, --metrics, --export, --out): their folder is made, or the error
// says in plain words why it cannot be, before any long work starts rather than after it.
#pragma once
#include <string>

namespace sgml {

// Creates the folder `file` goes into (nothing when `file` has no folder part); `what` names the file in errors,
// e.g. "cannot create the folder of the feature export 'a/b': 'a' is a file, not a folder".
void create_parent_folder(const std::string& file, const std::string& what);

}  // namespace sgml
