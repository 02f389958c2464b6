#include "tests/support/test_support.h"

#include <array>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <mutex>
#include <random>

#include <gtest/gtest.h>

#include "engine/check.h"

namespace sgml::test {

std::string source_dir() { return SGML_SOURCE_DIR; }

std::string file_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

void write_file_text(const std::string& path, const std::string& text) {
  std::ofstream(path, std::ios::binary) << text;
}

RemovedAtExit::~RemovedAtExit() {
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
}

std::string scratch_root(const ::testing::TestInfo* info) {
  // Under the running test's own name, so that tests run in parallel processes never share a folder; a GPU test's
  // stand-in copy (GpuOnCpu.<test>, which ctest -j runs beside the test itself on a GPU machine) has its own.
  std::string test = "no_test";
  if (info) {
    test = std::string(gpu_stand_in() ? "GpuOnCpu." : "") + info->test_suite_name() + "." + info->name();
    for (char& c : test)
      if (c == '/') c = '_';
  }
  return (std::filesystem::path(SGML_BINARY_DIR) / "test_scratch" / test).string();
}

std::string scratch_dir(const std::string& name) {
  namespace fs = std::filesystem;
  fs::path dir = fs::path(scratch_root(::testing::UnitTest::GetInstance()->current_test_info())) / name;
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir.string();
}

std::string reference_python() {
  const char* p = std::getenv("SGML_PYTHON");
  return p && *p ? p : "/usr/bin/python3";
}

std::vector<nlohmann::json> jsonl_records(const std::string& path, const std::string& key) {
  std::ifstream in(path);
  std::vector<nlohmann::json> records;
  for (std::string line; std::getline(in, line);) {
    if (line.empty()) continue;
    nlohmann::json j = nlohmann::json::parse(line);
    if (j.contains(key)) records.push_back(std::move(j));
  }
  return records;
}

int run_command(const std::string& command, std::string* output) {
  std::string full = command + " 2>&1";
  FILE* pipe = popen(full.c_str(), "r");
  if (!pipe) SGML_FAIL("cannot run '", command, "'");
  std::array<char, 4096> buf;
  std::string out;
  size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), pipe)) > 0) out.append(buf.data(), n);
  int status = pclose(pipe);
  if (output) *output = out;
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
}

bool gpu_stand_in() {
  static const bool stand_in = [] {
    const char* value = std::getenv("SGML_TEST_GPU_ON_CPU");
    return value != nullptr && std::string(value) == "1";
  }();
  return stand_in;
}

Device gpu(int index) { return gpu_stand_in() ? Device::cpu() : Device::cuda(index); }

const char* gpu_device_flag() { return gpu_stand_in() ? "cpu" : "cuda"; }

std::string sgml() { return std::string(SGML_BINARY_DIR) + "/sgml"; }

int run_cli(const std::string& command, std::string* output) { return run_command("timeout 600 " + command, output); }

const char* const kSmallLossRun =
    " --model resnet18 --image-size 32 --no-pretrained --steps 3 --classes-per-batch 4 --images-per-class 3"
    " --eval-every -1 --device cpu --workers 1 --seed 3";

bool python_module_available(const std::string& module, std::string* why) {
  static std::mutex mutex;
  static std::map<std::string, std::pair<bool, std::string>> checked;  // module -> (available, output)
  std::lock_guard<std::mutex> lock(mutex);
  auto it = checked.find(module);
  if (it == checked.end()) {
    std::string output;
    const bool available = run_command(reference_python() + " -c 'import " + module + "'", &output) == 0;
    it = checked.emplace(module, std::make_pair(available, output)).first;
  }
  if (!it->second.first && why) *why = reference_python() + " -c 'import " + module + "' failed: " + it->second.second;
  return it->second.first;
}

bool torch_available(std::string* why) { return python_module_available("torch", why); }

bool reference_required() {
  const char* v = std::getenv("SGML_REQUIRE_REFERENCE");
  return v && std::string(v) == "1";
}

void run_reference(const std::string& script, const std::vector<std::string>& args) {
  std::string cmd = reference_python() + " " + source_dir() + "/tests/reference/" + script;
  for (const auto& a : args) cmd += " '" + a + "'";
  std::string out;
  if (run_command(cmd, &out) != 0) SGML_FAIL("reference script failed: ", cmd, "\n", out);
}

Tensor random_tensor(const Shape& shape, unsigned seed, float lo, float hi) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(lo, hi);
  Tensor t = Tensor::empty(shape);
  float* p = t.data();
  for (int64_t i = 0; i < t.numel(); ++i) p[i] = dist(rng);
  return t;
}

double relative_error(const std::vector<float>& a, const std::vector<float>& b) {
  SGML_CHECK(a.size() == b.size(), "relative_error of ", a.size(), " and ", b.size(), " values");
  double num = 0, den = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    if (!std::isfinite(a[i])) return INFINITY;
    double d = double(a[i]) - double(b[i]);
    num += d * d;
    den += double(b[i]) * double(b[i]);
  }
  return std::sqrt(num) / std::max(std::sqrt(den), 1e-12);
}

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

double relative_error(const Tensor& a, const Tensor& b) {
  SGML_CHECK(a.shape() == b.shape(), "relative_error of ", a.str(), " and ", b.str());
  return relative_error(a.to_vector(), b.to_vector());
}

}  // namespace sgml::test
