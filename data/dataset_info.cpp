#include "data/dataset_info.h"

#include <algorithm>
#include <cctype>
#include <atomic>
#include <filesystem>
#include <map>
#include <set>
#include <sstream>
#include <thread>

#include "data/image_cache.h"
#include "data/image_decode.h"
#include "data/image_transform.h"
#include "data/path_text.h"
#include "data/worker_errors.h"
#include "engine/check.h"

namespace sgml {

namespace fs = std::filesystem;

namespace {

constexpr size_t kExamples = 5;  // paths named per kind of problem

std::vector<const ImageRecord*> all_images(const Dataset& d) { return cache_order(d); }

// Whether `box` reaches more than a pixel past the image: cropping clamps it to the image (annotations may reach a
// pixel past the edge), and further than that the annotation is likely wrong or of another image size.
bool box_past_image(const BoundingBox& box, int width, int height) {
  if (!box.valid()) return false;
  return box.x < -1.0f || box.y < -1.0f || double(box.x) + box.width > width + 1.0 ||
         double(box.y) + box.height > height + 1.0;
}

struct ImageCheck {
  int unreadable = 0;
  std::vector<std::string> examples;  // the first few messages
  int boxes_past_image = 0;           // verifying: images whose box reaches over a pixel past them (cropped to them)
  std::vector<std::string> box_examples;
};

// Images that are missing (or, verifying, do not decode or have a bounding box outside them).
ImageCheck check_images(const std::vector<const ImageRecord*>& images, bool decode, int workers) {
  std::atomic<size_t> next{0};
  std::atomic<bool> stop{false};
  std::vector<std::string> bad(images.size());  // each worker writes only the entries it took
  std::vector<std::string> past(images.size());
  auto work = [&] {
    for (size_t i; !stop && (i = next++) < images.size();) {
      const std::string& path = images[i]->path;
      try {  // nothing may escape a thread (worker_errors.h)
        if (decode) {
          const RgbImage image = decode_image_file(path);
          const BoundingBox& b = images[i]->box;
          region_of_interest(image.width, image.height, b);  // a box outside the image is an error
          if (box_past_image(b, image.width, image.height))
            past[i] = str_cat("'", path, "': box x ", b.x, ", y ", b.y, ", width ", b.width, ", height ", b.height,
                              " on a ", image.width, "x", image.height, " image");
        } else {
          std::error_code ec;
          const fs::file_status st = fs::status(path, ec);
          if (!fs::exists(st)) bad[i] = "missing image '" + path + "'";
          else if (!fs::is_regular_file(st)) bad[i] = "image '" + path + "' is not a regular file (a directory?)";
        }
      } catch (...) {
        record_image_error(bad[i], path);
      }
    }
  };
  const int n = decode ? (workers > 0 ? workers : int(std::max(1u, std::thread::hardware_concurrency()))) : 1;
  run_threads(n, work, stop, "decoding threads");
  ImageCheck out;
  for (size_t i = 0; i < images.size(); ++i) {
    if (!bad[i].empty() && out.unreadable++ < int(kExamples)) out.examples.push_back(bad[i]);
    if (!past[i].empty() && out.boxes_past_image++ < int(kExamples)) out.box_examples.push_back(past[i]);
  }
  return out;
}

}  // namespace

MissingImages missing_images(const Dataset& d, bool training, bool test) {
  std::vector<const ImageRecord*> images;
  const auto add = [&images](const std::vector<ImageRecord>& split) {
    for (const ImageRecord& r : split) images.push_back(&r);
  };
  if (training) add(d.train);
  if (test)
    for (const std::vector<ImageRecord>* split : {&d.test, &d.query, &d.gallery}) add(*split);
  const ImageCheck c = check_images(images, /*decode=*/false, 1);
  return {c.unreadable, c.examples};
}

nlohmann::ordered_json dataset_info(const Dataset& d, const DatasetInfoOptions& options) {
  nlohmann::ordered_json j;
  j["kind"] = d.kind;
  j["root"] = printable_utf8(d.root);
  j["images_train"] = d.train.size();
  j["classes_train"] = d.num_train_classes();
  if (d.query_gallery()) {
    j["images_query"] = d.query.size();
    j["images_gallery"] = d.gallery.size();
  } else {
    j["images_test"] = d.test.size();
  }
  j["classes_test"] = d.num_test_classes();
  j["attributes"] = d.num_attributes();
  j["tolerated_defects"] = nlohmann::ordered_json::object();
  for (const auto& [what, count] : d.tolerated_defects) j["tolerated_defects"][printable_utf8(what)] = count;

  std::vector<std::string> problems;
  const ImageCheck checked = check_images(all_images(d), options.verify_images, options.workers);
  const int unreadable = checked.unreadable;
  const std::vector<std::string>& examples = checked.examples;
  j[options.verify_images ? "bad_images" : "missing_images"] = unreadable;
  if (checked.boxes_past_image > 0) {
    j["tolerated_defects"]["bounding boxes reaching over a pixel past their image (cropped to it)"] =
        checked.boxes_past_image;
    j["boxes_past_image"] = nlohmann::ordered_json::array();
    for (const std::string& e : checked.box_examples) j["boxes_past_image"].push_back(printable_utf8(e));
  }
  if (unreadable > 0) {
    problems.push_back(std::to_string(unreadable) +
                       (options.verify_images
                            ? " images cannot be used (they do not decode, or their box lies outside them)"
                            : " image files are missing"));
    for (const auto& e : examples) problems.push_back("  " + printable_utf8(e));
  }
  if (d.query_gallery()) {
    std::set<int> gallery_items;
    for (const auto& r : d.gallery) gallery_items.insert(r.label);
    int hopeless = 0;
    for (const auto& r : d.query) hopeless += !gallery_items.count(r.label);
    if (hopeless > 0) problems.push_back(std::to_string(hopeless) + " queries have no gallery image of their item");
  } else {
    std::map<int, int> per_class;
    for (const auto& r : d.test) ++per_class[r.label];
    int single = 0;
    for (const auto& [label, n] : per_class) single += n == 1;
    if (single > 0) problems.push_back(std::to_string(single) + " test classes have one image (nothing to retrieve)");
  }
  if (d.num_train_classes() < 2) problems.push_back("fewer than 2 training classes (no negative pairs)");
  j["problems"] = problems;

  j["cache"] = nullptr;
  if (options.cache_size > 0) {
    std::string why_not;
    if (auto cache = find_image_cache(d, options.cache_size, &why_not)) {
      j["cache"] = printable_utf8(cache->json_path());
      if (!why_not.empty()) j["problems"].push_back("image cache: " + printable_utf8(why_not));  // files gone
    } else if (!why_not.empty()) {
      j["problems"].push_back("image cache not usable: " + printable_utf8(why_not));
    }
    // Caches prepared at other sizes: the one asked about may simply be the wrong one.
    std::vector<int> others;
    std::error_code ec;
    for (fs::directory_iterator it(default_cache_dir(d), ec), end; !ec && it != end; it.increment(ec)) {
      const std::string name = it->path().filename().string();  // images_C.json
      const std::string digits = name.size() > 12 ? name.substr(7, name.size() - 12) : "";
      if (digits.empty() || digits.size() > 4 ||
          !std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; }))
        continue;
      const int side = std::stoi(digits);
      if (name == cache_index_path("", side) && side != options.cache_size) others.push_back(side);
    }
    std::sort(others.begin(), others.end());
    if (!others.empty()) j["cache_sizes_elsewhere"] = others;
  }
  j["attribute_names"] = nlohmann::ordered_json::array();
  for (const std::string& name : d.attribute_names) j["attribute_names"].push_back(printable_utf8(name));
  return j;
}

std::string format_dataset_info(const nlohmann::ordered_json& j) {
  std::ostringstream os;
  os << "dataset " << j["kind"].get<std::string>() << " at " << j["root"].get<std::string>() << "\n";
  os << "  train:    " << j["images_train"] << " images of " << j["classes_train"] << " classes\n";
  if (j.contains("images_query")) {
    os << "  query:    " << j["images_query"] << " images\n";
    os << "  gallery:  " << j["images_gallery"] << " images (" << j["classes_test"]
       << " test classes over query and gallery)\n";
  } else {
    os << "  test:     " << j["images_test"] << " images of " << j["classes_test"] << " classes (leave-one-out)\n";
  }
  os << "  attributes: " << j["attributes"] << "\n";
  if (j["tolerated_defects"].empty()) os << "  tolerated defects: none\n";
  for (const auto& [what, count] : j["tolerated_defects"].items())
    os << "  tolerated: " << what << ": " << count << "\n";
  if (j.contains("boxes_past_image"))
    for (const auto& e : j["boxes_past_image"]) os << "    " << e.get<std::string>() << "\n";
  if (j.contains("cache") && !j["cache"].is_null())
    os << "  decoded-image cache: " << j["cache"].get<std::string>() << "\n";
  if (j.contains("cache_sizes_elsewhere")) {
    os << "  decoded-image caches of other sizes (--cache-size):";
    for (const auto& side : j["cache_sizes_elsewhere"]) os << " " << side.get<int>();
    os << "\n";
  }
  if (j["problems"].empty()) os << "  problems: none\n";
  for (const auto& p : j["problems"]) os << "  problem: " << p.get<std::string>() << "\n";
  return os.str();
}

}  // namespace sgml
