#include "engine/npy.h"

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

Tensor load_npy(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) SGML_FAIL("cannot open '", path, "'");
  char magic[10];
  in.read(magic, 10);
  if (!in || std::string(magic, 6) != "\x93NUMPY") SGML_FAIL("'", path, "' is not a .npy file");
  size_t header_len = 0;
  if (magic[6] == 1) {
    header_len = uint8_t(magic[8]) | (size_t(uint8_t(magic[9])) << 8);
  } else {
    char extra[2];
    in.read(extra, 2);
    header_len = uint8_t(magic[8]) | (size_t(uint8_t(magic[9])) << 8) | (size_t(uint8_t(extra[0])) << 16) |
                 (size_t(uint8_t(extra[1])) << 24);
  }
  std::string header(header_len, '\0');
  in.read(header.data(), header_len);
  if (header.find("'<f4'") == std::string::npos || header.find("'fortran_order': False") == std::string::npos)
    SGML_FAIL("'", path, "': only little-endian float32 C-order arrays are supported (header ", header, ")");
  std::smatch m;
  if (!std::regex_search(header, m, std::regex("'shape': \\(([0-9, ]*)\\)")))
    SGML_FAIL("'", path, "': no shape in header ", header);
  Shape shape;
  const std::string dims = m[1];
  std::regex num("[0-9]+");
  for (auto it = std::sregex_iterator(dims.begin(), dims.end(), num); it != std::sregex_iterator(); ++it)
    shape.push_back(std::stoll(it->str()));
  Tensor t = Tensor::empty(shape);
  in.read(reinterpret_cast<char*>(t.data()), static_cast<std::streamsize>(t.nbytes()));
  if (!in) SGML_FAIL("'", path, "' is truncated: expected ", t.nbytes(), " bytes of data for shape ", shape_str(shape));
  return t;
}

}  // namespace sgml
