#include "engine/npy.h"

#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <regex>

#include "engine/check.h"
#include "engine/safetensors.h"

namespace sgml {

void save_npy(const std::string& path, const Tensor& tensor) {
  SGML_CHECK(tensor.dtype() == DType::F32, "save_npy writes float32 tensors, got ", tensor.str());
  std::string shape = "(";
  for (int64_t d : tensor.shape()) shape += std::to_string(d) + ",";
  if (tensor.ndim() > 1) shape.pop_back();  // "(3,)" for 1-D, "(3,4)" otherwise
  shape += ")";
  std::string header = "{'descr': '<f4', 'fortran_order': False, 'shape': " + shape + ", }";
  // Magic, version, header length, then the header padded with spaces and ended by '\n' to a multiple of 64.
  const size_t prefix = 10;
  header.append(63 - (prefix + header.size()) % 64, ' ');
  header.push_back('\n');
  std::string bytes = "\x93NUMPY";
  bytes.push_back('\x01');
  bytes.push_back('\x00');
  bytes.push_back(char(header.size() & 0xff));
  bytes.push_back(char(header.size() >> 8));
  bytes += header;
  const std::vector<float> values = tensor.to_vector();
  bytes.append(reinterpret_cast<const char*>(values.data()), values.size() * sizeof(float));
  write_file_atomically(path, bytes);
}

namespace {
// The dimensions of a "(2, 3)" shape tuple; each must fit in int64 (Tensor::empty then checks the product).
Shape parse_npy_shape(const std::string& dims, const std::string& path) {
  Shape shape;
  std::regex num("[0-9]+");
  for (auto it = std::sregex_iterator(dims.begin(), dims.end(), num); it != std::sregex_iterator(); ++it) {
    const std::string d = it->str();
    errno = 0;
    const long long v = std::strtoll(d.c_str(), nullptr, 10);
    if (errno == ERANGE) SGML_FAIL("'", path, "': dimension ", d, " of the shape is too large");
    shape.push_back(v);
  }
  return shape;
}
}  // namespace

Tensor load_npy(const std::string& path) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) SGML_FAIL("cannot read '", path, "': it is a directory");
  std::ifstream in(path, std::ios::binary);
  if (!in) SGML_FAIL("cannot open '", path, "'");
  const uint64_t file_size = std::filesystem::file_size(path, ec);
  if (ec) SGML_FAIL("cannot read '", path, "': ", ec.message());
  char magic[12];
  in.read(magic, 10);
  if (!in || std::string(magic, 6) != "\x93NUMPY") SGML_FAIL("'", path, "' is not a .npy file");
  uint64_t header_len = uint8_t(magic[8]) | (uint64_t(uint8_t(magic[9])) << 8), prefix = 10;
  if (magic[6] != 1) {  // versions 2 and 3: a 4-byte header length
    in.read(magic + 10, 2);
    if (!in) SGML_FAIL("'", path, "' is truncated in its .npy header");
    header_len |= (uint64_t(uint8_t(magic[10])) << 16) | (uint64_t(uint8_t(magic[11])) << 24);
    prefix = 12;
  }
  if (header_len > file_size - prefix) SGML_FAIL("'", path, "' is truncated: header length ", header_len, " in a file of ", file_size, " bytes");
  std::string header(header_len, '\0');
  in.read(header.data(), static_cast<std::streamsize>(header_len));
  if (!in) SGML_FAIL("'", path, "' is truncated in its .npy header");
  if (header.find("'<f4'") == std::string::npos || header.find("'fortran_order': False") == std::string::npos)
    SGML_FAIL("'", path, "': only little-endian float32 C-order arrays are supported (header ", header, ")");
  std::smatch m;
  if (!std::regex_search(header, m, std::regex("'shape': \\(([0-9, ]*)\\)")))
    SGML_FAIL("'", path, "': no shape in header ", header);
  const Shape shape = parse_npy_shape(m[1], path);
  // Sized against the file before allocating: a crafted shape cannot ask for more memory than the file holds.
  const uint64_t data_size = file_size - prefix - header_len;
  uint64_t numel = 1, bytes = 0;
  for (int64_t d : shape)
    if (__builtin_mul_overflow(numel, uint64_t(d), &numel)) SGML_FAIL("'", path, "': shape ", shape_str(shape), " overflows");
  const bool overflow = __builtin_mul_overflow(numel, uint64_t(4), &bytes);
  if (overflow || bytes != data_size)
    SGML_FAIL("'", path, "' holds ", data_size, " bytes of data, shape ", shape_str(shape), " needs ",
              overflow ? std::string("more than 2^64") : std::to_string(bytes));
  Tensor t = Tensor::empty(shape);
  in.read(reinterpret_cast<char*>(t.raw_data()), static_cast<std::streamsize>(t.nbytes()));
  if (!in) SGML_FAIL("'", path, "' is truncated: expected ", t.nbytes(), " bytes of data for shape ", shape_str(shape));
  return t;
}

}  // namespace sgml
