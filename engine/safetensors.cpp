#include "engine/safetensors.h"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <tuple>

#include "engine/check.h"
#include "engine/json_depth.h"

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

// ---- Reading. A weights file comes from anywhere (the internet), so every field is checked before it sizes or
// places anything: shapes with overflow-checked products, offsets against the data section, and the entries must
// tile the data section exactly (in order, no overlap, no hole, no trailing bytes), as the format requires.

namespace fs = std::filesystem;
using nlohmann::json;

struct Entry {
  std::string name;
  std::string dtype;   // as stored: F32, I32, I64, F16, BF16
  uint64_t elem = 0;   // bytes per stored element
  Shape shape;
  uint64_t numel = 0;
  uint64_t begin = 0, end = 0;  // byte range in the data section
};

// The header as JSON; a key that occurs twice in one object (the parser would silently keep one) is an error, and
// so is nesting deeper than kMaxJsonDepth (engine/json_depth.h).
json parse_header(const std::string& header, const std::string& path) {
  check_json_depth(header, str_cat("'", path, "': the safetensors header"));
  std::vector<std::set<std::string>> seen;  // keys of each open object
  std::vector<std::string> owner;           // the latest key of each open object, to name where a duplicate is
  std::string duplicate;
  json::parser_callback_t callback = [&](int, json::parse_event_t event, json& parsed) {
    if (event == json::parse_event_t::object_start) {
      seen.emplace_back();
      owner.emplace_back();
    } else if (event == json::parse_event_t::object_end && !seen.empty()) {
      seen.pop_back();
      owner.pop_back();
    } else if (event == json::parse_event_t::key && !seen.empty()) {
      const std::string key = parsed.get<std::string>();
      if (!seen.back().insert(key).second && duplicate.empty())
        duplicate = owner.size() >= 2 ? str_cat("entry '", owner[owner.size() - 2], "' has the field '", key, "' twice")
                                      : str_cat("the entry '", key, "' occurs twice");
      owner.back() = key;
    }
    return true;
  };
  json j;
  try {
    j = json::parse(header, callback);
  } catch (const std::exception& e) {
    SGML_FAIL("'", path, "': the safetensors header is not valid JSON: ", e.what());
  }
  if (!duplicate.empty()) SGML_FAIL("'", path, "': in the safetensors header, ", duplicate);
  if (!j.is_object()) SGML_FAIL("'", path, "': the safetensors header is not a JSON object");
  return j;
}

Metadata parse_metadata(const json& m, const std::string& path) {
  if (!m.is_object()) SGML_FAIL("'", path, "': __metadata__ must be an object of strings, got ", m.type_name());
  Metadata out;
  for (auto it = m.begin(); it != m.end(); ++it) {
    if (!it->is_string())
      SGML_FAIL("'", path, "': __metadata__ field '", it.key(), "' must be a string, got ", it->type_name());
    out[it.key()] = it->get<std::string>();
  }
  return out;
}

uint64_t dtype_bytes(const std::string& dtype, const std::string& name, const std::string& path) {
  if (dtype == "F32" || dtype == "I32") return 4;
  if (dtype == "I64") return 8;
  if (dtype == "F16" || dtype == "BF16") return 2;
  SGML_FAIL("'", path, "': entry '", name, "' has dtype ", dtype, "; supported: F32, F16, BF16, I64, I32");
}

Entry parse_entry(const std::string& name, const json& e, const std::string& path) {
  const std::string where = str_cat("'", path, "': entry '", name, "'");
  if (!e.is_object()) SGML_FAIL(where, " is not an object (dtype, shape, data_offsets)");
  for (const char* field : {"dtype", "shape", "data_offsets"})
    if (!e.contains(field)) SGML_FAIL(where, " lacks the field '", field, "'");
  Entry out;
  out.name = name;
  if (!e["dtype"].is_string()) SGML_FAIL(where, " has a dtype that is not a string: ", e["dtype"].dump());
  out.dtype = e["dtype"].get<std::string>();
  out.elem = dtype_bytes(out.dtype, name, path);
  const json& shape = e["shape"];
  if (!shape.is_array()) SGML_FAIL(where, " has a shape that is not an array: ", shape.dump());
  out.numel = 1;
  for (const json& d : shape) {
    // JSON non-negative integers parse as unsigned; negative ones and fractions are refused here.
    if (!d.is_number_unsigned() || d.get<uint64_t>() > uint64_t(INT64_MAX))
      SGML_FAIL(where, " has a bad shape ", shape.dump(), ": dimensions must be integers in [0, 2^63)");
    const uint64_t dim = d.get<uint64_t>();
    if (__builtin_mul_overflow(out.numel, dim, &out.numel) || out.numel > uint64_t(INT64_MAX))
      SGML_FAIL(where, " has shape ", shape.dump(), ", whose element count overflows 64 bits");
    out.shape.push_back(static_cast<int64_t>(dim));
  }
  const json& offs = e["data_offsets"];
  if (!offs.is_array() || offs.size() != 2 || !offs[0].is_number_unsigned() || !offs[1].is_number_unsigned())
    SGML_FAIL(where, " has bad data_offsets ", offs.dump(), ": expected [begin, end], two unsigned integers");
  out.begin = offs[0].get<uint64_t>();
  out.end = offs[1].get<uint64_t>();
  if (out.end < out.begin)
    SGML_FAIL(where, " has data_offsets out of order: begin ", out.begin, " is after end ", out.end);
  uint64_t bytes = 0;
  if (__builtin_mul_overflow(out.numel, out.elem, &bytes) || bytes != out.end - out.begin)
    SGML_FAIL(where, " has ", out.end - out.begin, " bytes of data for ", out.dtype, shape.dump());
  return out;
}

// The entries, sorted by offset, must cover the data section exactly: every byte belongs to one tensor.
void check_layout(std::vector<Entry>& entries, uint64_t data_size, const std::string& path) {
  std::sort(entries.begin(), entries.end(),
            [](const Entry& a, const Entry& b) { return std::tie(a.begin, a.end) < std::tie(b.begin, b.end); });
  for (const Entry& e : entries)
    if (e.end > data_size)
      SGML_FAIL("'", path, "' is truncated: entry '", e.name, "' ends at byte ", e.end, " of a ", data_size,
                "-byte data section");
  uint64_t pos = 0;
  const Entry* previous = nullptr;
  for (const Entry& e : entries) {
    if (e.begin < pos)
      SGML_FAIL("'", path, "': entry '", e.name, "' (bytes ", e.begin, " to ", e.end, ") overlaps entry '",
                previous->name, "' (bytes ", previous->begin, " to ", previous->end, ")");
    if (e.begin > pos)
      SGML_FAIL("'", path, "': bytes ", pos, " to ", e.begin,
                " of the data section belong to no tensor (a hole before entry '", e.name, "')");
    pos = e.end;
    previous = &e;
  }
  if (pos != data_size)
    SGML_FAIL("'", path, "': ", data_size - pos, " trailing bytes after the last tensor (the data section is ",
              data_size, " bytes, the tensors take ", pos, ")");
}

// Reads exactly `n` bytes at `offset`; a short or failed read (e.g. the file shrank) is an error, never data.
void read_exact(std::ifstream& in, uint64_t offset, void* dst, uint64_t n, const std::string& path,
                const std::string& what) {
  if (n == 0) return;
  in.seekg(static_cast<std::streamoff>(offset));
  in.read(static_cast<char*>(dst), static_cast<std::streamsize>(n));
  if (!in || static_cast<uint64_t>(in.gcount()) != n)
    SGML_FAIL("'", path, "': read error in ", what, " (", in.gcount(), " of ", n, " bytes at offset ", offset, ")");
}

Tensor read_tensor(std::ifstream& in, uint64_t data_start, const Entry& e, const std::string& path) {
  const std::string what = str_cat("entry '", e.name, "'");
  if (e.dtype == "F32" || e.dtype == "I32" || e.dtype == "I64") {
    Tensor t = Tensor::empty(e.shape, Device::cpu(),
                             e.dtype == "F32"   ? DType::F32
                             : e.dtype == "I64" ? DType::I64
                                                : DType::I32);
    read_exact(in, data_start + e.begin, t.raw_data(), e.end - e.begin, path, what);
    return t;
  }
  std::vector<uint16_t> half(e.numel);  // numel * 2 == end - begin, within the file
  read_exact(in, data_start + e.begin, half.data(), e.end - e.begin, path, what);
  Tensor t = Tensor::empty(e.shape, Device::cpu(), DType::F32);
  float* out = t.data();
  const bool f16 = e.dtype == "F16";
  for (uint64_t i = 0; i < e.numel; ++i) out[i] = f16 ? half_to_float(half[i]) : bf16_to_float(half[i]);
  return t;
}

uint64_t regular_file_size(const std::string& path) {
  std::error_code ec;
  const fs::file_status st = fs::status(path, ec);
  if (ec || !fs::exists(st)) SGML_FAIL("cannot open weights file '", path, "': it does not exist or is not readable");
  if (fs::is_directory(st)) {
    // A run's folder: its checkpoints are inside.
    std::string inside;
    for (const char* name : {"best.safetensors", "last.safetensors"})
      if (fs::is_regular_file(fs::path(path) / name, ec)) inside += str_cat(inside.empty() ? "" : " or ", "'",
                                                                            (fs::path(path) / name).string(), "'");
    SGML_FAIL("cannot read weights file '", path, "': it is a directory",
              inside.empty() ? std::string() : str_cat(" (a run's folder: give ", inside, ")"));
  }
  if (!fs::is_regular_file(st)) SGML_FAIL("cannot read weights file '", path, "': it is not a regular file");
  const uint64_t size = fs::file_size(path, ec);
  if (ec) SGML_FAIL("cannot read weights file '", path, "': ", ec.message());
  return size;
}

// What a file that is no safetensors file most likely is, from its first bytes, as advice for the message; "" when
// nothing is recognised. A PyTorch file given where our weights are expected is the likely mistake.
std::string foreign_file_advice(const uint8_t* b, size_t n) {
  const auto starts = [&](const char* magic, size_t m) { return n >= m && std::memcmp(b, magic, m) == 0; };
  if (starts("PK\x03\x04", 4) || (n >= 2 && b[0] == 0x80 && b[1] >= 2 && b[1] <= 5))
    return ": it looks like a PyTorch file (torch.save); convert it first: /usr/bin/python3 "
           "tools/convert_torchvision.py FILE.pth OUT.safetensors (weights/README.md)";
  if (starts("\x89PNG", 4) || starts("\xff\xd8\xff", 3)) return ": it is an image (PNG or JPEG), not a weights file";
  return "";
}

}  // namespace

TensorMap load_safetensors(const std::string& path, Metadata* metadata) {
  const uint64_t file_size = regular_file_size(path);
  std::ifstream in(path, std::ios::binary);
  if (!in) SGML_FAIL("cannot open weights file '", path, "'");
  if (file_size < 8)
    SGML_FAIL("'", path, "' is not a safetensors file: ", file_size, " bytes, shorter than the 8-byte header length");
  uint8_t len_bytes[8];
  read_exact(in, 0, len_bytes, 8, path, "the header length");
  uint64_t header_len = 0;
  for (int i = 7; i >= 0; --i) header_len = (header_len << 8) | len_bytes[i];
  if (header_len > file_size - 8 || header_len > (uint64_t(100) << 20)) {
    const std::string advice = foreign_file_advice(len_bytes, 8);
    if (!advice.empty()) SGML_FAIL("'", path, "' is not a safetensors file", advice);
    SGML_FAIL("'", path, "' is not a safetensors file or is truncated: header length ", header_len,
              " does not fit in a file of ", file_size, " bytes");
  }
  std::string header(header_len, '\0');
  read_exact(in, 8, header.data(), header_len, path, "the header");
  const json j = parse_header(header, path);
  const uint64_t data_start = 8 + header_len, data_size = file_size - data_start;

  std::vector<Entry> entries;
  for (auto it = j.begin(); it != j.end(); ++it) {
    if (it.key() == "__metadata__") {
      const Metadata m = parse_metadata(it.value(), path);
      if (metadata) *metadata = m;
    } else {
      entries.push_back(parse_entry(it.key(), it.value(), path));
    }
  }
  check_layout(entries, data_size, path);
  TensorMap tensors;
  for (const Entry& e : entries) tensors.emplace(e.name, read_tensor(in, data_start, e, path));
  return tensors;
}

void check_all_finite(const TensorMap& tensors, const std::string& path) {
  std::vector<std::string> bad;
  for (const auto& [name, t] : tensors) {
    if (t.dtype() != DType::F32) continue;
    const Tensor host = t.is_cuda() ? t.to(Device::cpu()) : t;
    const float* p = host.data();
    const int64_t n = host.numel();
    int64_t count = 0;
    for (int64_t i = 0; i < n; ++i) count += !std::isfinite(p[i]);
    if (count > 0) bad.push_back(str_cat("'", name, "' (", count, " of ", n, " values)"));
  }
  if (bad.empty()) return;
  std::string list;
  for (size_t i = 0; i < bad.size() && i < 5; ++i) list += (i ? ", " : "") + bad[i];
  if (bad.size() > 5) list += str_cat(", ... (", bad.size(), " tensors in all)");
  SGML_FAIL("'", path, "' holds non-finite values (NaN or infinity) in ", list,
            "; refusing to load it (was it saved from a run whose loss diverged?)");
}

TensorMap load_weights_file(const std::string& path, Metadata* metadata) {
  TensorMap tensors = load_safetensors(path, metadata);
  check_all_finite(tensors, path);
  return tensors;
}

namespace {
const char* kTempInfix = ".tmp.";  // write_file_atomically's temporary: PATH.tmp.<pid>

// The pid of a temporary `file_name` of `target_name` (TARGET.tmp.<digits>), or -1 when it is not one.
long temporary_owner(const std::string& file_name, const std::string& target_name) {
  const std::string prefix = target_name + kTempInfix;
  if (file_name.size() <= prefix.size() || file_name.size() > prefix.size() + 9 || file_name.rfind(prefix, 0) != 0)
    return -1;
  const std::string digits = file_name.substr(prefix.size());
  if (!std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; })) return -1;
  return std::stol(digits);  // at most 9 digits: fits
}

// A process that no longer exists (or this one, which is not writing `target` while it cleans) left it behind.
bool owner_is_gone(long pid) {
  if (pid == long(::getpid())) return true;
  return pid <= 0 || (::kill(pid_t(pid), 0) != 0 && errno == ESRCH);
}
}  // namespace

std::vector<std::string> remove_stale_temporaries(const std::string& path) {
  const fs::path target(path);
  const fs::path dir = target.has_parent_path() ? target.parent_path() : fs::path(".");
  const std::string name = target.filename().string();
  std::vector<std::string> removed;
  std::error_code ec;
  fs::directory_iterator it(dir, ec), end;
  for (; !ec && it != end; it.increment(ec)) {
    const long pid = temporary_owner(it->path().filename().string(), name);
    std::error_code is_file_ec;
    if (pid < 0 || !it->is_regular_file(is_file_ec) || !owner_is_gone(pid)) continue;
    std::error_code rm;
    if (fs::remove(it->path(), rm)) removed.push_back(it->path().string());
  }
  return removed;
}

void write_file_atomically(const std::string& path, const std::string& bytes) {
  // Every output (checkpoints, --save weights, .npy features, reports) gets the partial copies of an earlier writer
  // killed mid-write (kill -9, power loss) removed here, once the same target is written again: one scan of the folder.
  remove_stale_temporaries(path);
  const std::string tmp = path + kTempInfix + std::to_string(::getpid());
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
  // The rename is in the folder's entry: without syncing the folder too, a power loss could undo it (a checkpoint
  // back to the previous one, a first one gone).
  const fs::path target(path);
  const std::string folder = target.has_parent_path() ? target.parent_path().string() : ".";
  const int fd = ::open(folder.c_str(), O_RDONLY | O_DIRECTORY);
  if (fd < 0) SGML_FAIL("wrote '", path, "' but cannot open its folder to sync it: ", std::strerror(errno));
  const bool synced = ::fsync(fd) == 0;
  const int sync_errno = errno;
  ::close(fd);
  if (!synced) SGML_FAIL("wrote '", path, "' but syncing its folder failed: ", std::strerror(sync_errno));
}

void save_safetensors(const std::string& path, const TensorMap& tensors, const Metadata& metadata) {
  nlohmann::json header = nlohmann::json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  uint64_t offset = 0;
  std::vector<std::pair<const Tensor*, Tensor>> host;  // host copies of device tensors
  for (const auto& [name, t] : tensors) {
    check_defined(t, name.c_str());
    const char* dtype = t.dtype() == DType::F32   ? "F32"
                        : t.dtype() == DType::I64 ? "I64"
                        : t.dtype() == DType::I32 ? "I32"
                                                  : nullptr;
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
