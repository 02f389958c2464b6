// Imports only downward: every #include "folder/..." in the product's folders is checked against the layer order of
// the design card (CMakeLists.txt builds one library per layer, linked the same way). An upward include, or one
// between two folders of the same layer (models and losses), fails naming the file and line.
#include <gtest/gtest.h>

#include <filesystem>
#include <algorithm>
#include <fstream>
#include <map>
#include <regex>
#include <string>
#include <vector>

#include "tests/support/test_support.h"

namespace fs = std::filesystem;

namespace {

// Bottom to top. models and losses are one layer (neither includes the other); retrieval sits above data because
// its reports and plots read and write images with data's codec (data/image_io.h).
const std::map<std::string, int>& layer_ranks() {
  static const std::map<std::string, int> ranks = {
      {"engine", 0}, {"layers", 1}, {"models", 2}, {"losses", 2}, {"data", 3},
      {"retrieval", 4}, {"training", 5}, {"tools", 6}};
  return ranks;
}

bool is_source_file(const fs::path& p) {
  const std::string ext = p.extension().string();
  return ext == ".h" || ext == ".cpp" || ext == ".cu" || ext == ".cuh";
}

// "file:line: includes X (layer L), above its own layer F" for every include that breaks the order, in file order.
std::vector<std::string> upward_includes(const fs::path& root) {
  static const std::regex include_line(R"(^\s*#\s*include\s*"([A-Za-z_]+)/[^"]*")");
  std::vector<std::string> problems;
  for (const auto& [folder, rank] : layer_ranks()) {
    if (!fs::is_directory(root / folder)) continue;
    std::vector<fs::path> files;
    for (const auto& entry : fs::recursive_directory_iterator(root / folder))
      if (entry.is_regular_file() && is_source_file(entry.path())) files.push_back(entry.path());
    std::sort(files.begin(), files.end());
    for (const fs::path& file : files) {
      std::ifstream in(file);
      std::string line;
      for (int number = 1; std::getline(in, line); ++number) {
        std::smatch m;
        if (!std::regex_search(line, m, include_line)) continue;
        const auto target = layer_ranks().find(m[1].str());
        if (target == layer_ranks().end() || target->first == folder) continue;
        if (target->second < rank) continue;
        problems.push_back(fs::relative(file, root).string() + ":" + std::to_string(number) + ": includes " +
                           target->first + "/ (" + (target->second == rank ? "the same layer" : "a layer above") +
                           " " + folder + "/)");
      }
    }
  }
  return problems;
}

void write_file(const fs::path& path, const std::string& text) {
  fs::create_directories(path.parent_path());
  std::ofstream(path) << text;
}

}  // namespace

TEST(Layering, NoUpwardIncludeInTheTree) {
  const std::vector<std::string> problems = upward_includes(sgml::test::source_dir());
  std::string all;
  for (const std::string& p : problems) all += p + "\n";
  EXPECT_TRUE(problems.empty()) << "includes against the layer order (engine < layers < models, losses < data < "
                                   "retrieval < training < tools):\n"
                                << all;
}

// The checker itself: a small tree with one include of each kind, so that a checker that finds nothing fails here.
TEST(Layering, CheckerNamesFileAndLineOfEachUpwardInclude) {
  const fs::path root = sgml::test::scratch_dir("layering_checker");
  write_file(root / "engine/tensor.h", "#pragma once\n#include <vector>\n#include \"engine/check.h\"\n");
  write_file(root / "engine/variable.cpp",
             "// tape\n#include \"engine/tensor.h\"\n  #include \"layers/elementwise.h\"\n");
  write_file(root / "losses/objective.h", "#include \"layers/gemm.h\"\n#include \"models/resnet.h\"\n");
  write_file(root / "training/step.cpp", "#include \"losses/objective.h\"\n#include \"tools/commands/options.h\"\n");
  write_file(root / "tools/commands/train.cpp", "#include \"training/step.h\"\n#include \"unknown/thing.h\"\n");
  write_file(root / "data/notes.txt", "#include \"tools/commands/options.h\"\n");  // not a source file

  const std::vector<std::string> expected = {
      "engine/variable.cpp:3: includes layers/ (a layer above engine/)",
      "losses/objective.h:2: includes models/ (the same layer losses/)",
      "training/step.cpp:2: includes tools/ (a layer above training/)",
  };
  std::vector<std::string> found = upward_includes(root);
  std::sort(found.begin(), found.end());
  EXPECT_EQ(found, expected);
}
