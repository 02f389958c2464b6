#include "data/demo_generator.h"

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "data/cars_annos_writer.h"
#include "data/demo_render.h"
#include "data/random_stream.h"
#include "data/sop_reader.h"
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

std::string padded(const std::string& s, size_t width) {
  return s + std::string(s.size() < width ? width - s.size() : 1, ' ');
}

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
    const DemoView dv = draw_demo_view(items[size_t(v.item)], spec.width, spec.height,
                                       mix_seed(spec.seed, uint64_t(v.item), uint64_t(v.view) + 1));
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
                  capitalised(groups[0].values[size_t(items[size_t(v.item)].value[0])]).c_str(),
                  item_id(v.item).c_str(), v.view + 1, v.view + 1);
    write_bytes(dir / "Img" / name, encode_jpeg(v.image, spec.jpeg_quality));
    const bool train = v.item < spec.train_items;
    const char* status = train ? "train" : v.view < spec.query_views ? "query" : "gallery";
    partition << padded(name, 54) << padded(item_id(v.item), 22) << status
              << "\n";  // runs of spaces, as the official file
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
    for (float a : items[size_t(i)].attribute_vector())
      attrs << (a > 0 ? " 1" : unknown.uniform() < 0.05 ? " 0" : " -1");
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
                  capitalised(groups[2].values[size_t(it.value[2])]).c_str(),
                  capitalised(groups[0].values[size_t(it.value[0])]).c_str());
    class_names.push_back(b);
    classes << c + 1 << " " << b << "\n";
  }
  int attribute_id = 0;
  for (const auto& g : groups)
    for (const char* value : g.values)
      names << ++attribute_id << " has_" << g.name << "::" << capitalised(value) << "\n";
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

// SOP and Cars layouts: images per class, spread evenly over each split when the spec gives split totals (the
// full-size layouts), else views_per_item each.
int images_of_class(const DemoSpec& spec, int c) {
  const bool train = c < spec.train_items;
  const int classes = train ? spec.train_items : spec.test_items, total = train ? spec.train_images : spec.test_images;
  if (total <= 0) return spec.views_per_item;
  const int k = train ? c : c - spec.train_items;
  return total / classes + (k < total % classes ? 1 : 0);
}

struct Shot {
  std::string name;  // relative to the dataset folder
  int cls, view;
  int box[4];        // filled by write_shots (0-based inclusive pixels)
};

// Renders and writes every shot; with spec.shared_image one tiny image is encoded once, written once and hard-linked
// under every other name (the full-size layouts: the counts matter, not the pixels; 120,053 links take no data
// blocks, where as many copies would take 470 MB of 4 KiB blocks), copied where the file system has no links.
void write_shots(const fs::path& dir, std::vector<Shot>& shots, const DemoSpec& spec) {
  for (const Shot& s : shots) fs::create_directories((dir / s.name).parent_path());
  if (spec.shared_image) {
    const std::vector<uint8_t> bytes = encode_jpeg(RgbImage(spec.width, spec.height, 128), spec.jpeg_quality);
    for (Shot& s : shots) {
      std::error_code ec;
      if (&s == &shots.front()) write_bytes(dir / s.name, bytes);
      else if (fs::create_hard_link(dir / shots.front().name, dir / s.name, ec), ec) write_bytes(dir / s.name, bytes);
      s.box[0] = s.box[1] = 0;
      s.box[2] = spec.width - 1;
      s.box[3] = spec.height - 1;
    }
    return;
  }
  const std::vector<DemoItem> items = make_demo_items(spec.train_items + spec.test_items, spec.seed);
#pragma omp parallel for schedule(dynamic)
  for (int64_t i = 0; i < int64_t(shots.size()); ++i) {
    Shot& s = shots[size_t(i)];
    const DemoItem& item = items[size_t(s.cls)];
    const DemoView dv =
        draw_demo_view(item, spec.width, spec.height, mix_seed(spec.seed, uint64_t(s.cls), uint64_t(s.view) + 1));
    object_box(dv, spec.width, spec.height, s.box);
    write_bytes(dir / s.name, encode_jpeg(render_demo_view(item, dv, spec.width, spec.height), spec.jpeg_quality));
  }
}

// Ebay_train.txt / Ebay_test.txt with the official header; class ids 1.. over train then test, super-class by class.
void write_sop(const fs::path& dir, const DemoSpec& spec) {
  const auto& folders = sop_super_class_folders();
  const int n_classes = spec.train_items + spec.test_items;
  std::vector<Shot> shots;
  std::ostringstream lists[2];
  int image_id[2] = {0, 0};
  for (auto& l : lists) l << "image_id class_id super_class_id path\n";
  for (int c = 0; c < n_classes; ++c) {
    const int split = c < spec.train_items ? 0 : 1, super_class = c % int(folders.size());
    for (int v = 0; v < images_of_class(spec, c); ++v) {
      const std::string name = str_cat(folders[size_t(super_class)], "/", 111000000000LL + c * 100LL, "_", v, ".JPG");
      lists[split] << ++image_id[split] << " " << c + 1 << " " << super_class + 1 << " " << name << "\n";
      shots.push_back({name, c, v, {0, 0, 0, 0}});
    }
  }
  write_shots(dir, shots, spec);
  write_text(dir / "Ebay_train.txt", lists[0].str());
  write_text(dir / "Ebay_test.txt", lists[1].str());
  std::ostringstream info;
  info << "image_id class_id super_class_id path\n";  // the official Ebay_info.txt lists every image; not read
  write_text(dir / "Ebay_info.txt", info.str());
}

// car_ims/NNNNNN.jpg numbered in class order (as the official archive), cars_annos.mat through libmatio.
void write_cars(const fs::path& dir, const DemoSpec& spec) {
  const int n_classes = spec.train_items + spec.test_items;
  std::vector<Shot> shots;
  for (int c = 0; c < n_classes; ++c)
    for (int v = 0; v < images_of_class(spec, c); ++v) {
      char name[64];
      std::snprintf(name, sizeof name, "car_ims/%06d.jpg", int(shots.size()) + 1);
      shots.push_back({name, c, v, {0, 0, 0, 0}});
    }
  write_shots(dir, shots, spec);
  std::vector<CarsAnnotation> annotations;
  for (size_t i = 0; i < shots.size(); ++i) {
    const Shot& s = shots[i];
    annotations.push_back({s.name, s.box[0] + 1, s.box[1] + 1, s.box[2] + 1, s.box[3] + 1, s.cls + 1, int(i % 2)});
  }
  std::vector<std::string> class_names;
  for (int c = 0; c < n_classes; ++c) class_names.push_back(str_cat("Demo Motors Model ", c + 1, " 2012"));
  write_cars_annos_mat((dir / "cars_annos.mat").string(), annotations, class_names);
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
  } else if (layout == DemoLayout::Sop || layout == DemoLayout::Cars) {
    s.train_items = 24;
    s.test_items = 24;
    s.views_per_item = 4;
    s.width = 48;
    s.height = 48;
  }
  return s;
}

DemoSpec DemoSpec::full_size(DemoLayout layout) {
  DemoSpec s = defaults(layout);
  if (layout == DemoLayout::Sop) {
    s.train_items = 11318, s.train_images = 59551;
    s.test_items = 11316, s.test_images = 60502;
  } else if (layout == DemoLayout::Cars) {
    s.train_items = 98, s.train_images = 8054;
    s.test_items = 98, s.test_images = 8131;
  } else {
    SGML_FAIL("the full-size demo layout is for SOP and Cars196");
  }
  s.width = s.height = 16;
  s.shared_image = true;
  return s;
}

const char* demo_layout_name(DemoLayout layout) {
  switch (layout) {
    case DemoLayout::InShop: return "In-shop";
    case DemoLayout::Cub: return "CUB";
    case DemoLayout::Sop: return "SOP";
    case DemoLayout::Cars: return "Cars196";
  }
  return "?";
}

std::string DemoSpec::description(DemoLayout layout) const {
  return str_cat(
      "sgml demo generator v", kGeneratorVersion, ": ", demo_layout_name(layout), " layout, ", train_items, " train + ",
      test_items, " test items, ",
      train_images > 0 ? str_cat(train_images, " + ", test_images, " images") : str_cat(views_per_item, " views"),
      " of ", width, "x", height, shared_image ? " (one image shared)" : "", ", ", query_views,
      " query views, JPEG quality ", jpeg_quality, ", seed ", seed);
}

void write_demo_dataset(const std::string& dir, DemoLayout layout, const DemoSpec& spec) {
  // Query views split an item's views in the In-shop layout only.
  const bool views_split =
      layout != DemoLayout::InShop || (spec.query_views >= 1 && spec.query_views < spec.views_per_item);
  SGML_CHECK(
      spec.train_items >= 2 && spec.test_items >= 2 && spec.views_per_item >= 2 && spec.width >= 16 &&
          spec.height >= 16 && views_split,
      "a demo needs at least 2 train and 2 test items, 2 views each, a query and a gallery view, 16 x 16 images");
  fs::create_directories(dir);
  switch (layout) {
    case DemoLayout::InShop: write_inshop(dir, spec); break;
    case DemoLayout::Cub: write_cub(dir, spec); break;
    case DemoLayout::Sop: write_sop(dir, spec); break;
    case DemoLayout::Cars: write_cars(dir, spec); break;
  }
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
