#include "data/demo_generator.h"

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "data/demo_render.h"
#include "data/random_stream.h"
#include "engine/check.h"

namespace sgml {

namespace fs = std::filesystem;

namespace {

constexpr int kGeneratorVersion = 2;  // bump when the generated files change (2: JPEG by libjpeg-turbo)

void write_text(const fs::path& path, const std::string& text) {
  fs::create_directories(path.parent_path());
  std::ofstream out(path, std::ios::binary);
  out << text;
  if (!out) SGML_FAIL("cannot write '", path.string(), "'");
}

void write_bytes(const fs::path& path, const std::vector<uint8_t>& bytes) {
  fs::create_directories(path.parent_path());
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char*>(bytes.data()), std::streamsize(bytes.size()));
  if (!out) SGML_FAIL("cannot write '", path.string(), "'");
}

std::string capitalised(std::string s) {
  for (char& c : s)
    if (c == ' ') c = '_';
  if (!s.empty()) s[0] = char(std::toupper(static_cast<unsigned char>(s[0])));
  return s;
}

std::string padded(const std::string& s, size_t width) { return s + std::string(s.size() < width ? width - s.size() : 1, ' '); }

// The object's bounding box in a view: its outer radius around the centre, clamped to the canvas.
void object_box(const DemoView& v, int w, int h, int box[4]) {
  box[0] = std::max(0, int(std::floor(v.center_x - v.radius)));
  box[1] = std::max(0, int(std::floor(v.center_y - v.radius)));
  box[2] = std::min(w - 1, int(std::ceil(v.center_x + v.radius)));
  box[3] = std::min(h - 1, int(std::ceil(v.center_y + v.radius)));
}

struct View {
  int item, view;
  RgbImage image;
  int box[4];
};

std::vector<View> render_all(const std::vector<DemoItem>& items, const DemoSpec& spec) {
  std::vector<View> views(items.size() * size_t(spec.views_per_item));
#pragma omp parallel for schedule(dynamic)
  for (int64_t i = 0; i < int64_t(views.size()); ++i) {
    View& v = views[size_t(i)];
    v.item = int(i / spec.views_per_item);
    v.view = int(i % spec.views_per_item);
    const DemoView dv = draw_demo_view(items[size_t(v.item)], spec.width, spec.height, mix_seed(spec.seed, uint64_t(v.item), uint64_t(v.view) + 1));
    v.image = render_demo_view(items[size_t(v.item)], dv, spec.width, spec.height);
    object_box(dv, spec.width, spec.height, v.box);
  }
  return views;
}

void write_inshop(const fs::path& dir, const DemoSpec& spec) {
  const auto& groups = demo_attribute_groups();
  const int n_items = spec.train_items + spec.test_items, k = demo_num_attributes();
  const std::vector<DemoItem> items = make_demo_items(n_items, spec.seed);
  const std::vector<View> views = render_all(items, spec);
  auto item_id = [](int i) {
    char b[32];
    std::snprintf(b, sizeof b, "id_%08d", i + 1);
    return std::string(b);
  };
  std::ostringstream partition, bbox, cloth, attrs, item_list;
  partition << views.size() << "\nimage_name item_id evaluation_status\n";
  bbox << views.size() << "\nimage_name clothes_type pose_type x_1 y_1 x_2 y_2\n";
  for (const View& v : views) {
    char name[128];
    std::snprintf(name, sizeof name, "img/DEMO/%s/%s/%02d_%d_view.jpg",
                  capitalised(groups[0].values[size_t(items[size_t(v.item)].value[0])]).c_str(), item_id(v.item).c_str(),
                  v.view + 1, v.view + 1);
    write_bytes(dir / "Img" / name, encode_jpeg(v.image, spec.jpeg_quality));
    const bool train = v.item < spec.train_items;
    const char* status = train ? "train" : v.view < spec.query_views ? "query" : "gallery";
    partition << padded(name, 54) << padded(item_id(v.item), 22) << status << "\n";  // runs of spaces, as the official file
    char coords[64];
    std::snprintf(coords, sizeof coords, "1  1  %03d  %03d  %03d  %03d", v.box[0], v.box[1], v.box[2], v.box[3]);
    bbox << padded(name, 54) << coords << "\n";
  }
  cloth << k << "\nattribute_name\n";
  for (const auto& g : groups)
    for (const char* value : g.values) cloth << g.name << " " << value << "\n";  // names with spaces
  attrs << n_items << "\nitem_id attribute_labels\n";
  item_list << n_items << "\nitem_id\n";
  for (int i = 0; i < n_items; ++i) {
    RandomStream unknown(mix_seed(spec.seed, uint64_t(i), 0xA77));
    attrs << item_id(i);
    for (float a : items[size_t(i)].attribute_vector()) attrs << (a > 0 ? " 1" : unknown.uniform() < 0.05 ? " 0" : " -1");
    attrs << "\n";
    item_list << item_id(i) << "\n";
  }
  write_text(dir / "Eval/list_eval_partition.txt", partition.str());
  write_text(dir / "Anno/list_bbox_inshop.txt", bbox.str());
  write_text(dir / "Anno/list_attr_cloth.txt", cloth.str());
  write_text(dir / "Anno/list_attr_items.txt", attrs.str());
  write_text(dir / "Anno/list_item_inshop.txt", item_list.str());
}

void write_cub(const fs::path& dir, const DemoSpec& spec) {
  const auto& groups = demo_attribute_groups();
  const int n_classes = spec.train_items + spec.test_items;
  const std::vector<DemoItem> items = make_demo_items(n_classes, spec.seed);
  const std::vector<View> views = render_all(items, spec);
  std::ostringstream images, labels, split, classes, boxes, names, labels_per_image;
  std::vector<std::string> class_names;
  for (int c = 0; c < n_classes; ++c) {
    const DemoItem& it = items[size_t(c)];
    char b[160];
    std::snprintf(b, sizeof b, "%03d.%s_%s_%s", c + 1, capitalised(groups[1].values[size_t(it.value[1])]).c_str(),
                  capitalised(groups[2].values[size_t(it.value[2])]).c_str(), capitalised(groups[0].values[size_t(it.value[0])]).c_str());
    class_names.push_back(b);
    classes << c + 1 << " " << b << "\n";
  }
  int attribute_id = 0;
  for (const auto& g : groups)
    for (const char* value : g.values) names << ++attribute_id << " has_" << g.name << "::" << capitalised(value) << "\n";
  const int defect_image = int(views.size()) / 2 + 1;  // the official file's extra-token lines are mid-file too
  for (size_t i = 0; i < views.size(); ++i) {
    const View& v = views[i];
    const int id = int(i) + 1;
    const std::string name = class_names[size_t(v.item)] + "/" + class_names[size_t(v.item)].substr(4) + "_" +
                             std::to_string(id) + ".jpg";
    write_bytes(dir / "images" / name, encode_jpeg(v.image, spec.jpeg_quality));
    images << id << " " << name << "\n";
    labels << id << " " << v.item + 1 << "\n";
    split << id << " " << (v.view % 2 == 0 ? 1 : 0) << "\n";  // not used for metric learning
    boxes << id << " " << v.box[0] << ".0 " << v.box[1] << ".0 " << v.box[2] - v.box[0] + 1 << ".0 "
          << v.box[3] - v.box[1] + 1 << ".0\n";
    RandomStream timing(mix_seed(spec.seed, uint64_t(id), 0x71));
    const std::vector<float> a = items[size_t(v.item)].attribute_vector();
    for (size_t j = 0; j < a.size(); ++j) {
      char t[32];
      std::snprintf(t, sizeof t, "%.4f", timing.uniform(2.0, 30.0));
      labels_per_image << id << " " << j + 1 << " " << int(a[j]) << " " << (a[j] > 0 ? 4 : 3)
                       << (id == defect_image && j == 0 ? " 0 " : " ") << t << "\n";
    }
  }
  write_text(dir / "images.txt", images.str());
  write_text(dir / "image_class_labels.txt", labels.str());
  write_text(dir / "train_test_split.txt", split.str());
  write_text(dir / "classes.txt", classes.str());
  write_text(dir / "bounding_boxes.txt", boxes.str());
  write_text(dir / "attributes/attributes.txt", names.str());
  write_text(dir / "attributes/certainties.txt", "1 not visible\n2 guessing\n3 probably\n4 definitely\n");
  write_text(dir / "attributes/image_attribute_labels.txt", labels_per_image.str());
}

}  // namespace

DemoSpec DemoSpec::defaults(DemoLayout layout) {
  DemoSpec s;
  if (layout == DemoLayout::Cub) {
    s.train_items = 50;
    s.test_items = 50;
    s.views_per_item = 6;
    s.width = 80;
    s.height = 72;
  }
  return s;
}

std::string DemoSpec::description(DemoLayout layout) const {
  return str_cat("sgml demo generator v", kGeneratorVersion, ": ", layout == DemoLayout::InShop ? "In-shop" : "CUB",
                 " layout, ", train_items, " train + ", test_items, " test items, ", views_per_item, " views of ", width,
                 "x", height, ", ", query_views, " query views, JPEG quality ", jpeg_quality, ", seed ", seed);
}

void write_demo_dataset(const std::string& dir, DemoLayout layout, const DemoSpec& spec) {
  SGML_CHECK(spec.train_items >= 2 && spec.test_items >= 2 && spec.views_per_item >= 2 && spec.width >= 16 &&
                 spec.height >= 16 && spec.query_views >= 1 && spec.query_views < spec.views_per_item,
             "a demo needs at least 2 train and 2 test items, 2 views each, a query and a gallery view, 16 x 16 images");
  fs::create_directories(dir);
  if (layout == DemoLayout::InShop) write_inshop(dir, spec);
  else write_cub(dir, spec);
  write_text(fs::path(dir) / kDemoStampFile, spec.description(layout) + "\n");
}

void write_demo_dataset_atomically(const std::string& dir, DemoLayout layout, const DemoSpec& spec) {
  const fs::path target = fs::absolute(dir);
  std::error_code ec;
  if (fs::exists(target, ec) && !fs::exists(target / kDemoStampFile, ec) && !fs::is_empty(target, ec))
    SGML_FAIL("'", dir, "' exists and is not a demo dataset (no ", kDemoStampFile, "): not replacing it");
  const fs::path staging = target.string() + ".tmp-" + std::to_string(::getpid());
  fs::remove_all(staging, ec);
  write_demo_dataset(staging.string(), layout, spec);
  if (fs::exists(target, ec)) {
    // Another process may have just finished the same demo: keep a current one, replace an old one.
    std::ifstream stamp(target / kDemoStampFile);
    std::string line;
    std::getline(stamp, line);
    if (line == spec.description(layout)) {
      fs::remove_all(staging, ec);
      return;
    }
    const fs::path old = target.string() + ".old-" + std::to_string(::getpid());
    fs::rename(target, old, ec);
    fs::remove_all(old, ec);
  }
  fs::rename(staging, target, ec);
  if (ec) {
    fs::remove_all(staging);
    if (!demo_data_is_current(target.string(), layout))
      SGML_FAIL("cannot move the generated demo into '", dir, "': ", ec.message());
  }
}

bool demo_data_is_current(const std::string& dir, DemoLayout layout) {
  std::ifstream stamp(fs::path(dir) / kDemoStampFile);
  std::string line;
  return stamp && std::getline(stamp, line) && line == DemoSpec::defaults(layout).description(layout);
}

}  // namespace sgml
