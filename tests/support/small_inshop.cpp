#include "tests/support/small_inshop.h"

#include <filesystem>

#include "data/demo_generator.h"
#include "data/inshop_reader.h"
#include "tests/support/test_support.h"

namespace sgml::test {

std::string small_inshop(const std::string& name) {
  const std::string dir = scratch_dir(name);
  DemoSpec s;
  s.train_items = 6;
  s.test_items = 4;
  s.views_per_item = 4;
  s.query_views = 2;
  s.width = s.height = 40;
  write_demo_dataset(dir, DemoLayout::InShop, s);
  return dir;
}

Dataset read_small_inshop(const std::string& dir) {
  Dataset d = read_inshop(dir);
  d.kind = "deepfashion";
  return d;
}

void replace_with_directory(const std::string& path) {
  std::filesystem::remove(path);
  std::filesystem::create_directories(path);
}

}  // namespace sgml::test
