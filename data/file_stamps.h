// What the decoded-image cache index (image_cache.h, field "stamps") records of each image file as `sgml prepare`
// read it: its size in bytes and its modification time in nanoseconds, or null when it could not be read. A later
// run compares them with the files, so that an image replaced under the same name (In-shop's img/ swapped for the
// high-resolution one, a re-downloaded or re-encoded copy) is noticed instead of served from the stale cache.
// A file restored with its old size and time (cp -p, rsync -t) looks unchanged: that is all a stamp can tell.
#pragma once
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

namespace sgml {

struct FileStamp {
  int64_t bytes = 0;
  int64_t modified_ns = 0;  // since the epoch
  bool operator==(const FileStamp& o) const { return bytes == o.bytes && modified_ns == o.modified_ns; }
  bool operator!=(const FileStamp& o) const { return !(*this == o); }
};

// The stamp of the file at `path` (following links), or nothing when it cannot be read (missing, no permission).
std::optional<FileStamp> file_stamp(const std::string& path);
// The stamps of many files, in their order, taken on several threads (on a network file system each is a round
// trip).
std::vector<std::optional<FileStamp>> file_stamps(const std::vector<std::string>& paths);

nlohmann::json stamp_to_json(const std::optional<FileStamp>& stamp);  // [bytes, modified_ns] or null
// The `count` stamps of the array `stamps`; on a wrong count or entry, `error` says what ("field 'stamps' entry 3
// is ...") and the result is empty.
std::vector<std::optional<FileStamp>> stamps_from_json(const nlohmann::json& stamps, size_t count, std::string* error);

}  // namespace sgml
