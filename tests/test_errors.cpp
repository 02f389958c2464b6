// Error messages are for users: no C++ source location or condition text unless SGML_ERROR_LOCATIONS asks for it.
#include <gtest/gtest.h>

#include <cstdlib>
#include <string>

#include "engine/check.h"

namespace {

std::string message_of_failed_check(int value) {
  try {
    SGML_CHECK(value > 0, "--lr must be positive, got ", value);
  } catch (const sgml::Error& e) {
    return e.what();
  }
  return "";
}

// Restores the variable as the suite set it (tests/support/test_environment.cpp).
struct LocationsVariable {
  std::string saved;
  bool had;
  LocationsVariable() : had(std::getenv("SGML_ERROR_LOCATIONS") != nullptr) {
    if (had) saved = std::getenv("SGML_ERROR_LOCATIONS");
  }
  ~LocationsVariable() {
    if (had) ::setenv("SGML_ERROR_LOCATIONS", saved.c_str(), 1);
    else ::unsetenv("SGML_ERROR_LOCATIONS");
  }
};

TEST(Errors, UsersSeeThePlainMessage) {
  LocationsVariable restore;
  ::unsetenv("SGML_ERROR_LOCATIONS");
  EXPECT_EQ(message_of_failed_check(-1), "--lr must be positive, got -1");
  ::setenv("SGML_ERROR_LOCATIONS", "0", 1);
  EXPECT_EQ(message_of_failed_check(-1), "--lr must be positive, got -1");
}

TEST(Errors, DevelopersSeeConditionSourceLocationAndOp) {
  LocationsVariable restore;
  ::setenv("SGML_ERROR_LOCATIONS", "1", 1);
  sgml::OpScope op("conv2d_forward");
  const std::string m = message_of_failed_check(-1);
  EXPECT_EQ(m.rfind("check failed: value > 0: --lr must be positive, got -1 [", 0), 0u) << m;
  EXPECT_NE(m.find("test_errors.cpp:"), std::string::npos) << m;
  EXPECT_NE(m.find(", op conv2d_forward]"), std::string::npos) << m;
}

}  // namespace
