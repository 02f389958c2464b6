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

// One build at a time: a wrapper started while another holds the build folder's lock (building) waits for it, then
// runs; the program itself holds no lock (a long run does not block the next command).
TEST(CliWrapper, WaitsForAnotherBuildOfTheSameFolder) {
  const std::string dir = sgml::test::scratch_dir("wrapper_lock");
  const std::string build = SGML_BINARY_DIR, lock = build + "/.sgml_build.lock";
  const std::string wrapper = "SGML_BUILD_DIR=" + build + " " + std::string(SGML_SOURCE_DIR) + "/sgml";
  sgml::test::write_file_text(dir + "/wait.sh", "flock " + lock + " sh -c 'touch " + dir + "/held; sleep 2; touch " +
                                                    dir +
                                                    "/released' &\n"
                                                    "for i in $(seq 1 200); do [ -e " +
                                                    dir + "/held ] && break; sleep 0.05; done\n" + wrapper +
                                                    " --version >/dev/null 2>&1 || echo failed\n"
                                                    "[ -e " +
                                                    dir + "/released ] && echo waited\nwait\n");
  std::string out;
  ASSERT_EQ(sgml::test::run_command("bash " + dir + "/wait.sh", &out), 0) << out;
  EXPECT_NE(out.find("waited"), std::string::npos) << out;
  EXPECT_EQ(out.find("failed"), std::string::npos) << out;
  // The program runs with the lock released: its open files do not include it.
  sgml::test::write_file_text(dir + "/fds.sh",
                              wrapper + " train demo --data " + dir + "/demo --out " + dir +
                                  "/run --device cpu --steps 100000 --eval-every -1 >/dev/null 2>&1 &\npid=$!\n"
                                  "for i in $(seq 1 600); do readlink /proc/$pid/exe | grep -qv bash && break; "
                                  "sleep 0.05; done\nls -l /proc/$pid/fd\nkill -TERM $pid\nwait\n");
  ASSERT_EQ(sgml::test::run_command("bash " + dir + "/fds.sh", &out), 0) << out;
  EXPECT_NE(out.find("/dev/null"), std::string::npos) << "the program's files were listed:\n" << out;
  EXPECT_EQ(out.find(".sgml_build.lock"), std::string::npos) << out;
}

}  // namespace
