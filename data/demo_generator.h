// The built-in demo datasets: synthetic items (demo_render.h) written to disk in the official layouts, so that
// they go through the same readers as the real data. No downloads; byte-identical files for a given spec and seed.
//
// In-shop layout (the `demo` dataset, the default of `sgml train`): 100 train items and 60 test items, 7 views of
// 64 x 64 each (JPEG); views 1-3 of a test item are queries, 4-7 gallery. Train and test items differ (every item
// has its own attribute combination). Written: Img/img/DEMO/<Shape>/id_XXXXXXXX/NN_K_view.jpg,
// Eval/list_eval_partition.txt, Anno/list_attr_cloth.txt (names with spaces), Anno/list_attr_items.txt (1 / -1,
// and 0 for a few absent attributes, as the official file has), Anno/list_bbox_inshop.txt, Anno/list_item_inshop.txt.
//
// CUB layout (`demo-cub`, mainly for tests): 50 + 50 classes (one item each), 6 views of 80 x 72 with the object's
// bounding box, CUB's files and attributes/attributes.txt; one line of image_attribute_labels.txt carries the
// official file's extra-token defect, so the reader's tolerance is exercised (reported as 1 tolerated line).
//
// SOP layout (Stanford Online Products): Ebay_train.txt and Ebay_test.txt with the official header, images under
// the twelve *_final/ folders as <id>_<view>.JPG; Cars196 layout: car_ims/NNNNNN.jpg and cars_annos.mat (written
// with libmatio, data/cars_annos_writer.h), boxes around the object. Both: 24 + 24 classes of 4 views at 48 x 48 by
// default. DemoSpec::full_size gives the official counts (SOP 11,318 classes / 59,551 images train, 11,316 /
// 60,502 test; Cars 98 / 8,054 and 98 / 8,131) with one tiny 16 x 16 image written under every name.
#pragma once
#include <cstdint>
#include <string>

namespace sgml {

enum class DemoLayout { InShop, Cub, Sop, Cars };
const char* demo_layout_name(DemoLayout layout);

struct DemoSpec {
  int train_items = 100, test_items = 60;  // CUB layout: classes (the reader splits all classes in half by id)
  int views_per_item = 7;
  int train_images = 0, test_images = 0;   // SOP and Cars layouts: > 0 spreads these totals over each split's classes
  bool shared_image = false;               // one image encoded once and written under every name (full-size layouts)
  int query_views = 3;                     // In-shop: the first views of a test item are queries
  int width = 64, height = 64;
  int jpeg_quality = 92;
  uint64_t seed = 0;

  static DemoSpec defaults(DemoLayout layout);
  static DemoSpec full_size(DemoLayout layout);  // SOP and Cars: the official counts, tiny shared images
  std::string description(DemoLayout layout) const;  // one line, also the version stamp in the folder
};

// Writes the dataset into `dir` (created; existing files of the same names are overwritten).
void write_demo_dataset(const std::string& dir, DemoLayout layout, const DemoSpec& spec);
// The same, written beside `dir` and renamed into place, so that a reader never sees half a dataset and two
// processes generating at once both end with one complete copy. Replaces an older demo in `dir` (one with a
// different version stamp); refuses to replace a folder that is not a demo.
void write_demo_dataset_atomically(const std::string& dir, DemoLayout layout, const DemoSpec& spec);

// True when `dir` holds a demo with the current generator's version stamp for `layout`'s defaults.
bool demo_data_is_current(const std::string& dir, DemoLayout layout);
// The stamp file in a demo folder.
constexpr const char* kDemoStampFile = "sgml_demo_version.txt";

}  // namespace sgml
