#include "data/inshop_reader.h"

#include <filesystem>
#include <fstream>
#include <sstream>

#include "engine/check.h"

namespace sgml {

namespace fs = std::filesystem;

namespace {

std::vector<std::string> split_ws(const std::string& line) {
  std::istringstream in(line);
  std::vector<std::string> out;
  std::string tok;
  while (in >> tok) out.push_back(tok);
  return out;
}

std::string find_file(const std::string& root, const std::vector<std::string>& candidates, const std::string& what) {
  for (const auto& c : candidates)
    if (fs::exists(fs::path(root) / c)) return (fs::path(root) / c).string();
  std::string tried;
  for (const auto& c : candidates) tried += "\n  " + (fs::path(root) / c).string();
  SGML_FAIL("In-shop dataset at '", root, "': ", what, " not found; looked for:", tried,
            "\n(expected the DeepFashion In-shop layout: Img/img/..., Eval/list_eval_partition.txt, Anno/...)");
}

// The lines after the count and header lines; each with its 1-based line number.
std::vector<std::pair<int, std::string>> body_lines(const std::string& path) {
  std::ifstream in(path);
  if (!in) SGML_FAIL("cannot open '", path, "'");
  std::vector<std::pair<int, std::string>> out;
  std::string line;
  int number = 0;
  while (std::getline(in, line)) {
    ++number;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (number <= 2) continue;
    if (line.find_first_not_of(" \t") == std::string::npos) continue;
    out.emplace_back(number, line);
  }
  return out;
}

}  // namespace

Dataset read_inshop(const std::string& root) {
  if (!fs::is_directory(root)) SGML_FAIL("In-shop dataset folder '", root, "' does not exist");
  Dataset d;
  d.kind = "deepfashion";
  d.root = root;
  const std::string partition = find_file(root, {"Eval/list_eval_partition.txt", "list_eval_partition.txt"}, "list_eval_partition.txt");
  const std::string cloth = find_file(root, {"Anno/list_attr_cloth.txt", "Anno/attributes/list_attr_cloth.txt"}, "list_attr_cloth.txt");
  const std::string items = find_file(root, {"Anno/list_attr_items.txt", "Anno/attributes/list_attr_items.txt"}, "list_attr_items.txt");
  const std::string image_root = fs::exists(fs::path(root) / "Img") ? (fs::path(root) / "Img").string() : root;

  for (const auto& [number, line] : body_lines(cloth)) {
    // A name may contain spaces and be followed by a numeric type column: drop a trailing integer token.
    std::vector<std::string> t = split_ws(line);
    if (t.size() > 1 && t.back().find_first_not_of("0123456789") == std::string::npos) t.pop_back();
    std::string name;
    for (size_t i = 0; i < t.size(); ++i) name += (i ? " " : "") + t[i];
    d.attribute_names.push_back(name);
  }
  if (d.attribute_names.empty()) SGML_FAIL("'", cloth, "': no attribute names");
  const size_t k = d.attribute_names.size();

  std::map<std::string, int> item_row;
  for (const auto& [number, line] : body_lines(items)) {
    const std::vector<std::string> t = split_ws(line);
    if (t.size() != k + 1)
      SGML_FAIL("'", items, "' line ", number, ": expected an item id and ", k, " attribute values, got ", t.size(), " tokens");
    std::vector<float> v(k);
    for (size_t a = 0; a < k; ++a) {
      if (t[a + 1] == "1") v[a] = 1.0f;
      else if (t[a + 1] == "-1" || t[a + 1] == "0") v[a] = 0.0f;
      else SGML_FAIL("'", items, "' line ", number, ": attribute value '", t[a + 1], "' is not 1, -1 or 0");
    }
    item_row[t[0]] = int(d.attributes.size());
    d.attributes.push_back(std::move(v));
  }

  std::map<std::string, int> train_labels, test_labels;
  for (const auto& [number, line] : body_lines(partition)) {
    const std::vector<std::string> t = split_ws(line);
    if (t.size() != 3)
      SGML_FAIL("'", partition, "' line ", number, ": expected '<image_name> <item_id> <status>', got '", line, "'");
    ImageRecord r;
    r.path = (fs::path(image_root) / t[0]).string();
    r.item = t[1];
    auto row = item_row.find(r.item);
    if (row == item_row.end()) SGML_FAIL("'", partition, "' line ", number, ": item ", r.item, " has no attributes in '", items, "'");
    r.attribute_row = row->second;
    const std::string& status = t[2];
    auto& labels = status == "train" ? train_labels : test_labels;
    auto it = labels.emplace(r.item, int(labels.size())).first;
    r.label = it->second;
    if (status == "train") d.train.push_back(r);
    else if (status == "query") d.query.push_back(r);
    else if (status == "gallery") d.gallery.push_back(r);
    else SGML_FAIL("'", partition, "' line ", number, ": status '", status, "' is not train, query or gallery");
  }
  if (d.train.empty()) SGML_FAIL("'", partition, "': no training images");
  return d;
}

}  // namespace sgml
