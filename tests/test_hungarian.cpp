// The Hungarian algorithm (retrieval/hungarian.h) against scipy.optimize.linear_sum_assignment
// (tests/reference/hungarian_ref.py) on random cost matrices: square and non-square both ways, continuous costs
// (a unique optimum almost surely: the very same cells must be chosen) and small integer costs full of ties (any
// optimal assignment is right: the total cost must equal scipy's and the cells must form a valid matching).
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <set>

#include "engine/check.h"
#include "engine/safetensors.h"  // write_file_atomically
#include "retrieval/hungarian.h"
#include "tests/support/test_support.h"

using namespace sgml;

namespace {

struct AssignmentCase {
  std::string name;
  int rows, cols;
  std::vector<double> cost;
  bool ties;  // integer costs: several optimal assignments may exist
};

std::vector<AssignmentCase> assignment_cases() {
  std::mt19937_64 rng(12);
  std::vector<AssignmentCase> cases;
  auto add = [&](const std::string& name, int rows, int cols, int kind) {
    // kind 0: uniform [0, 1); 1: integers 0..2 (many ties); 2: all equal; 3: uniform [-1e6, 1e6); 4: integers 0..9
    std::vector<double> c(size_t(rows) * cols);
    std::uniform_real_distribution<double> unit(0.0, 1.0);
    for (double& x : c) {
      const double u = unit(rng);
      x = kind == 0 ? u : kind == 1 ? std::floor(3 * u) : kind == 2 ? 5.0 : kind == 3 ? 2e6 * u - 1e6
                                                                                       : std::floor(10 * u);
    }
    cases.push_back({name, rows, cols, c, kind == 1 || kind == 2 || kind == 4});
  };
  for (int n : {1, 2, 3, 5, 8, 13, 30}) add("uniform_" + std::to_string(n), n, n, 0);
  add("uniform_3x7", 3, 7, 0);
  add("uniform_7x3", 7, 3, 0);
  add("uniform_1x6", 1, 6, 0);
  add("uniform_6x1", 6, 1, 0);
  add("uniform_20x45", 20, 45, 0);
  add("uniform_45x20", 45, 20, 0);
  add("signed_large_12x12", 12, 12, 3);
  add("ties_6x6", 6, 6, 1);
  add("ties_5x9", 5, 9, 1);
  add("ties_9x5", 9, 5, 1);
  add("ties_16x16_digits", 16, 16, 4);
  add("ties_25x11_digits", 25, 11, 4);
  add("all_equal_4x4", 4, 4, 2);
  add("all_equal_3x5", 3, 5, 2);
  for (int r = 0; r < 10; ++r) add("ties_random_" + std::to_string(r), 2 + r % 7, 2 + (3 * r) % 8, r % 2 ? 1 : 4);
  return cases;
}

void expect_valid_matching(const Assignment& a, int rows, int cols) {
  ASSERT_EQ(a.rows.size(), size_t(std::min(rows, cols)));
  ASSERT_EQ(a.cols.size(), a.rows.size());
  std::set<int> rs(a.rows.begin(), a.rows.end()), cs(a.cols.begin(), a.cols.end());
  EXPECT_EQ(rs.size(), a.rows.size()) << "a row matched twice";
  EXPECT_EQ(cs.size(), a.cols.size()) << "a column matched twice";
  for (size_t t = 0; t < a.rows.size(); ++t) {
    EXPECT_TRUE(a.rows[t] >= 0 && a.rows[t] < rows && a.cols[t] >= 0 && a.cols[t] < cols);
    if (t > 0) EXPECT_LT(a.rows[t - 1], a.rows[t]) << "rows increasing";
  }
}

TEST(HungarianVsScipy, OptimalOnRandomSquareNonSquareAndTiedCosts) {
  SGML_SKIP_WITHOUT_MODULE("scipy.optimize", "SciPy");
  const std::string dir = test::scratch_dir("hungarian");
  const auto cases = assignment_cases();
  nlohmann::json manifest = nlohmann::json::array();
  for (const AssignmentCase& c : cases)
    manifest.push_back({{"name", c.name}, {"rows", c.rows}, {"cols", c.cols}, {"cost", c.cost}});
  write_file_atomically(dir + "/manifest.json", manifest.dump());
  test::run_reference("hungarian_ref.py", {dir + "/manifest.json", dir + "/out.json"});
  std::ifstream in(dir + "/out.json");
  const nlohmann::json ref = nlohmann::json::parse(in);
  int same_cells = 0;
  for (const AssignmentCase& c : cases) {
    SCOPED_TRACE(c.name);
    const Assignment a = linear_sum_assignment(c.cost, c.rows, c.cols);
    expect_valid_matching(a, c.rows, c.cols);
    double recomputed = 0.0;
    for (size_t t = 0; t < a.rows.size(); ++t) recomputed += c.cost[size_t(a.rows[t]) * c.cols + a.cols[t]];
    EXPECT_EQ(a.cost, recomputed);
    const nlohmann::json& r = ref.at(c.name);
    const double want = r.at("cost");
    EXPECT_NEAR(a.cost, want, 1e-9 * (1.0 + std::fabs(want))) << "total cost";
    if (!c.ties) {
      EXPECT_EQ(a.rows, r.at("rows").get<std::vector<int>>());
      EXPECT_EQ(a.cols, r.at("cols").get<std::vector<int>>());
    }
    same_cells += a.cols == r.at("cols").get<std::vector<int>>();
  }
  std::printf("  %zu cases, every total cost equal to scipy's; the same cells in %d (ties may differ)\n",
              cases.size(), same_cells);
}

TEST(Hungarian, EmptyAndTrivialAndBadInput) {
  EXPECT_TRUE(linear_sum_assignment({}, 0, 4).rows.empty());
  EXPECT_TRUE(linear_sum_assignment({}, 3, 0).rows.empty());
  const Assignment one = linear_sum_assignment({-2.5}, 1, 1);
  EXPECT_EQ(one.rows, std::vector<int>{0});
  EXPECT_EQ(one.cost, -2.5);
  EXPECT_NE(test::error_of([] { linear_sum_assignment({1, 2, 3}, 2, 2); }).find("3 costs for a 2 x 2"),
            std::string::npos);
  EXPECT_NE(test::error_of([] { linear_sum_assignment({1, NAN, 3, 4}, 2, 2); }).find("row 0, column 1"),
            std::string::npos);
  EXPECT_NE(test::error_of([] { linear_sum_assignment({1, 2, INFINITY, 4}, 2, 2); }).find("not finite"),
            std::string::npos);
  EXPECT_NE(test::error_of([] { linear_sum_assignment({-1.5e308, 1.5e308}, 1, 2); }).find("overflows"),
            std::string::npos);
}

}  // namespace
