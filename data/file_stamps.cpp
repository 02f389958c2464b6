#include "data/file_stamps.h"

#include <sys/stat.h>

#include <atomic>

#include "data/worker_errors.h"
#include "engine/check.h"

namespace sgml {

std::optional<FileStamp> file_stamp(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return std::nullopt;
  return FileStamp{int64_t(st.st_size), int64_t(st.st_mtim.tv_sec) * 1000000000 + int64_t(st.st_mtim.tv_nsec)};
}

std::vector<std::optional<FileStamp>> file_stamps(const std::vector<std::string>& paths) {
  std::vector<std::optional<FileStamp>> out(paths.size());
  std::atomic<size_t> next{0};
  std::atomic<bool> stop{false};
  run_threads(
      paths.size() < 64 ? 1 : 8,
      [&] {
        for (size_t i; !stop && (i = next++) < paths.size();) out[i] = file_stamp(paths[i]);
      },
      stop, "file checking threads");
  return out;
}

nlohmann::json stamp_to_json(const std::optional<FileStamp>& stamp) {
  return stamp ? nlohmann::json::array({stamp->bytes, stamp->modified_ns}) : nlohmann::json();
}

std::vector<std::optional<FileStamp>> stamps_from_json(const nlohmann::json& stamps, size_t count, std::string* error) {
  if (stamps.size() != count) {
    *error = str_cat("lists ", stamps.size(), " stamps for ", count, " paths");
    return {};
  }
  std::vector<std::optional<FileStamp>> out(count);
  for (size_t i = 0; i < count; ++i) {
    const nlohmann::json& s = stamps[i];
    if (s.is_null()) continue;
    // Modification times before 1970 are negative; sizes never are.
    const bool integers = s.is_array() && s.size() == 2 && s[0].is_number_integer() && s[1].is_number_integer() &&
                          (s[0].is_number_unsigned() || s[0].get<int64_t>() >= 0);
    if (!integers || s[0].get<uint64_t>() > uint64_t(INT64_MAX) ||
        (s[1].is_number_unsigned() && s[1].get<uint64_t>() > uint64_t(INT64_MAX))) {
      *error = str_cat("field 'stamps' entry ", i, " is neither null nor [bytes, modified_ns]");
      return {};
    }
    out[i] = FileStamp{s[0].get<int64_t>(), s[1].get<int64_t>()};
  }
  return out;
}

}  // namespace sgml
