#include "data/image_cache.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>

#include "data/image_decode.h"
#include "data/image_transform.h"
#include "engine/check.h"
#include "engine/safetensors.h"

namespace sgml {

namespace fs = std::filesystem;

namespace {

constexpr const char* kFormat = "sgml-image-cache";
constexpr int kVersion = 1;

std::string data_path_of(const std::string& json_path) {
  return (fs::path(json_path).parent_path() / (fs::path(json_path).stem().string() + ".u8")).string();
}

}  // namespace

std::shared_ptr<const ImageCache> ImageCache::open(const std::string& json_path) {
  std::ifstream in(json_path);
  if (!in) SGML_FAIL("cannot open the image cache index '", json_path, "'");
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(in);
  } catch (const std::exception& e) {
    SGML_FAIL("image cache index '", json_path, "' is not valid JSON: ", e.what());
  }
  std::shared_ptr<ImageCache> c(new ImageCache());
  c->json_path_ = json_path;
  c->data_path_ = data_path_of(json_path);
  try {
    if (j.at("format") != kFormat || j.at("version") != kVersion)
      SGML_FAIL("'", json_path, "' is not a version ", kVersion, " ", kFormat, " index");
    c->size_ = j.at("size").get<int>();
    c->paths_ = j.at("paths").get<std::vector<std::string>>();
    for (const auto& [slot, why] : j.at("bad").items()) c->bad_[std::stoi(slot)] = why.get<std::string>();
  } catch (const nlohmann::json::exception& e) {
    SGML_FAIL("image cache index '", json_path, "': ", e.what());
  }
  SGML_CHECK(c->size_ >= 1 && c->size_ <= 4096, "image cache '", json_path, "' has image size ", c->size_);
  for (int i = 0; i < int(c->paths_.size()); ++i) c->slot_of_[c->paths_[size_t(i)]] = i;

  const size_t expected = c->paths_.size() * size_t(c->size_) * size_t(c->size_) * 3;
  const int fd = ::open(c->data_path_.c_str(), O_RDONLY);
  if (fd < 0) SGML_FAIL("cannot open the image cache data '", c->data_path_, "'");
  struct stat st {};
  if (::fstat(fd, &st) != 0 || size_t(st.st_size) != expected) {
    ::close(fd);
    SGML_FAIL("image cache data '", c->data_path_, "' has ", st.st_size, " bytes, its index says ", expected,
              " (rerun sgml prepare)");
  }
  if (expected > 0) {
    void* p = ::mmap(nullptr, expected, PROT_READ, MAP_SHARED, fd, 0);
    ::close(fd);
    if (p == MAP_FAILED) SGML_FAIL("cannot map the image cache data '", c->data_path_, "'");
    c->data_ = static_cast<const uint8_t*>(p);
    c->bytes_ = expected;
  } else {
    ::close(fd);
  }
  return c;
}

ImageCache::~ImageCache() {
  if (data_) ::munmap(const_cast<uint8_t*>(data_), bytes_);
}

int ImageCache::find(const std::string& path) const {
  const auto it = slot_of_.find(path);
  return it == slot_of_.end() ? -1 : it->second;
}

RgbImage ImageCache::image(int slot) const {
  SGML_CHECK(slot >= 0 && slot < count(), "image cache slot ", slot, " of ", count());
  const auto bad = bad_.find(slot);
  if (bad != bad_.end()) SGML_FAIL("bad image '", paths_[size_t(slot)], "' (found by sgml prepare: ", bad->second, ")");
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
    if (order[i]->path != paths_[i]) return false;
  return true;
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

CacheBuildReport build_image_cache(const Dataset& dataset, const std::string& cache_dir, int size, int workers,
                                   bool skip_bad_images) {
  SGML_CHECK(size >= 8 && size <= 4096, "cache image size ", size);
  const auto start = std::chrono::steady_clock::now();
  const std::vector<const ImageRecord*> order = cache_order(dataset);
  const size_t bytes = size_t(size) * size_t(size) * 3;
  fs::create_directories(cache_dir);
  const std::string index = cache_index_path(cache_dir, size), data = data_path_of(index);
  const std::string staging = data + ".tmp-" + std::to_string(::getpid());
  const int fd = ::open(staging.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd < 0) SGML_FAIL("cannot create '", staging, "'");
  if (::ftruncate(fd, off_t(order.size() * bytes)) != 0) {
    ::close(fd);
    SGML_FAIL("cannot size '", staging, "' to ", order.size() * bytes, " bytes (disk full?)");
  }
  std::atomic<size_t> next{0};
  std::mutex mutex;
  std::map<int, std::string> bad;  // slot -> why
  std::string write_error;
  auto work = [&] {
    std::vector<uint8_t> pixels(bytes);
    for (size_t i; (i = next++) < order.size();) {
      try {
        const RgbImage image = decode_image_file(order[i]->path);
        resize_window(pixels.data(), image, region_of_interest(image.width, image.height, order[i]->box), size);
      } catch (const std::exception& e) {
        std::lock_guard<std::mutex> lock(mutex);
        bad[int(i)] = e.what();
        continue;
      }
      if (::pwrite(fd, pixels.data(), bytes, off_t(i * bytes)) != ssize_t(bytes)) {
        std::lock_guard<std::mutex> lock(mutex);
        write_error = "cannot write '" + staging + "' (disk full?)";
      }
    }
  };
  std::vector<std::thread> threads;
  const int n_threads = workers > 0 ? workers : int(std::max(1u, std::thread::hardware_concurrency()));
  for (int t = 0; t < n_threads; ++t) threads.emplace_back(work);
  for (auto& t : threads) t.join();
  ::close(fd);
  auto fail = [&](const std::string& why) {
    fs::remove(staging);
    SGML_FAIL(why);
  };
  if (!write_error.empty()) fail(write_error);
  if (!bad.empty() && !skip_bad_images)
    fail(bad.begin()->second + " (" + std::to_string(bad.size()) + " bad images; use --skip-bad-images to skip them)");

  nlohmann::json j;
  j["format"] = kFormat;
  j["version"] = kVersion;
  j["kind"] = dataset.kind;
  j["size"] = size;
  j["count"] = order.size();
  j["paths"] = nlohmann::json::array();
  for (const ImageRecord* r : order) j["paths"].push_back(r->path);
  j["bad"] = nlohmann::json::object();
  for (const auto& [slot, why] : bad) j["bad"][std::to_string(slot)] = why;
  std::error_code ec;
  fs::remove(index, ec);  // no moment where an old index describes the new data
  fs::rename(staging, data, ec);
  if (ec) fail("cannot move '" + staging + "' to '" + data + "': " + ec.message());
  write_file_atomically(index, j.dump());
  CacheBuildReport report;
  report.images = int(order.size());
  report.bad = int(bad.size());
  report.index_path = index;
  report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return report;
}

std::shared_ptr<const ImageCache> find_image_cache(const Dataset& dataset, int image_size, std::string* why_not,
                                                   const std::string& cache_dir) {
  const std::string index = cache_index_path(cache_dir.empty() ? default_cache_dir(dataset) : cache_dir, image_size);
  std::error_code ec;
  if (!fs::exists(index, ec)) return nullptr;
  try {
    std::shared_ptr<const ImageCache> cache = ImageCache::open(index);
    if (cache->holds_all(dataset)) return cache;
    if (why_not) *why_not = "'" + index + "' lists other images than the dataset (rerun sgml prepare)";
  } catch (const Error& e) {
    if (why_not) *why_not = e.what();
  }
  return nullptr;
}

}  // namespace sgml
