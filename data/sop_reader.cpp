#include "data/sop_reader.h"

#include <filesystem>
#include <map>
#include <unordered_map>
#include <unordered_set>

#include "data/text_lines.h"
#include "data/unique_image_paths.h"
#include "engine/check.h"

namespace sgml {

namespace fs = std::filesystem;

namespace {

const char* kLayoutHint =
    "expected the Stanford_Online_Products layout: Ebay_train.txt, Ebay_test.txt and the *_final/ image folders";
const char* kHeader = "image_id class_id super_class_id path";
const char* kLineFormat = "<image_id> <class_id> <super_class_id> <path>";

struct SopEntry {
  int line;
  int class_id;
  std::string path;  // DIR joined with the listed path
};

struct SopList {
  std::vector<SopEntry> entries;
  std::map<int, int> super_class_of;  // class id -> super-class id (sorted by class id)
};

long long positive(std::string_view token, const TextFile& file, int line, const char* what, long long most) {
  const long long v = parse_integer(token, file.path(), line, what);
  if (v < 1 || v > most)
    SGML_FAIL("'", file.path(), "' line ", line, ": ", what, " ", v, " is out of range (1 to ", most, ")");
  return v;
}

SopList read_list(const std::string& root, const std::string& path, UniqueImagePaths& paths) {
  const TextFile file(path);
  if (file.num_lines() < 1 || split_tokens(file.line(1)) != split_tokens(kHeader))
    SGML_FAIL("'", path, "' line 1: expected the header '", kHeader, "', got '",
              file.num_lines() < 1 ? std::string_view() : file.line(1), "' (a copy without its header line?)");
  SopList list;
  std::unordered_set<long long> image_ids;
  const long long kMostId = 100000000;
  const int kSuperClasses = int(sop_super_class_folders().size());
  for (int n = 2; n <= file.num_lines(); ++n) {
    if (is_blank(file.line(n))) continue;
    const std::vector<std::string_view> t = split_tokens(file.line(n));
    if (t.size() != 4)
      SGML_FAIL("'", path, "' line ", n, ": expected '", kLineFormat, "' (4 columns), got ", t.size(), ": '",
                file.line(n), "'");
    const long long image_id = positive(t[0], file, n, "image id", kMostId);
    if (!image_ids.insert(image_id).second)
      SGML_FAIL("'", path, "' line ", n, ": image id ", image_id, " is listed twice");
    const int class_id = int(positive(t[1], file, n, "class id", kMostId));
    const int super_class = int(positive(t[2], file, n, "super-class id", kSuperClasses));
    const auto [it, added] = list.super_class_of.emplace(class_id, super_class);
    if (!added && it->second != super_class)
      SGML_FAIL("'", path, "' line ", n, ": class ", class_id, " has super-class ", super_class, " here and ",
                it->second, " on an earlier line");
    paths.add(std::string(t[3]), str_cat("'", path, "' line ", n));
    list.entries.push_back({n, class_id, (fs::path(root) / std::string(t[3])).string()});
  }
  if (list.entries.empty()) SGML_FAIL("'", path, "': no images after the header line");
  // Every listed image must be there: the first missing one by line, and how many.
  int missing = 0;
  const SopEntry* first = nullptr;
  for (const SopEntry& e : list.entries) {
    std::error_code ec;
    if (fs::is_regular_file(e.path, ec)) continue;
    if (!first) first = &e;
    ++missing;
  }
  if (first)
    SGML_FAIL("'", path, "' line ", first->line, ": image '", first->path, "' is not on disk",
              missing > 1 ? str_cat(" (", missing, " listed images are missing)") : std::string());
  return list;
}

// Dense labels in class-id order.
void append_split(const SopList& list, std::vector<ImageRecord>& out) {
  std::unordered_map<int, int> label;
  for (const auto& [class_id, super_class] : list.super_class_of) label.emplace(class_id, int(label.size()));
  out.reserve(list.entries.size());
  for (const SopEntry& e : list.entries) {
    ImageRecord r;
    r.path = e.path;
    r.item = std::to_string(e.class_id);
    r.label = label.at(e.class_id);
    out.push_back(std::move(r));
  }
}

}  // namespace

const std::vector<std::string>& sop_super_class_folders() {
  static const std::vector<std::string> folders = {
      "bicycle_final", "cabinet_final", "chair_final", "coffee_maker_final", "fan_final",     "kettle_final",
      "lamp_final",    "mug_final",     "sofa_final",  "stapler_final",      "table_final", "toaster_final"};
  return folders;
}

Dataset read_sop(const std::string& root) {
  std::error_code ec;
  if (!fs::is_directory(root, ec))
    SGML_FAIL("Stanford Online Products folder '", root, "' does not exist (", kLayoutHint, ")");
  Dataset d;
  d.kind = "sop";
  d.root = root;
  const std::string train_path = find_dataset_file(root, {"Ebay_train.txt"}, kLayoutHint);
  const std::string test_path = find_dataset_file(root, {"Ebay_test.txt"}, kLayoutHint);
  UniqueImagePaths paths;  // over both lists
  const SopList train = read_list(root, train_path, paths), test = read_list(root, test_path, paths);
  for (const SopEntry& e : test.entries)
    if (train.super_class_of.count(e.class_id))
      SGML_FAIL("'", test_path, "' line ", e.line, ": class ", e.class_id, " is also in '", train_path,
                "' (the train and test classes of SOP are disjoint)");
  append_split(train, d.train);
  append_split(test, d.test);
  return d;
}

}  // namespace sgml
