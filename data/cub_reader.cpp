#include "data/cub_reader.h"

#include <algorithm>
#include <filesystem>
#include <map>
#include <optional>
#include <set>
#include <unordered_map>

#include "data/text_lines.h"
#include "data/unique_image_paths.h"
#include "engine/check.h"

namespace sgml {

namespace fs = std::filesystem;

namespace {

const char* kLayoutHint =
    "expected the CUB_200_2011 layout: images/, images.txt, image_class_labels.txt, classes.txt, "
    "bounding_boxes.txt, attributes/image_attribute_labels.txt, and attributes.txt in attributes/, the folder or "
    "its parent";

struct Numbered {
  int line;
  std::vector<std::string_view> tokens;
};

// The non-blank lines of a CUB list, each with exactly `columns` tokens (`at_least`: that many or more).
std::vector<Numbered> table(const TextFile& file, size_t columns, const char* format, bool at_least = false) {
  std::vector<Numbered> out;
  for (int n = 1; n <= file.num_lines(); ++n) {
    if (is_blank(file.line(n))) continue;
    std::vector<std::string_view> t = split_tokens(file.line(n));
    if (at_least ? t.size() < columns : t.size() != columns)
      SGML_FAIL("'", file.path(), "' line ", n, ": expected '", format, "', got '", file.line(n), "'");
    out.push_back({n, std::move(t)});
  }
  if (out.empty()) SGML_FAIL("'", file.path(), "' is empty");
  return out;
}

int positive_id(std::string_view token, const TextFile& file, int line, const char* what) {
  const long long v = parse_integer(token, file.path(), line, what);
  if (v < 1 || v > 100000000) SGML_FAIL("'", file.path(), "' line ", line, ": ", what, " ", v, " is not a positive id");
  return int(v);
}

struct ImageEntry {
  std::string name;
  int line = 0;  // in images.txt
  int class_id = 0;
  BoundingBox box;
  int attributes_seen = 0;
};

// Reads attributes/image_attribute_labels.txt into `rows` (one row per image, K values each). 3.7 M lines in the
// official file, so tokens are scanned in place.
void read_image_attributes(const TextFile& file, const std::unordered_map<int, int>& image_index,
                           std::vector<ImageEntry>& images, std::vector<std::vector<float>>& rows, Dataset& d) {
  const int k = d.num_attributes();
  int extra_token_lines = 0;
  std::string_view tok[5];
  for (int n = 1; n <= file.num_lines(); ++n) {
    const std::string_view line = file.line(n);
    int count = 0;
    size_t i = 0;
    while (i < line.size()) {
      while (i < line.size() && (line[i] == ' ' || line[i] == '\t')) ++i;
      const size_t start = i;
      while (i < line.size() && line[i] != ' ' && line[i] != '\t') ++i;
      if (i > start) {
        if (count < 5) tok[count] = line.substr(start, i - start);
        ++count;
      }
    }
    if (count == 0) continue;
    if (count < 4)
      SGML_FAIL("'", file.path(), "' line ", n,
                ": expected '<image_id> <attribute_id> <is_present> <certainty_id> <time>', got '", line, "'");
    if (count > 5) ++extra_token_lines;
    const int id = positive_id(tok[0], file, n, "image id");
    const auto it = image_index.find(id);
    if (it == image_index.end()) SGML_FAIL("'", file.path(), "' line ", n, ": image id ", id, " is not in images.txt");
    const int attribute = positive_id(tok[1], file, n, "attribute id");
    if (attribute > k)
      SGML_FAIL("'", file.path(), "' line ", n, ": attribute id ", attribute, " is beyond the ", k,
                " attributes of attributes.txt");
    if (tok[2] != "0" && tok[2] != "1")
      SGML_FAIL("'", file.path(), "' line ", n, ": is_present '", tok[2], "' is not 0 or 1");
    parse_integer(tok[3], file.path(), n, "certainty id");
    std::vector<float>& row = rows[size_t(it->second)];
    float& value = row[size_t(attribute - 1)];
    if (value >= 0)
      SGML_FAIL("'", file.path(), "' line ", n, ": image ", id, " attribute ", attribute, " is given twice");
    value = tok[2] == "1" ? 1.0f : 0.0f;
    ++images[size_t(it->second)].attributes_seen;
  }
  if (extra_token_lines > 0)
    d.tolerated_defects["attributes/image_attribute_labels.txt: lines with extra tokens (first four read)"] =
        extra_token_lines;
}

}  // namespace

std::vector<std::string> cub_attribute_name_candidates() {
  return {"attributes/attributes.txt", "attributes.txt", "../attributes.txt"};
}

Dataset read_cub(const std::string& root, const CubOptions& options) {
  std::error_code ec;
  if (!fs::is_directory(root, ec)) SGML_FAIL("CUB dataset folder '", root, "' does not exist (", kLayoutHint, ")");
  Dataset d;
  d.kind = "cub";
  d.root = root;
  const TextFile images_txt(find_dataset_file(root, {"images.txt"}, kLayoutHint));
  const TextFile labels_txt(find_dataset_file(root, {"image_class_labels.txt"}, kLayoutHint));
  const TextFile classes_txt(find_dataset_file(root, {"classes.txt"}, kLayoutHint));
  const TextFile boxes_txt(find_dataset_file(root, {"bounding_boxes.txt"}, kLayoutHint));
  std::string names_path, attributes_path;
  try {
    names_path = find_dataset_file(root, cub_attribute_name_candidates(), kLayoutHint);
    attributes_path = find_dataset_file(root, {"attributes/image_attribute_labels.txt"}, kLayoutHint);
  } catch (const Error&) {
    if (!options.attributes_optional) throw;
    // One line, as the other tolerated defects (the error's text lists every place looked at), naming what is missing.
    const char* missing = names_path.empty() ? "the attribute names (attributes/attributes.txt)"
                                             : "attributes/image_attribute_labels.txt";
    d.tolerated_defects[str_cat("attribute file missing: ", missing, ", no attributes read (not needed here)")] = 1;
    names_path.clear();
  }

  std::vector<ImageEntry> images;
  std::unordered_map<int, int> image_index;  // image id -> position in images.txt
  UniqueImagePaths paths;
  for (const auto& [n, t] : table(images_txt, 2, "<image_id> <image_name>")) {
    const int id = positive_id(t[0], images_txt, n, "image id");
    if (!image_index.emplace(id, int(images.size())).second)
      SGML_FAIL("'", images_txt.path(), "' line ", n, ": image id ", id, " is listed twice");
    ImageEntry e;
    e.name = std::string(t[1]);
    paths.add(e.name, str_cat("'", images_txt.path(), "' line ", n));
    e.line = n;
    images.push_back(std::move(e));
  }
  auto image_of = [&](const TextFile& file, int line, std::string_view token) -> ImageEntry& {
    const int id = positive_id(token, file, line, "image id");
    const auto it = image_index.find(id);
    if (it == image_index.end())
      SGML_FAIL("'", file.path(), "' line ", line, ": image id ", id, " is not in images.txt");
    return images[size_t(it->second)];
  };

  std::map<int, std::string> classes;  // sorted by class id
  for (const auto& [n, t] : table(classes_txt, 2, "<class_id> <class_name>")) {
    const int id = positive_id(t[0], classes_txt, n, "class id");
    if (!classes.emplace(id, std::string(t[1])).second)
      SGML_FAIL("'", classes_txt.path(), "' line ", n, ": class id ", id, " is listed twice");
  }
  for (const auto& [n, t] : table(labels_txt, 2, "<image_id> <class_id>")) {
    ImageEntry& e = image_of(labels_txt, n, t[0]);
    if (e.class_id != 0) SGML_FAIL("'", labels_txt.path(), "' line ", n, ": image id ", t[0], " has a second class");
    e.class_id = positive_id(t[1], labels_txt, n, "class id");
    if (!classes.count(e.class_id))
      SGML_FAIL("'", labels_txt.path(), "' line ", n, ": class id ", e.class_id, " is not in '", classes_txt.path(),
                "'");
  }
  for (const auto& [n, t] : table(boxes_txt, 5, "<image_id> <x> <y> <width> <height>")) {
    ImageEntry& e = image_of(boxes_txt, n, t[0]);
    if (e.box.valid()) SGML_FAIL("'", boxes_txt.path(), "' line ", n, ": image id ", t[0], " has a second box");
    const char* what[4] = {"x", "y", "width", "height"};
    float v[4];
    for (int c = 0; c < 4; ++c) v[c] = float(parse_number(t[size_t(c) + 1], boxes_txt.path(), n, what[c]));
    if (v[2] <= 0 || v[3] <= 0)
      SGML_FAIL("'", boxes_txt.path(), "' line ", n, ": the box has no area (width ", v[2], ", height ", v[3], ")");
    e.box = {v[0], v[1], v[2], v[3]};
  }

  // Attribute names: "<id> <name>", ids 1..K in order.
  const std::optional<TextFile> names = names_path.empty() ? std::nullopt : std::optional<TextFile>(names_path);
  for (const auto& [n, t] :
       names ? table(*names, 2, "<attribute_id> <attribute_name>", /*at_least=*/true) : std::vector<Numbered>{}) {
    const TextFile& names_txt = *names;
    const int id = positive_id(t[0], names_txt, n, "attribute id");
    if (id != d.num_attributes() + 1)
      SGML_FAIL("'", names_txt.path(), "' line ", n, ": attribute id ", id, " where ", d.num_attributes() + 1,
                " was expected");
    std::string name;
    for (size_t i = 1; i < t.size(); ++i) name += std::string(i > 1 ? " " : "") + std::string(t[i]);
    d.attribute_names.push_back(name);
  }
  std::vector<std::vector<float>> rows(images.size(), std::vector<float>(size_t(d.num_attributes()), -1.0f));
  if (names) read_image_attributes(TextFile(attributes_path), image_index, images, rows, d);

  // Split by class: the first half of the sorted class ids trains, the rest tests; dense labels per split over the
  // classes that have images.
  std::map<int, int> images_per_class;
  for (const ImageEntry& e : images) {
    if (e.class_id == 0)
      SGML_FAIL("'", images_txt.path(), "' line ", e.line, ": image ", e.name, " has no class in '", labels_txt.path(),
                "'");
    if (!e.box.valid())
      SGML_FAIL("'", images_txt.path(), "' line ", e.line, ": image ", e.name, " has no bounding box in '",
                boxes_txt.path(), "'");
    if (e.attributes_seen != d.num_attributes())
      SGML_FAIL("'", images_txt.path(), "' line ", e.line, ": image ", e.name, " has ", e.attributes_seen, " of the ",
                d.num_attributes(), " attributes in '", attributes_path, "'");
    ++images_per_class[e.class_id];
  }
  const size_t train_classes = classes.size() / 2;
  std::map<int, int> label_of;  // class id -> dense label within its split
  std::set<int> train_ids;
  int train_label = 0, test_label = 0;
  for (const auto& [id, name] : classes) {
    const bool train = train_ids.size() < train_classes;
    if (train) train_ids.insert(id);
    if (images_per_class.count(id)) label_of[id] = train ? train_label++ : test_label++;
  }
  for (size_t i = 0; i < images.size(); ++i) {
    ImageRecord r;
    r.path = (fs::path(root) / "images" / images[i].name).string();
    r.item = std::to_string(images[i].class_id);
    r.label = label_of.at(images[i].class_id);
    if (options.crop) r.box = images[i].box;
    r.attribute_row = int(d.attributes.size());
    d.attributes.push_back(std::move(rows[i]));
    (train_ids.count(images[i].class_id) ? d.train : d.test).push_back(std::move(r));
  }
  if (d.train.empty() || d.test.empty())
    SGML_FAIL("'", classes_txt.path(), "': ", classes.size(), " classes with images give an empty train or test split");
  return d;
}

}  // namespace sgml
