// Every fuzz seed and every past fuzz crasher (fuzz/corpus/<target>/, fuzz/regressions/<target>/) through the same
// code the libFuzzer targets run (fuzz/fuzz_inputs.h): each input must be read or rejected with sgml::Error, and
// nothing else may escape. In the sanitized suite (scripts/test.sh --sanitize) a memory error on any of them fails
// too, so a fuzz finding stays fixed even where clang/libFuzzer is not installed.
#include <algorithm>
#include <filesystem>
#include <iterator>

#include <gtest/gtest.h>

#include "fuzz/fuzz_inputs.h"
#include "tests/support/test_support.h"

namespace sgml::fuzz {
// The target's name in test names and messages (gtest would print the struct's bytes).
void PrintTo(const Target& target, std::ostream* os) { *os << target.name; }
}  // namespace sgml::fuzz

namespace sgml {
namespace {

namespace fs = std::filesystem;

std::vector<fs::path> files_in(const fs::path& dir) {
  std::vector<fs::path> files;
  if (fs::is_directory(dir))
    for (const auto& entry : fs::directory_iterator(dir))
      if (entry.is_regular_file()) files.push_back(entry.path());
  std::sort(files.begin(), files.end());
  return files;
}

std::vector<fs::path> seeds_of(const std::string& target) {
  return files_in(fs::path(test::source_dir()) / "fuzz" / "corpus" / target);
}

std::vector<fs::path> inputs_of(const std::string& target) {
  std::vector<fs::path> files = seeds_of(target);
  for (const fs::path& f : files_in(fs::path(test::source_dir()) / "fuzz" / "regressions" / target)) files.push_back(f);
  return files;
}

class FuzzRegressions : public ::testing::TestWithParam<fuzz::Target> {};

TEST_P(FuzzRegressions, EveryInputIsReadOrRejectedCleanly) {
  const fuzz::Target& target = GetParam();
  fuzz::set_scratch_dir(test::scratch_dir("inputs"));
  const std::vector<fs::path> files = inputs_of(target.name);
  ASSERT_FALSE(files.empty()) << "no seeds in fuzz/corpus/" << target.name;
  for (const fs::path& file : files) {
    SCOPED_TRACE(file.string());
    const std::string bytes = test::file_text(file);
    try {
      target.read(bytes);
    } catch (const std::exception& e) {
      ADD_FAILURE() << "escaped (not a clean sgml::Error): " << e.what();
    }
  }
}

// Every seed of a reader is a valid input: it must be accepted, so that fuzzing starts from the inside of the
// parser (a seed that is rejected at its first byte teaches the fuzzer little).
TEST(FuzzSeeds, DatasetSeedsAreValid) {
  fuzz::set_scratch_dir(test::scratch_dir("inputs"));
  for (const fs::path& file : seeds_of("cub"))
    EXPECT_NO_THROW(read_cub(fuzz::write_cub_input(test::file_text(file)))) << file;
  for (const fs::path& file : seeds_of("inshop"))
    EXPECT_NO_THROW(read_inshop(fuzz::write_inshop_input(test::file_text(file)))) << file;
  for (const fs::path& file : seeds_of("sop"))
    EXPECT_NO_THROW(read_sop(fuzz::write_sop_input(test::file_text(file)))) << file;
  for (const fs::path& file : seeds_of("cars"))
    EXPECT_NO_THROW(read_cars(fuzz::write_cars_input(test::file_text(file)), CarsOptions{true})) << file;
}

INSTANTIATE_TEST_SUITE_P(Targets, FuzzRegressions, ::testing::ValuesIn(fuzz::all_targets()),
                         [](const ::testing::TestParamInfo<fuzz::Target>& info) {
                           return std::string(info.param.name);
                         });

}  // namespace
}  // namespace sgml
