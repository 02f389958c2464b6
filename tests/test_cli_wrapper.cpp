// The ./sgml wrapper (builds on first use, then runs the program) keeps the caller's working directory, so a
// relative path given from anywhere means what the user meant.
#include <gtest/gtest.h>

#include <filesystem>

#include "tests/support/test_support.h"

namespace {

TEST(CliWrapper, RelativePathsResolveAgainstTheCallersDirectory) {
  const std::string dir = sgml::test::scratch_dir("wrapper");
  std::filesystem::create_directories(dir + "/elsewhere");
  std::string out;
  // The wrapper builds into SGML_BUILD_DIR: the suite's own build folder, already up to date.
  const std::string cmd = "cd " + dir + "/elsewhere && SGML_BUILD_DIR=" + std::string(SGML_BINARY_DIR) + " " +
                          std::string(SGML_SOURCE_DIR) + "/sgml info demo --data relative_demo --json";
  ASSERT_EQ(sgml::test::run_command(cmd, &out), 0) << out;
  EXPECT_TRUE(std::filesystem::exists(dir + "/elsewhere/relative_demo/Eval/list_eval_partition.txt")) << out;
  EXPECT_FALSE(std::filesystem::exists(std::string(SGML_SOURCE_DIR) + "/relative_demo")) << out;
}

}  // namespace
