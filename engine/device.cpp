#include "engine/device.h"

#include "engine/check.h"

namespace sgml {

std::string Device::str() const { return is_cuda() ? str_cat("cuda:", index) : std::string("cpu"); }

Device parse_device(const std::string& text) {
  if (text == "cpu") return Device::cpu();
  if (text == "auto") return cuda_available() ? Device::cuda(0) : Device::cpu();
  if (text == "cuda" || text.rfind("cuda:", 0) == 0) {
    int index = 0;
    if (text.size() > 5) {
      try {
        index = std::stoi(text.substr(5));
      } catch (const std::exception&) {
        SGML_FAIL("bad device '", text, "': expected cpu, cuda, cuda:N or auto");
      }
    }
    if (!cuda_available()) SGML_FAIL("device '", text, "' asked for, but no usable GPU was found (use --device cpu)");
    return Device::cuda(index);
  }
  SGML_FAIL("bad device '", text, "': expected cpu, cuda, cuda:N or auto");
}

size_t dtype_size(DType t) {
  switch (t) {
    case DType::F32: return 4;
    case DType::I64: return 8;
    case DType::I32: return 4;
    case DType::BF16:
    case DType::F16: return 2;
  }
  return 0;
}

const char* dtype_name(DType t) {
  switch (t) {
    case DType::F32: return "F32";
    case DType::I64: return "I64";
    case DType::I32: return "I32";
    case DType::BF16: return "BF16";
    case DType::F16: return "F16";
  }
  return "?";
}

}  // namespace sgml
