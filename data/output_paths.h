// Output folders and files that cannot be made, in plain words. std::filesystem's own errors read as
// "filesystem error: cannot create directories: Not a directory [a/b]", which reached the user as "unexpected
// error: ..."; these say which path, and what is wrong with it (a file in the way, no permission, a read-only
// file system).
#pragma once
#include <string>

namespace sgml {

// Creates `dir` (and its parents) when missing and checks that files can be created in it; otherwise throws an
// sgml::Error "cannot create the WHAT 'DIR': 'P' is a file, not a folder" (or the system's reason).
void create_output_folder(const std::string& dir, const std::string& what);

// "cannot create the WHAT 'PATH': REASON" for a failed open/creat of `path` with errno `error`.
std::string cannot_create_message(const std::string& path, const std::string& what, int error);

}  // namespace sgml
