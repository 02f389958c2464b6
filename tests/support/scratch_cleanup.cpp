// Removes a passing test's scratch folder (scratch_root(): build/test_scratch/<suite>.<name>/) when the test ends; a
// failing test's folder stays for inspection, and SGML_KEEP_TEST_SCRATCH=1 keeps them all.
//
// Why: the training and checkpoint tests write ResNet checkpoints (up to 140 MB each with Adam's moments). Kept, the
// plain and sanitized suites left 17 GB behind on a CI machine, whose disk filled mid-run ("writing ...
// last.safetensors.tmp failed (disk full?)") and failed 13 tests that had nothing wrong with them.
#include <cstdlib>
#include <filesystem>
#include <string>

#include <gtest/gtest.h>

#include "tests/support/test_support.h"

namespace sgml::test {
namespace {

class ScratchCleanup : public ::testing::EmptyTestEventListener {
  void OnTestEnd(const ::testing::TestInfo& info) override {
    const ::testing::TestResult* result = info.result();
    if (!result || result->Failed()) return;
    std::error_code ec;  // a folder that cannot be removed costs disk, never the test's result
    std::filesystem::remove_all(scratch_root(&info), ec);
  }
};

bool keep_scratch() {
  const char* keep = std::getenv("SGML_KEEP_TEST_SCRATCH");
  return keep && std::string(keep) == "1";
}

// Registered before gtest_main's main() runs; the listener list owns it.
const bool registered = [] {
  if (!keep_scratch()) ::testing::UnitTest::GetInstance()->listeners().Append(new ScratchCleanup);
  return true;
}();

}  // namespace
}  // namespace sgml::test
