#include "engine/safetensors.h"

#include <cstdio>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <unistd.h>

#include "engine/check.h"

namespace sgml {

namespace {

float half_to_float(uint16_t h) {
  uint32_t sign = (h & 0x8000u) << 16, exp = (h >> 10) & 0x1f, mant = h & 0x3ff, bits;
  if (exp == 0) {
    if (mant == 0) {
      bits = sign;
    } else {  // subnormal: normalise
      exp = 127 - 15 + 1;
      while (!(mant & 0x400)) { mant <<= 1; --exp; }
      bits = sign | (exp << 23) | ((mant & 0x3ff) << 13);
    }
  } else if (exp == 31) {
    bits = sign | 0x7f800000u | (mant << 13);
  } else {
    bits = sign | ((exp + 127 - 15) << 23) | (mant << 13);
  }
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

float bf16_to_float(uint16_t b) {
  uint32_t bits = uint32_t(b) << 16;
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

}  // namespace

TensorMap load_safetensors(const std::string& path, Metadata* metadata) {
  std::ifstream in(path, std::ios::binary);
  if (!in) SGML_FAIL("cannot open weights file '", path, "'");
  in.seekg(0, std::ios::end);
  const uint64_t file_size = static_cast<uint64_t>(in.tellg());
  in.seekg(0);
  if (file_size < 8) SGML_FAIL("'", path, "' is not a safetensors file: ", file_size, " bytes, shorter than the 8-byte header length");
  uint8_t len_bytes[8];
  in.read(reinterpret_cast<char*>(len_bytes), 8);
  uint64_t header_len = 0;
  for (int i = 7; i >= 0; --i) header_len = (header_len << 8) | len_bytes[i];
  if (header_len > file_size - 8 || header_len > (uint64_t(100) << 20))
    SGML_FAIL("'", path, "' is not a safetensors file or is truncated: header length ", header_len,
              " does not fit in a file of ", file_size, " bytes");
  std::string header(header_len, '\0');
  in.read(header.data(), static_cast<std::streamsize>(header_len));
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(header);
  } catch (const std::exception& e) {
    SGML_FAIL("'", path, "': the safetensors header is not valid JSON: ", e.what());
  }
  if (!j.is_object()) SGML_FAIL("'", path, "': the safetensors header is not a JSON object");
  const uint64_t data_start = 8 + header_len, data_size = file_size - data_start;

  TensorMap tensors;
  for (auto it = j.begin(); it != j.end(); ++it) {
    const std::string& name = it.key();
    if (name == "__metadata__") {
      if (metadata && it->is_object())
        for (auto m = it->begin(); m != it->end(); ++m)
          (*metadata)[m.key()] = m->is_string() ? m->get<std::string>() : m->dump();
      continue;
    }
    const auto& e = it.value();
    if (!e.is_object() || !e.contains("dtype") || !e.contains("shape") || !e.contains("data_offsets") ||
        !e["dtype"].is_string() || !e["shape"].is_array() || !e["data_offsets"].is_array() || e["data_offsets"].size() != 2)
      SGML_FAIL("'", path, "': entry '", name, "' lacks dtype, shape or data_offsets");
    const std::string dtype = e["dtype"];
    Shape shape;
    for (const auto& d : e["shape"]) {
      if (!d.is_number_integer() || d.get<int64_t>() < 0) SGML_FAIL("'", path, "': entry '", name, "' has a bad shape ", e["shape"].dump());
      shape.push_back(d.get<int64_t>());
    }
    const auto& offs = e["data_offsets"];
    if (!offs[0].is_number_unsigned() || !offs[1].is_number_unsigned())
      SGML_FAIL("'", path, "': entry '", name, "' has bad data_offsets");
    const uint64_t begin = offs[0], end = offs[1];
    size_t elem = 0;
    if (dtype == "F32" || dtype == "I32") elem = 4;
    else if (dtype == "I64") elem = 8;
    else if (dtype == "F16" || dtype == "BF16") elem = 2;
    else SGML_FAIL("'", path, "': entry '", name, "' has dtype ", dtype, "; supported: F32, F16, BF16, I64, I32");
    const uint64_t numel = static_cast<uint64_t>(shape_numel(shape));
    if (end < begin || end - begin != numel * elem)
      SGML_FAIL("'", path, "': entry '", name, "' has ", end - begin, " bytes of data for ", dtype, shape_str(shape));
    if (end > data_size)
      SGML_FAIL("'", path, "' is truncated: entry '", name, "' ends at byte ", end, " of a ", data_size, "-byte data section");
    std::string raw(end - begin, '\0');
    in.seekg(static_cast<std::streamoff>(data_start + begin));
    in.read(raw.data(), static_cast<std::streamsize>(raw.size()));
    if (!in) SGML_FAIL("'", path, "': read error in entry '", name, "'");
    Tensor t;
    if (dtype == "F32" || dtype == "I64" || dtype == "I32") {
      t = Tensor::empty(shape, Device::cpu(), dtype == "F32" ? DType::F32 : dtype == "I64" ? DType::I64 : DType::I32);
      if (!raw.empty()) std::memcpy(t.raw_data(), raw.data(), raw.size());
    } else {
      t = Tensor::empty(shape, Device::cpu(), DType::F32);
      float* out = t.data();
      const uint16_t* in16 = reinterpret_cast<const uint16_t*>(raw.data());
      for (uint64_t i = 0; i < numel; ++i) out[i] = dtype == "F16" ? half_to_float(in16[i]) : bf16_to_float(in16[i]);
    }
    tensors.emplace(name, std::move(t));
  }
  return tensors;
}

void write_file_atomically(const std::string& path, const std::string& bytes) {
  const std::string tmp = path + ".tmp." + std::to_string(::getpid());
  FILE* f = std::fopen(tmp.c_str(), "wb");
  if (!f) SGML_FAIL("cannot write '", tmp, "': ", std::strerror(errno));
  const bool ok = std::fwrite(bytes.data(), 1, bytes.size(), f) == bytes.size() && std::fflush(f) == 0 &&
                  ::fsync(fileno(f)) == 0;
  const bool closed = std::fclose(f) == 0;
  if (!ok || !closed) {
    std::remove(tmp.c_str());
    SGML_FAIL("writing '", tmp, "' failed (disk full?)");
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    std::remove(tmp.c_str());
    SGML_FAIL("cannot rename '", tmp, "' to '", path, "': ", std::strerror(errno));
  }
}

void save_safetensors(const std::string& path, const TensorMap& tensors, const Metadata& metadata) {
  nlohmann::json header = nlohmann::json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  uint64_t offset = 0;
  std::vector<std::pair<const Tensor*, Tensor>> host;  // host copies of device tensors
  for (const auto& [name, t] : tensors) {
    check_defined(t, name.c_str());
    const char* dtype = t.dtype() == DType::F32 ? "F32" : t.dtype() == DType::I64 ? "I64" : t.dtype() == DType::I32 ? "I32" : nullptr;
    if (!dtype) SGML_FAIL("cannot save '", name, "': unsupported dtype ", dtype_name(t.dtype()));
    header[name] = {{"dtype", dtype}, {"shape", t.shape()}, {"data_offsets", {offset, offset + t.nbytes()}}};
    offset += t.nbytes();
  }
  std::string h = header.dump();
  while ((8 + h.size()) % 8 != 0) h.push_back(' ');  // align the data section to 8 bytes
  std::string bytes;
  bytes.reserve(8 + h.size() + offset);
  uint64_t len = h.size();
  for (int i = 0; i < 8; ++i) bytes.push_back(static_cast<char>((len >> (8 * i)) & 0xff));
  bytes += h;
  for (const auto& [name, t] : tensors) {
    Tensor c = t.is_cuda() ? t.to(Device::cpu()) : t;
    bytes.append(static_cast<const char*>(c.raw_data()), c.nbytes());
  }
  write_file_atomically(path, bytes);
}

}  // namespace sgml
