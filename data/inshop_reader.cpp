#include "data/inshop_reader.h"

#include <filesystem>
#include <set>
#include <unordered_map>

#include "data/text_lines.h"
#include "data/unique_image_paths.h"
#include "engine/check.h"

namespace sgml {

namespace fs = std::filesystem;

namespace {

const char* kLayoutHint =
    "expected the DeepFashion In-shop layout: Img/img/... (or img/...), Eval/list_eval_partition.txt, "
    "Anno/list_attr_cloth.txt and Anno/list_attr_items.txt (or under Anno/attributes/)";

// The In-shop lists: line 1 the number of entries, line 2 the column names, then the entries. Returns the entry
// line numbers (blank lines skipped) after checking the count.
std::vector<int> counted_body(const TextFile& file, const char* what) {
  if (file.num_lines() < 2)
    SGML_FAIL("'", file.path(), "': expected the number of ", what, " on line 1 and the column names on line 2");
  const std::vector<std::string_view> first = split_tokens(file.line(1));
  long long count = 0;
  if (first.size() != 1 || !try_parse_integer(first[0], &count) || count < 0)
    SGML_FAIL("'", file.path(), "' line 1: expected the number of ", what, ", got '", file.line(1), "'");
  std::vector<int> body;
  for (int n = 3; n <= file.num_lines(); ++n)
    if (!is_blank(file.line(n))) body.push_back(n);
  if (static_cast<long long>(body.size()) != count)
    SGML_FAIL("'", file.path(), "' line 1: says ", count, " ", what, " but ", body.size(),
              " lines follow the header (a truncated or edited file?)");
  return body;
}

std::vector<std::string> read_attribute_names(const TextFile& file) {
  const std::vector<int> body = counted_body(file, "attributes");
  // A trailing integer token is a type column (the Category benchmark's layout) when the header names two columns
  // or when every line has one; otherwise it is part of the name.
  bool type_column = split_tokens(file.line(2)).size() >= 2;
  if (!type_column && !body.empty()) {
    type_column = true;
    for (int n : body) {
      const auto t = split_tokens(file.line(n));
      long long v;
      if (t.size() < 2 || !try_parse_integer(t.back(), &v)) type_column = false;
    }
  }
  std::vector<std::string> names;
  for (int n : body) {
    std::vector<std::string_view> t = split_tokens(file.line(n));
    if (type_column) {
      long long v;
      if (t.size() < 2 || !try_parse_integer(t.back(), &v))
        SGML_FAIL("'", file.path(), "' line ", n, ": expected '<attribute name> <type>', got '", file.line(n), "'");
      t.pop_back();
    }
    std::string name;
    for (size_t i = 0; i < t.size(); ++i) name += std::string(i ? " " : "") + std::string(t[i]);
    names.push_back(name);
  }
  if (names.empty()) SGML_FAIL("'", file.path(), "': no attribute names");
  return names;
}

// Image names in the partition file start with img/: the folder holding img/ is Img/ in the official archive, the
// root in some copies.
std::string image_root(const std::string& root) {
  std::error_code ec;
  if (fs::is_directory(fs::path(root) / "Img" / "img", ec)) return (fs::path(root) / "Img").string();
  if (fs::is_directory(fs::path(root) / "img", ec)) return root;
  if (fs::is_directory(fs::path(root) / "Img", ec)) return (fs::path(root) / "Img").string();
  return root;
}

}  // namespace

Dataset read_inshop(const std::string& root) {
  std::error_code ec;
  if (!fs::is_directory(root, ec)) SGML_FAIL("In-shop dataset folder '", root, "' does not exist (", kLayoutHint, ")");
  Dataset d;
  d.kind = "deepfashion";
  d.root = root;
  const TextFile partition(
      find_dataset_file(root, {"Eval/list_eval_partition.txt", "list_eval_partition.txt"}, kLayoutHint));
  const TextFile cloth(
      find_dataset_file(root, {"Anno/list_attr_cloth.txt", "Anno/attributes/list_attr_cloth.txt"}, kLayoutHint));
  const TextFile items(
      find_dataset_file(root, {"Anno/list_attr_items.txt", "Anno/attributes/list_attr_items.txt"}, kLayoutHint));

  d.attribute_names = read_attribute_names(cloth);
  const size_t k = d.attribute_names.size();

  std::unordered_map<std::string, int> item_row;
  for (int n : counted_body(items, "items")) {
    const std::vector<std::string_view> t = split_tokens(items.line(n));
    if (t.size() != k + 1)
      SGML_FAIL("'", items.path(), "' line ", n, ": expected an item id and ", k, " attribute values (the ", k,
                " names of '", cloth.path(), "'), got ", t.size(), " tokens");
    std::vector<float> v(k);
    for (size_t a = 0; a < k; ++a) {
      if (t[a + 1] == "1") v[a] = 1.0f;
      else if (t[a + 1] == "-1" || t[a + 1] == "0") v[a] = 0.0f;
      else SGML_FAIL("'", items.path(), "' line ", n, ": attribute value '", t[a + 1], "' is not 1, -1 or 0");
    }
    if (!item_row.emplace(std::string(t[0]), int(d.attributes.size())).second)
      SGML_FAIL("'", items.path(), "' line ", n, ": item ", t[0], " is listed twice");
    d.attributes.push_back(std::move(v));
  }

  const std::string images = image_root(root);
  std::unordered_map<std::string, int> train_labels, test_labels;
  UniqueImagePaths paths;
  for (int n : counted_body(partition, "images")) {
    const std::vector<std::string_view> t = split_tokens(partition.line(n));
    if (t.size() != 3)
      SGML_FAIL("'", partition.path(), "' line ", n, ": expected '<image_name> <item_id> <status>', got '",
                partition.line(n), "'");
    paths.add(std::string(t[0]), str_cat("'", partition.path(), "' line ", n));
    ImageRecord r;
    r.path = (fs::path(images) / std::string(t[0])).string();
    r.item = std::string(t[1]);
    const auto row = item_row.find(r.item);
    if (row == item_row.end())
      SGML_FAIL("'", partition.path(), "' line ", n, ": item ", r.item, " has no attributes in '", items.path(), "'");
    r.attribute_row = row->second;
    const std::string_view status = t[2];
    if (status != "train" && status != "query" && status != "gallery")
      SGML_FAIL("'", partition.path(), "' line ", n, ": status '", status, "' is not train, query or gallery");
    const bool train = status == "train";
    if ((train ? test_labels : train_labels).count(r.item))
      SGML_FAIL("'", partition.path(), "' line ", n, ": item ", r.item, " is in both the train and the test split");
    auto& labels = train ? train_labels : test_labels;
    r.label = labels.emplace(r.item, int(labels.size())).first->second;
    (train ? d.train : status == "query" ? d.query : d.gallery).push_back(std::move(r));
  }
  if (d.train.empty()) SGML_FAIL("'", partition.path(), "': no training images");
  return d;
}

}  // namespace sgml
