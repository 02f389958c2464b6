#include "data/output_paths.h"

#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <system_error>

#include "engine/check.h"

namespace sgml {

namespace fs = std::filesystem;

namespace {

// The first existing path on the way to `dir` (itself included) that is not a folder, or "" when none.
std::string file_in_the_way(const fs::path& dir) {
  for (fs::path p = dir; !p.empty(); p = p.parent_path()) {
    std::error_code ec;
    const fs::file_status st = fs::status(p, ec);
    if (fs::exists(st) && !fs::is_directory(st)) return p.string();
    if (p == p.parent_path()) break;
  }
  return "";
}

std::string reason_of(int error) {
  switch (error) {
    case EACCES:
    case EPERM: return "permission denied";
    case EROFS: return "it is on a read-only file system";
    case ENOSPC: return "the disk is full";
    case ENOTDIR: return "a part of the path is a file, not a folder";
    case EISDIR: return "it is a folder";
    default: return std::strerror(error);
  }
}

}  // namespace

std::string cannot_create_message(const std::string& path, const std::string& what, int error) {
  const std::string in_the_way = error == ENOTDIR ? file_in_the_way(fs::path(path).parent_path()) : "";
  if (!in_the_way.empty())
    return str_cat("cannot create the ", what, " '", path, "': '", in_the_way, "' is a file, not a folder");
  return str_cat("cannot create the ", what, " '", path, "': ", reason_of(error));
}

void create_output_folder(const std::string& dir, const std::string& what) {
  SGML_CHECK(!dir.empty(), "no path given for the ", what);
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) {
    const std::string in_the_way = file_in_the_way(dir);
    if (!in_the_way.empty())
      SGML_FAIL("cannot create the ", what, " '", dir, "': '", in_the_way, "' is a file, not a folder");
    fs::create_directories(dir, ec);
    if (ec) SGML_FAIL("cannot create the ", what, " '", dir, "': ", reason_of(ec.value()));
  }
  // Exists: can files be made in it? (access() answers for the read-only file system too, also for root.)
  if (::access(dir.c_str(), W_OK | X_OK) != 0)
    SGML_FAIL("cannot write into the ", what, " '", dir, "': ", reason_of(errno));
}

}  // namespace sgml
