#include "data/image_cache.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <thread>

#include "data/cache_boxes.h"
#include "data/image_decode.h"
#include "data/image_transform.h"
#include "data/output_paths.h"
#include "data/path_text.h"
#include "data/worker_errors.h"
#include "engine/check.h"
#include "engine/json_depth.h"

namespace sgml {

namespace fs = std::filesystem;

namespace {

constexpr const char* kFormat = "sgml-image-cache";
// 2: the bounding box of every image ("boxes"); 3: paths below the dataset's folder; 4: the files' stamps
constexpr int kVersion = 4;
constexpr const char* kRerun = "run sgml prepare again";

std::string data_path_of(const std::string& json_path) {
  return (fs::path(json_path).parent_path() / (fs::path(json_path).stem().string() + ".u8")).string();
}

[[noreturn]] void index_error(const std::string& json_path, const std::string& what) {
  SGML_FAIL("decoded-image cache index '", json_path, "' ", what, ": ", kRerun);
}

// The whole index file; errors say what is wrong with it (missing, a folder, empty, not JSON).
nlohmann::json read_index(const std::string& json_path) {
  std::error_code ec;
  if (!fs::exists(json_path, ec)) index_error(json_path, "is missing");
  if (!fs::is_regular_file(json_path, ec)) index_error(json_path, "is not a regular file");
  std::ifstream in(json_path, std::ios::binary);
  if (!in) index_error(json_path, "cannot be opened (" + std::string(std::strerror(errno)) + ")");
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (text.empty()) index_error(json_path, "is empty (an interrupted sgml prepare?)");
  if (json_nesting_depth(text) > kMaxJsonDepth)
    index_error(json_path, str_cat("nests deeper than ", kMaxJsonDepth, " levels (not an index sgml prepare wrote)"));
  nlohmann::json j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) index_error(json_path, "is not valid JSON (an interrupted or damaged write?)");
  if (!j.is_object()) index_error(json_path, "is not a JSON object");
  return j;
}

// The integer of field `key`, checked to be an integer in [lo, hi].
int64_t index_int(const nlohmann::json& j, const char* key, int64_t lo, int64_t hi, const std::string& json_path) {
  if (!j.contains(key)) index_error(json_path, str_cat("has no field '", key, "'"));
  const nlohmann::json& v = j[key];
  if (!v.is_number_integer()) index_error(json_path, str_cat("field '", key, "' is not an integer"));
  const bool negative = !v.is_number_unsigned() && v.get<int64_t>() < 0;  // lo and hi are never negative
  const bool in_range = !negative && v.get<uint64_t>() >= uint64_t(lo) && v.get<uint64_t>() <= uint64_t(hi);
  if (!in_range) index_error(json_path, str_cat("field '", key, "' is ", v.dump(), ", expected ", lo, " to ", hi));
  return v.get<int64_t>();
}

const std::string& index_string(const nlohmann::json& j, const char* key, const std::string& json_path) {
  if (!j.contains(key)) index_error(json_path, str_cat("has no field '", key, "'"));
  if (!j[key].is_string()) index_error(json_path, str_cat("field '", key, "' is not a string"));
  return j[key].get_ref<const std::string&>();
}

// A slot number written as a JSON key: decimal digits only, below `count`.
int parse_slot(const std::string& key, size_t count, const std::string& json_path) {
  const bool digits = !key.empty() && key.size() <= 9 &&
                      std::all_of(key.begin(), key.end(), [](char c) { return c >= '0' && c <= '9'; });
  if (!digits || std::stoul(key) >= count)
    index_error(json_path, str_cat("field 'bad' has the key '", printable_utf8(key),
                                   "', expected an image number 0 to ", int64_t(count) - 1));
  return int(std::stoul(key));
}

}  // namespace

std::shared_ptr<const ImageCache> ImageCache::open(const std::string& json_path, const std::string& dataset_root) {
  const nlohmann::json j = read_index(json_path);
  if (index_string(j, "format", json_path) != kFormat) index_error(json_path, str_cat("is not a ", kFormat, " index"));
  const int64_t version = index_int(j, "version", 0, INT32_MAX, json_path);
  if (version < kVersion)
    index_error(json_path, str_cat("was prepared by an older sgml (index version ", version,
                                   ", this sgml reads version ", kVersion, ")"));
  if (version != kVersion)
    index_error(json_path, str_cat("is version ", version, ", this sgml reads version ", kVersion));
  index_string(j, "kind", json_path);
  std::shared_ptr<ImageCache> c(new ImageCache());
  c->json_path_ = json_path;
  c->data_path_ = data_path_of(json_path);
  c->root_ = dataset_root;
  c->size_ = int(index_int(j, "size", 1, 4096, json_path));
  const int64_t count = index_int(j, "count", 0, INT32_MAX, json_path);
  if (!j.contains("paths") || !j["paths"].is_array()) index_error(json_path, "has no list 'paths'");
  if (int64_t(j["paths"].size()) != count)
    index_error(json_path, str_cat("lists ", j["paths"].size(), " paths, its field 'count' says ", count));
  for (size_t i = 0; i < j["paths"].size(); ++i) {
    std::optional<std::string> path = path_from_json(j["paths"][i]);
    if (!path) index_error(json_path, str_cat("field 'paths' entry ", i, " is neither a string nor {\"hex\": ...}"));
    if (!c->slot_of_.emplace(*path, int(i)).second)
      index_error(json_path, str_cat("field 'paths' lists '", printable_utf8(*path), "' twice"));
    c->paths_.push_back(std::move(*path));
  }
  if (!j.contains("boxes") || !j["boxes"].is_array()) index_error(json_path, "has no list 'boxes'");
  std::string boxes_error;
  c->boxes_ = boxes_from_json(j["boxes"], c->paths_.size(), &boxes_error);
  if (!boxes_error.empty()) index_error(json_path, boxes_error);
  if (!j.contains("stamps") || !j["stamps"].is_array()) index_error(json_path, "has no list 'stamps'");
  std::string stamps_error;
  c->stamps_ = stamps_from_json(j["stamps"], c->paths_.size(), &stamps_error);
  if (!stamps_error.empty()) index_error(json_path, stamps_error);
  if (!j.contains("bad") || !j["bad"].is_object()) index_error(json_path, "has no object 'bad'");
  for (const auto& [key, why] : j["bad"].items()) {
    if (!why.is_string())
      index_error(json_path, str_cat("field 'bad' entry '", printable_utf8(key), "' is not a string"));
    c->bad_[parse_slot(key, c->paths_.size(), json_path)] = why.get<std::string>();
  }
  c->map_data();
  return c;
}

void ImageCache::map_data() {
  const size_t expected = paths_.size() * size_t(size_) * size_t(size_) * 3;
  const int fd = ::open(data_path_.c_str(), O_RDONLY);
  if (fd < 0)
    SGML_FAIL("cannot open the decoded-image cache data '", data_path_, "' (", std::strerror(errno), "): ", kRerun);
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || uint64_t(st.st_size) != expected) {
    ::close(fd);
    SGML_FAIL("decoded-image cache data '", data_path_, "' has ", st.st_size, " bytes, its index '", json_path_,
              "' says ", expected, ": ", kRerun);
  }
  if (expected == 0) {
    ::close(fd);
    return;
  }
  void* p = ::mmap(nullptr, expected, PROT_READ, MAP_SHARED, fd, 0);
  ::close(fd);
  if (p == MAP_FAILED) SGML_FAIL("cannot map the decoded-image cache data '", data_path_, "': ", std::strerror(errno));
  data_ = static_cast<const uint8_t*>(p);
  bytes_ = expected;
}

ImageCache::~ImageCache() {
  if (data_) ::munmap(const_cast<uint8_t*>(data_), bytes_);
}

int ImageCache::find(const std::string& path) const {
  const auto it = slot_of_.find(path_below_root(path, root_));
  return it == slot_of_.end() ? -1 : it->second;
}

RgbImage ImageCache::image(int slot) const {
  SGML_CHECK(slot >= 0 && slot < count(), "image cache slot ", slot, " of ", count());
  const auto bad = bad_.find(slot);
  if (bad != bad_.end())
    SGML_FAIL("bad image '", root_.empty() ? paths_[size_t(slot)] : (fs::path(root_) / paths_[size_t(slot)]).string(),
              "' (found by sgml prepare: ", bad->second, ")");
  RgbImage image;
  image.width = image.height = size_;
  const size_t bytes = size_t(size_) * size_t(size_) * 3;
  image.pixels.assign(data_ + size_t(slot) * bytes, data_ + size_t(slot + 1) * bytes);
  return image;
}

bool ImageCache::holds_all(const Dataset& dataset) const {
  const std::vector<const ImageRecord*> order = cache_order(dataset);
  if (order.size() != paths_.size()) return false;
  for (size_t i = 0; i < order.size(); ++i)
    if (path_below_root(order[i]->path, root_) != paths_[i]) return false;
  return true;
}

bool ImageCache::same_boxes(const Dataset& dataset) const {
  const std::vector<const ImageRecord*> order = cache_order(dataset);
  if (order.size() != boxes_.size()) return false;
  for (size_t i = 0; i < order.size(); ++i)
    if (!same_box(order[i]->box, boxes_[i])) return false;
  return true;
}

ImageCache::FileCheck ImageCache::check_files(const Dataset& dataset) const {
  const std::vector<const ImageRecord*> order = cache_order(dataset);
  SGML_CHECK(order.size() == stamps_.size(), "check_files of a cache that does not hold the dataset");
  std::vector<std::string> paths;
  for (const ImageRecord* r : order) paths.push_back(r->path);
  const std::vector<std::optional<FileStamp>> stamps = file_stamps(paths);
  size_t changed = 0, gone = 0;
  std::string first_changed, first_gone;
  for (size_t i = 0; i < order.size(); ++i) {
    const std::optional<FileStamp>& now = stamps[i];
    if (!now) {
      if (stamps_[i] && gone++ == 0) first_gone = order[i]->path;  // read by prepare, gone since
    } else if (!stamps_[i] || *now != *stamps_[i]) {
      if (changed++ == 0) first_changed = order[i]->path;
    }
  }
  const auto others = [](size_t n) { return n > 1 ? str_cat(" and ", n - 1, " other image files") : std::string(); };
  FileCheck out;
  if (changed > 0)
    out.changed = str_cat("'", first_changed, "'", others(changed), " changed since sgml prepare wrote '", json_path_,
                          "' (another size or modification time)");
  if (gone > 0) out.gone = str_cat("it serves '", first_gone, "'", others(gone), ", gone from disk since sgml prepare");
  return out;
}

std::vector<const ImageRecord*> cache_order(const Dataset& dataset) {
  std::vector<const ImageRecord*> out;
  std::set<std::string> seen;
  for (const auto* list : {&dataset.train, &dataset.test, &dataset.query, &dataset.gallery})
    for (const ImageRecord& r : *list)
      if (seen.insert(r.path).second) out.push_back(&r);
  return out;
}

std::string default_cache_dir(const Dataset& dataset) { return (fs::path(dataset.root) / "sgml_cache").string(); }

std::string cache_index_path(const std::string& cache_dir, int size) {
  return (fs::path(cache_dir) / ("images_" + std::to_string(size) + ".json")).string();
}

namespace {

// A staging file of a `sgml prepare` (NAME.tmp-PID), and the process that writes it.
struct Staging {
  fs::path path;
  long pid = 0;
};

// The staging files beside `final_path` (its data or index being written), from this or any earlier prepare.
std::vector<Staging> staging_files(const std::string& final_path) {
  std::vector<Staging> out;
  const std::string prefix = fs::path(final_path).filename().string() + ".tmp";
  std::error_code ec;
  for (fs::directory_iterator it(fs::path(final_path).parent_path(), ec), end; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (name.compare(0, prefix.size(), prefix) != 0 || name.size() < prefix.size() + 2) continue;
    const std::string pid = name.substr(prefix.size() + 1);  // after ".tmp-" (or ".tmp." of older versions)
    if (!std::all_of(pid.begin(), pid.end(), [](char c) { return c >= '0' && c <= '9'; }) || pid.size() > 9) continue;
    out.push_back({it->path(), std::stol(pid)});
  }
  return out;
}

// Whether the process that writes a staging file still runs. A killed process can linger as a zombie until its
// parent (or init) reaps it; kill(pid, 0) counts those as alive, so Linux's /proc state is asked first.
bool process_alive(long pid) {
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (stat && std::getline(stat, line)) {
    const size_t close = line.rfind(')');  // "pid (name) state ..."; the name may hold spaces and parentheses
    return close == std::string::npos || close + 2 >= line.size() || (line[close + 2] != 'Z' && line[close + 2] != 'X');
  }
  return ::kill(pid_t(pid), 0) == 0 || errno == EPERM;
}

// Removes what killed prepares left (their process is gone); a running prepare's files are left alone.
void remove_stale_staging(const std::string& index, const std::string& data) {
  for (const std::string& final_path : {index, data})
    for (const Staging& s : staging_files(final_path))
      if (!process_alive(s.pid)) {
        std::error_code ec;
        fs::remove(s.path, ec);
      }
}

// Removes the staging files of this build when it does not finish (an error, a bad image).
class StagingGuard {
 public:
  explicit StagingGuard(std::vector<std::string> paths) : paths_(std::move(paths)) {}
  ~StagingGuard() {
    for (const std::string& p : paths_) ::unlink(p.c_str());
  }
  void release() { paths_.clear(); }

 private:
  std::vector<std::string> paths_;
};

void write_index_file(const std::string& path, const std::string& text) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd < 0) SGML_FAIL(cannot_create_message(path, "cache index", errno));
  const bool ok = ::write(fd, text.data(), text.size()) == ssize_t(text.size()) && ::fsync(fd) == 0;
  const int error = errno;
  if (::close(fd) != 0 || !ok) SGML_FAIL("cannot write the cache index '", path, "': ", std::strerror(error));
}

// The index of a finished build (format in image_cache.h).
std::string index_text(const Dataset& dataset, int size, const std::vector<const ImageRecord*>& order,
                       const std::vector<std::optional<FileStamp>>& stamps, const std::vector<std::string>& bad) {
  nlohmann::json j;
  j["format"] = kFormat;
  j["version"] = kVersion;
  j["kind"] = printable_utf8(dataset.kind);
  j["size"] = size;
  j["count"] = order.size();
  j["paths"] = nlohmann::json::array();
  j["boxes"] = nlohmann::json::array();
  j["stamps"] = nlohmann::json::array();
  for (size_t i = 0; i < order.size(); ++i) {
    j["paths"].push_back(path_to_json(path_below_root(order[i]->path, dataset.root)));
    j["boxes"].push_back(box_to_json(order[i]->box));
    j["stamps"].push_back(stamp_to_json(stamps[i]));
  }
  j["bad"] = nlohmann::json::object();
  for (size_t slot = 0; slot < bad.size(); ++slot)
    if (!bad[slot].empty()) j["bad"][std::to_string(slot)] = printable_utf8(bad[slot]);
  return j.dump();
}

void rename_into_place(const std::string& from, const std::string& to) {
  if (std::rename(from.c_str(), to.c_str()) != 0)
    SGML_FAIL("cannot move '", from, "' to '", to, "': ", std::strerror(errno));
}

}  // namespace

CacheBuildReport build_image_cache(const Dataset& dataset, const std::string& cache_dir, int size, int workers,
                                   bool skip_bad_images) {
  SGML_CHECK(size >= 8 && size <= 4096, "cache image size ", size);
  const auto start = std::chrono::steady_clock::now();
  const std::vector<const ImageRecord*> order = cache_order(dataset);
  const size_t bytes = size_t(size) * size_t(size) * 3;
  create_output_folder(cache_dir, "cache folder");
  const std::string index = cache_index_path(cache_dir, size), data = data_path_of(index);
  remove_stale_staging(index, data);
  const std::string pid = std::to_string(::getpid());
  const std::string data_staging = data + ".tmp-" + pid, index_staging = index + ".tmp-" + pid;
  StagingGuard guard({data_staging, index_staging});
  const int fd = ::open(data_staging.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd < 0) SGML_FAIL(cannot_create_message(data_staging, "cache file", errno));
  if (::ftruncate(fd, off_t(order.size() * bytes)) != 0) {
    ::close(fd);
    SGML_FAIL("cannot size '", data_staging, "' to ", order.size() * bytes, " bytes (disk full?)");
  }

  // Workers take images in turn and write only their own slots; nothing escapes a thread (worker_errors.h).
  std::atomic<size_t> next{0};
  std::atomic<bool> stop{false};
  std::vector<std::string> bad(order.size());
  std::vector<std::optional<FileStamp>> stamps(order.size());
  std::vector<int> write_errno(order.size(), 0);  // ints: recording one cannot throw
  auto work = [&] {
    std::vector<uint8_t> pixels;
    for (size_t i; !stop && (i = next++) < order.size();) {
      // Stamped before it is read: a file rewritten meanwhile looks changed to the next run, never the reverse.
      stamps[i] = file_stamp(order[i]->path);
      try {
        pixels.resize(bytes);
        const RgbImage image = decode_image_file(order[i]->path);
        resize_window(pixels.data(), image, region_of_interest(image.width, image.height, order[i]->box), size, size);
      } catch (...) {  // a bad image, whatever threw: bad bytes, a directory, no permission, missing
        record_image_error(bad[i], order[i]->path);
        continue;
      }
      if (::pwrite(fd, pixels.data(), bytes, off_t(i * bytes)) != ssize_t(bytes)) write_errno[i] = errno ? errno : EIO;
    }
  };
  try {
    run_threads(workers > 0 ? workers : int(std::max(1u, std::thread::hardware_concurrency())), work, stop,
                "decoding threads");
  } catch (...) {
    ::close(fd);
    throw;
  }
  const bool synced = ::fsync(fd) == 0;
  ::close(fd);
  for (const int error : write_errno)
    if (error != 0) SGML_FAIL("cannot write the cache file '", data_staging, "': ", std::strerror(error));
  if (!synced) SGML_FAIL("cannot write '", data_staging, "' (disk full?)");
  const size_t bad_count = order.size() - size_t(std::count(bad.begin(), bad.end(), std::string()));
  if (bad_count > 0 && !skip_bad_images)
    SGML_FAIL(first_error(bad), " (", bad_count, " bad images; use --skip-bad-images to skip them)");

  // Commit: the index goes last, so an interrupted prepare never leaves an index that describes other data (the
  // old index is removed first; a data file without an index is reported by find_image_cache).
  write_index_file(index_staging, index_text(dataset, size, order, stamps, bad));
  std::error_code ec;
  fs::remove(index, ec);
  rename_into_place(data_staging, data);
  rename_into_place(index_staging, index);
  guard.release();
  CacheBuildReport report;
  report.images = int(order.size());
  report.bad = int(bad_count);
  report.index_path = index;
  report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return report;
}

namespace {

// Why there is no usable index at `index` though a prepare was started: a data file or staging files left.
std::string why_no_index(const std::string& index) {
  const std::string data = data_path_of(index);
  std::error_code ec;
  if (fs::exists(data, ec))
    return str_cat("'", data, "' has no index '", index, "' (an interrupted sgml prepare?): ", kRerun);
  for (const std::string& final_path : {data, index})
    for (const Staging& s : staging_files(final_path))
      return str_cat("'", s.path.string(), "' is left from an unfinished sgml prepare (",
                     process_alive(s.pid) ? "still running?" : "interrupted", "), there is no index '", index, "': ",
                     kRerun);
  return "";
}

// Staging files that a killed prepare left beside a complete cache, as a note (the next prepare removes them); "".
std::string leftover_staging(const std::string& index) {
  uintmax_t bytes = 0;
  size_t count = 0;
  std::string first;
  for (const std::string& final_path : {data_path_of(index), index})
    for (const Staging& s : staging_files(final_path)) {
      if (process_alive(s.pid)) continue;  // a prepare running now
      std::error_code ec;
      const uintmax_t size = fs::file_size(s.path, ec);
      bytes += ec ? 0 : size;
      if (count++ == 0) first = s.path.string();
    }
  if (count == 0) return "";
  return str_cat("'", first, "'", count > 1 ? str_cat(" and ", count - 1, " other files") : std::string(),
                 " left by a killed sgml prepare (", bytes / 1048576, " MB; the next prepare removes ",
                 count > 1 ? "them" : "it", ")");
}

}  // namespace

std::string cache_in_use_note(const ImageCache& cache, const std::string& note) {
  return "decoded-image cache: " + cache.json_path() + (note.empty() ? "" : " (" + note + ")");
}

std::shared_ptr<const ImageCache> find_image_cache(const Dataset& dataset, int image_size, std::string* why_not,
                                                   const std::string& cache_dir) {
  const std::string index = cache_index_path(cache_dir.empty() ? default_cache_dir(dataset) : cache_dir, image_size);
  std::error_code ec;
  if (!fs::exists(index, ec)) {
    if (why_not) *why_not = why_no_index(index);
    return nullptr;
  }
  try {
    std::shared_ptr<const ImageCache> cache = ImageCache::open(index, dataset.root);
    const bool same_images = cache->holds_all(dataset);
    const bool same_boxes = same_images && cache->same_boxes(dataset);
    const ImageCache::FileCheck files = same_boxes ? cache->check_files(dataset) : ImageCache::FileCheck{};
    if (same_boxes && files.changed.empty()) {
      if (why_not) {
        const std::string left = leftover_staging(index);
        *why_not = files.gone.empty() ? left : left.empty() ? files.gone : files.gone + "; " + left;
      }
      return cache;
    }
    if (!why_not) return nullptr;
    if (!same_images)
      *why_not = "'" + index + "' lists other images than the dataset (rerun sgml prepare)";
    else if (!same_boxes)
      *why_not = "'" + index + "' holds other bounding boxes than the dataset (cropped differently, --crop-boxes, or "
                 "a changed box file: rerun sgml prepare)";
    else
      *why_not = files.changed + ": rerun sgml prepare";
  } catch (const Error& e) {
    if (why_not) *why_not = e.what();
  }
  return nullptr;
}

}  // namespace sgml
