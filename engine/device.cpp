#include "engine/device.h"

#include <cctype>
#include <sstream>

#include "engine/check.h"
#include "engine/gpu_memory.h"

namespace sgml {

std::string Device::str() const { return is_cuda() ? str_cat("cuda:", index) : std::string("cpu"); }

// ---------------------------------------------------------------- parsing

int parse_cuda_index(const std::string& text) {
  const auto bad = [&](const char* why) {
    SGML_FAIL("bad device '", text, "': ", why, " (expected cpu, cuda, cuda:N with N = 0, 1, ... or auto)");
  };
  if (text == "cuda") return 0;
  if (text.rfind("cuda:", 0) != 0) bad("not a CUDA device");
  const std::string number = text.substr(5);
  if (number.empty()) bad("no device number after 'cuda:'");
  if (number[0] == '-') bad("a device number cannot be negative");
  for (char c : number)
    if (!std::isdigit(static_cast<unsigned char>(c))) bad("the device number is not a whole number");
  const size_t first = number.find_first_not_of('0');
  if (first != std::string::npos && number.size() - first > 6) bad("the device number is too large");
  return std::stoi(number);  // at most 6 digits: cannot overflow
}

Device parse_device(const std::string& text) {
  if (text == "cpu") return Device::cpu();
  if (text == "auto") {
    if (cuda_available()) return Device::cuda(0);
    if (gpu_required())
      SGML_FAIL("device 'auto': SGML_REQUIRE_GPU is set, but no usable GPU was found: ", cuda_unavailable_reason());
    return Device::cpu();  // cuda_available() has said why, once
  }
  if (text == "cuda" || text.rfind("cuda:", 0) == 0) {
    const int index = parse_cuda_index(text);
    const std::string problem = cuda_device_problem(index);
    if (!problem.empty()) SGML_FAIL("device '", text, "' cannot be used: ", problem, " (use --device cpu)");
    return Device::cuda(index);
  }
  SGML_FAIL("bad device '", text, "': expected cpu, cuda, cuda:N or auto");
}

// ---------------------------------------------------------------- which GPUs this build can run on

std::string compiled_cuda_architectures() {
#if defined(SGML_WITH_CUDA) && defined(SGML_CUDA_ARCHITECTURES)
  return SGML_CUDA_ARCHITECTURES;  // passed by CMake for this file
#else
  return "";
#endif
}

namespace {

// Whether one CMake architecture entry ("80", "86-real", "90a", "100f-virtual", ...) runs on cc major.minor.
bool entry_supports(const std::string& entry, int major, int minor) {
  size_t digits = 0;
  while (digits < entry.size() && std::isdigit(static_cast<unsigned char>(entry[digits]))) ++digits;
  if (digits == 0 || digits > 4) return true;  // "native", "all", "all-major": cannot tell, trust the builder
  const int number = std::stoi(entry.substr(0, digits));
  const int arch_major = number / 10, arch_minor = number % 10;
  std::string rest = entry.substr(digits);
  char variant = 0;  // 'a': this exact device only; 'f': this family (same major)
  if (!rest.empty() && (rest[0] == 'a' || rest[0] == 'f')) {
    variant = rest[0];
    rest = rest.substr(1);
  }
  const bool real = rest != "-virtual", virt = rest != "-real";
  if (variant == 'a') return major == arch_major && minor == arch_minor;
  const bool same_family = major == arch_major && minor >= arch_minor;
  if (variant == 'f') return same_family;
  const bool newer = major > arch_major || same_family;
  return (real && same_family) || (virt && newer);
}

}  // namespace

bool cuda_architectures_support(const std::string& archs, int major, int minor) {
  std::stringstream list(archs);
  std::string entry;
  bool any = false;
  while (std::getline(list, entry, ',')) {
    if (entry.empty()) continue;
    any = true;
    if (entry_supports(entry, major, minor)) return true;
  }
  return !any;
}

std::string cuda_device_problem(int index) {
  std::string why;
  const int count = gpu_device_count(&why);
  if (count == 0) return why;
  if (index < 0 || index >= count)
    return str_cat("cuda:", index, " does not exist: ", count, count == 1 ? " GPU is" : " GPUs are",
                   " visible (cuda:0", count > 1 ? str_cat(" to cuda:", count - 1) : std::string(), ")");
  try {
    const GpuProperties p = gpu_device_properties(index);
    const std::string archs = compiled_cuda_architectures();
    if (!cuda_architectures_support(archs, p.major, p.minor))
      return str_cat("cuda:", index, " (", p.name, ") has compute capability ", p.major, ".", p.minor,
                     ", but this build has GPU code only for architectures ", archs,
                     " (rebuild with -DSGML_CUDA_ARCHITECTURES=", p.major, p.minor, ")");
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

// ---------------------------------------------------------------- element types

size_t dtype_size(DType t) {
  switch (t) {
    case DType::F32: return 4;
    case DType::I64: return 8;
    case DType::I32: return 4;
  }
  return 0;
}

const char* dtype_name(DType t) {
  switch (t) {
    case DType::F32: return "F32";
    case DType::I64: return "I64";
    case DType::I32: return "I32";
  }
  return "?";
}

void synchronize(Device device) {
  if (device.is_cuda()) gpu_synchronize(device.index);
}

}  // namespace sgml
